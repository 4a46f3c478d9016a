package dev.sagaflow.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;

import java.io.IOException;
import java.time.Instant;
import java.util.Iterator;
import java.util.Map;

/**
 * Applies one event to one saga: the same transition rules as sagaflow's core, on a saga
 * document kept as JSON bytes in a RocksDB store. Commands go downstream to the sink.
 */
final class SagaProcessor implements Processor<String, byte[], String, byte[]> {
  private final SagaDefinition def;
  private final ObjectMapper mapper;
  private final Counters counters;
  private final String storeName;
  private ProcessorContext<String, byte[]> context;
  private KeyValueStore<String, byte[]> store;

  SagaProcessor(SagaDefinition def, ObjectMapper mapper, Counters counters, String storeName) {
    this.def = def;
    this.mapper = mapper;
    this.counters = counters;
    this.storeName = storeName;
  }

  @Override
  public void init(ProcessorContext<String, byte[]> context) {
    this.context = context;
    this.store = context.getStateStore(storeName);
  }

  @Override
  public void process(Record<String, byte[]> record) {
    counters.processed.increment();
    String sagaId = record.key();
    JsonNode event;
    try {
      event = record.value() == null ? null : mapper.readTree(record.value());
    } catch (IOException e) {
      event = null;
    }
    if (sagaId == null || event == null || !event.path("messageLabel").isTextual()) {
      counters.poison.increment();
      return;
    }
    String label = event.get("messageLabel").asText();
    JsonNode payload = event.path("messagePayload");
    String timestamp = Instant.ofEpochMilli(record.timestamp()).toString();
    byte[] stored = store.get(sagaId);

    if (label.equals(def.creationEvent)) {
      if (stored != null) {
        counters.alreadyExists.increment();
        return;
      }
      create(record, sagaId, payload, timestamp);
      return;
    }
    if (stored == null) {
      counters.unknownSaga.increment();
      return;
    }
    ObjectNode saga;
    try {
      saga = (ObjectNode) mapper.readTree(stored);
    } catch (IOException e) {
      throw new IllegalStateException("saga " + sagaId + " in the store is not JSON", e);
    }
    SagaDefinition.State current = def.states.get(saga.path("currentState").asText());
    SagaDefinition.Transition transition = current == null || current.isFinal() ? null : current.transitions().get(label);
    if (transition == null) {
      counters.unexpected.increment();
      return;
    }
    ObjectNode metadata = (ObjectNode) saga.get("metadata");
    if (payload.isObject()) {
      // Flow Manager's default: a shallow (first-level) merge of the payload into metadata.
      Iterator<Map.Entry<String, JsonNode>> fields = payload.fields();
      while (fields.hasNext()) {
        Map.Entry<String, JsonNode> f = fields.next();
        metadata.set(f.getKey(), f.getValue());
      }
    }
    ObjectNode ev = ((ArrayNode) saga.get("history").get("events")).addObject();
    ev.put("event", label);
    ev.put("timestamp", timestamp);
    if (transition.businessEventId() != null) ev.set("businessEventId", transition.businessEventId());
    saga.put("latestEvent", label);
    enter(record, saga, def.states.get(transition.targetState()), timestamp);
    counters.applied.increment();
  }

  private void create(Record<String, byte[]> record, String sagaId, JsonNode payload, String timestamp) {
    ObjectNode saga = mapper.createObjectNode();
    saga.put("sagaId", sagaId);
    saga.put("associatedEntityId", payload.path("associatedEntityId").asText(""));
    JsonNode md = payload.path("metadata");
    saga.set("metadata", md.isObject() ? md.deepCopy() : mapper.createObjectNode());
    saga.put("latestEvent", def.creationEvent);
    ObjectNode history = saga.putObject("history");
    history.putArray("states");
    ObjectNode ev = history.putArray("events").addObject();
    ev.put("event", def.creationEvent);
    ev.put("timestamp", timestamp);
    saga.put("revision", 0);
    saga.put("createdAt", timestamp);
    saga.putArray("commands");
    enter(record, saga, def.states.get(def.initialState), timestamp);
    counters.created.increment();
  }

  private void enter(Record<String, byte[]> record, ObjectNode saga, SagaDefinition.State state, String timestamp) {
    String sagaId = saga.get("sagaId").asText();
    saga.put("currentState", state.id());
    if (state.businessStateId() != null) saga.set("businessStateId", state.businessStateId());
    else saga.remove("businessStateId");
    if (state.businessStateDescription() != null) saga.put("businessStateDescription", state.businessStateDescription());
    else saga.remove("businessStateDescription");
    saga.put("isFinal", state.isFinal());
    ObjectNode st = ((ArrayNode) saga.get("history").get("states")).addObject();
    st.put("state", state.id());
    st.put("timestamp", timestamp);
    if (state.businessStateId() != null) st.set("businessStateId", state.businessStateId());
    long revision = saga.get("revision").asLong() + 1;
    saga.put("revision", revision);
    saga.put("updatedAt", timestamp);

    if (state.outputCommand() != null) emit(record, saga, state, state.outputCommand(), "main", revision, timestamp);
    for (SagaDefinition.Command c : state.sideEffects()) emit(record, saga, state, c, "sideEffect", revision, timestamp);

    try {
      store.put(sagaId, mapper.writeValueAsBytes(saga));
    } catch (IOException e) {
      throw new IllegalStateException("cannot encode saga " + sagaId, e);
    }
    if (state.isFinal()) counters.completed.increment();
  }

  private void emit(Record<String, byte[]> record, ObjectNode saga, SagaDefinition.State state, SagaDefinition.Command c,
      String kind, long revision, String timestamp) {
    ObjectNode cmd = mapper.createObjectNode();
    cmd.put("messageLabel", c.label());
    cmd.set("messagePayload", saga.get("metadata"));
    byte[] value;
    try {
      value = mapper.writeValueAsBytes(cmd);
    } catch (IOException e) {
      throw new IllegalStateException("cannot encode command " + c.label(), e);
    }
    context.forward(new Record<>(saga.get("sagaId").asText(), value, record.timestamp()));
    ObjectNode sent = ((ArrayNode) saga.get("commands")).addObject();
    sent.put("label", c.label());
    if (c.channel() != null) sent.put("channel", c.channel());
    sent.put("kind", kind);
    sent.put("state", state.id());
    sent.put("timestamp", timestamp);
    sent.put("revision", revision);
    counters.commands.increment();
  }
}
