package dev.sagaflow.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.state.Stores;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Kafka Streams baseline of sagaflow: events topic -> saga state machine (RocksDB store,
 * changelogged) -> commands topic, exactly_once_v2.
 *
 * <p>Options (each also read from the environment variable in brackets):
 * --bootstrap-servers [BOOTSTRAP_SERVERS], --application-id [APPLICATION_ID],
 * --saga-json [CONFIGURATIONS_FILE_PATH], --events-topic [EVENTS_TOPIC],
 * --commands-topic [COMMANDS_TOPIC], --state-dir [STATE_DIR], --threads [NUM_THREADS],
 * --report-ms [REPORT_MS], and any number of --property key=value for StreamsConfig.
 */
public final class SagaStreamsApp {
  private static final String STORE = "sagas";

  private SagaStreamsApp() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> opts = new HashMap<>();
    Properties extra = new Properties();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (!a.startsWith("--") || i + 1 >= args.length) usage("unexpected argument '" + a + "'");
      String v = args[++i];
      if (a.equals("--property")) {
        int eq = v.indexOf('=');
        if (eq <= 0) usage("--property needs key=value, got '" + v + "'");
        extra.setProperty(v.substring(0, eq), v.substring(eq + 1));
      } else {
        opts.put(a.substring(2), v);
      }
    }
    String bootstrap = opt(opts, "bootstrap-servers", "BOOTSTRAP_SERVERS", "127.0.0.1:9092");
    String appId = opt(opts, "application-id", "APPLICATION_ID", "saga-streams");
    String sagaJson = opt(opts, "saga-json", "CONFIGURATIONS_FILE_PATH", null);
    if (sagaJson == null) usage("--saga-json (or CONFIGURATIONS_FILE_PATH) is required");
    ObjectMapper mapper = new ObjectMapper();
    SagaDefinition def = SagaDefinition.load(sagaJson, mapper);
    String eventsTopic = opt(opts, "events-topic", "EVENTS_TOPIC", def.inputTopic);
    String commandsTopic = opt(opts, "commands-topic", "COMMANDS_TOPIC", def.outputTopic);
    if (eventsTopic == null || commandsTopic == null) usage("events and commands topics: give --events-topic/--commands-topic or kafka inputTopics/outputTopics in saga.json");
    String stateDir = opt(opts, "state-dir", "STATE_DIR", System.getProperty("java.io.tmpdir") + "/kafka-streams");
    int threads = Integer.parseInt(opt(opts, "threads", "NUM_THREADS", "1"));
    long reportMs = Long.parseLong(opt(opts, "report-ms", "REPORT_MS", "1000"));

    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 100);
    props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
    props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, threads);
    props.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");
    props.putAll(extra);

    Counters counters = new Counters();
    Topology topology = new Topology();
    topology.addSource("events", Serdes.String().deserializer(), Serdes.ByteArray().deserializer(), eventsTopic);
    topology.addProcessor("saga", () -> new SagaProcessor(def, mapper, counters, STORE), "events");
    topology.addStateStore(
        Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(STORE), Serdes.String(), Serdes.ByteArray()),
        "saga");
    topology.addSink("commands", commandsTopic, Serdes.String().serializer(), Serdes.ByteArray().serializer(), "saga");

    KafkaStreams streams = new KafkaStreams(topology, props);
    CountDownLatch stopped = new CountDownLatch(1);
    streams.setStateListener((now, before) -> {
      System.out.println("STATE " + now + " (was " + before + ")");
      System.out.flush();
      if (now == KafkaStreams.State.NOT_RUNNING || now == KafkaStreams.State.ERROR) stopped.countDown();
    });
    streams.setUncaughtExceptionHandler(e -> {
      System.err.println("stream thread failed: " + e);
      e.printStackTrace();
      return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });

    ScheduledExecutorService reporter = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "report");
      t.setDaemon(true);
      return t;
    });
    reporter.scheduleAtFixedRate(() -> {
      System.out.println("COUNTS " + counters.line());
      System.out.flush();
    }, reportMs, reportMs, TimeUnit.MILLISECONDS);

    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      streams.close(Duration.ofSeconds(30));
      System.out.println("COUNTS " + counters.line());
      System.out.flush();
    }, "shutdown"));

    System.out.println("starting application.id=" + appId + " events=" + eventsTopic + " commands=" + commandsTopic
        + " threads=" + threads + " stateDir=" + stateDir);
    streams.start();
    stopped.await();
    reporter.shutdownNow();
    System.exit(streams.state() == KafkaStreams.State.ERROR ? 1 : 0);
  }

  private static String opt(Map<String, String> opts, String name, String env, String fallback) {
    String v = opts.get(name);
    if (v == null) v = System.getenv(env);
    return v == null || v.isEmpty() ? fallback : v;
  }

  private static void usage(String message) {
    System.err.println("saga-streams: " + message);
    System.exit(2);
  }
}
