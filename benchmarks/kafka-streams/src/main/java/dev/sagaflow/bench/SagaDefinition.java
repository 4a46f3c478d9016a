package dev.sagaflow.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** The parts of a Flow Manager saga.json's machineDefinition that drive the state machine. */
final class SagaDefinition {
  record Command(String label, String channel) {}

  record Transition(String inputEvent, String targetState, JsonNode businessEventId) {}

  record State(
      String id,
      boolean isFinal,
      JsonNode businessStateId,
      String businessStateDescription,
      Command outputCommand,
      List<Command> sideEffects,
      Map<String, Transition> transitions) {}

  final String initialState;
  final String creationEvent;
  final Map<String, State> states;
  final String inputTopic;
  final String outputTopic;

  private SagaDefinition(String initialState, String creationEvent, Map<String, State> states, String inputTopic, String outputTopic) {
    this.initialState = initialState;
    this.creationEvent = creationEvent;
    this.states = states;
    this.inputTopic = inputTopic;
    this.outputTopic = outputTopic;
  }

  static SagaDefinition load(String path, ObjectMapper mapper) throws IOException {
    JsonNode root = mapper.readTree(new File(path));
    JsonNode md = root.path("machineDefinition");
    String initial = md.path("initialState").asText(null);
    if (initial == null) throw new IllegalArgumentException(path + ": machineDefinition.initialState is missing");
    String creation = md.path("creationEvent").asText("__created__");

    Map<String, String> businessStateDescriptions = new HashMap<>();
    for (JsonNode bs : md.path("businessStates")) {
      businessStateDescriptions.put(bs.path("id").asText(), bs.path("description").asText(null));
    }

    Map<String, State> states = new HashMap<>();
    for (JsonNode s : md.path("states")) {
      String id = s.path("id").asText();
      Map<String, Transition> transitions = new HashMap<>();
      for (JsonNode t : s.path("outgoingTransitions")) {
        String input = t.path("inputEvent").asText();
        // Flow Manager takes the first transition declared for a label.
        transitions.putIfAbsent(input, new Transition(input, t.path("targetState").asText(), t.get("businessEventId")));
      }
      List<Command> sideEffects = new ArrayList<>();
      for (JsonNode c : s.path("sideEffects")) sideEffects.add(command(c));
      JsonNode bsId = s.get("businessStateId");
      states.put(id, new State(
          id,
          s.path("isFinal").asBoolean(false),
          bsId,
          bsId == null ? null : businessStateDescriptions.get(bsId.asText()),
          s.hasNonNull("outputCommand") ? command(s.get("outputCommand")) : null,
          sideEffects,
          transitions));
    }
    if (!states.containsKey(initial)) throw new IllegalArgumentException(path + ": initialState '" + initial + "' is not a state");
    for (State s : states.values()) {
      for (Transition t : s.transitions().values()) {
        if (!states.containsKey(t.targetState())) {
          throw new IllegalArgumentException(path + ": state '" + s.id() + "' targets unknown state '" + t.targetState() + "'");
        }
      }
    }

    String in = null;
    String out = null;
    for (JsonNode p : root.path("communicationProtocols")) {
      if (!"kafka".equals(p.path("type").asText())) continue;
      JsonNode conf = p.path("configurations");
      if (in == null && conf.path("inputTopics").size() > 0) in = conf.path("inputTopics").get(0).asText();
      if (out == null && conf.path("outputTopics").size() > 0) out = conf.path("outputTopics").get(0).asText();
    }
    return new SagaDefinition(initial, creation, Map.copyOf(states), in, out);
  }

  private static Command command(JsonNode c) {
    return new Command(c.path("label").asText(), c.path("channel").asText(null));
  }
}
