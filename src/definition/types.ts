/**
 * The saga.json file in the Flow Manager format, after validation and secret resolution.
 * Field names follow Flow Manager exactly so existing configurations load unchanged.
 */
export type BusinessId = string | number;

/**
 * Label sagaflow reserves for the event the outbox dispatcher sends when a command on a rest
 * channel could not be delivered (see src/saga/delivery-failure.ts): no transition may use it.
 */
export const DELIVERY_FAILED_EVENT = '__delivery_failed__';

/**
 * Flow Manager's hook: JavaScript taken from the configuration, an ES module whose default
 * export is a function. sagaflow runs it in a WebAssembly sandbox (src/definition/sandbox.ts).
 */
export interface HookSpec {
  type: 'file';
  /** How `content` is written; `plain` when absent. */
  encoding?: 'plain' | 'base64';
  content: string;
}

/** Where a command comes from in its state: outputCommand, a sideEffects entry, or a parallel branch. */
export type CommandKind = 'main' | 'sideEffect' | 'branch';

export interface CommandSpec {
  label: string;
  /** Id of an entry of `communicationProtocols`. */
  channel: string;
  /** Builds the command's payload: `({saga, messageLabel}) => ({payload})`. Without one the payload is the saga's metadata. */
  hook?: HookSpec;
  /** sagaflow extension: send the command again while the saga stays in the state. */
  retry?: RetrySpec;
}

/** A number of milliseconds, or a string with a unit: `ms`, `s`, `m`, `h`, `d`. */
export type Duration = number | string;

export interface RetrySpec {
  /** Sends in all, the first included. */
  maxAttempts: number;
  /** Delay before the second send. */
  initialDelay: Duration;
  /** Each delay is the previous one times this (default 2). */
  multiplier?: number;
  /** Upper bound of a delay (default: none). */
  maxDelay?: Duration;
}

export interface TimeoutSpec {
  after: Duration;
  /** Delivered to the saga as if a service had sent it. */
  event: string;
}

export interface TransitionSpec {
  inputEvent: string;
  targetState: string;
  businessEventId?: BusinessId;
  /** JSON Schema the event payload must satisfy for the transition to apply. */
  payloadValidationSchema?: Record<string, unknown>;
  /** sagaflow extension (choreography): JSON Schema of the payload choosing among transitions that share an inputEvent. */
  when?: Record<string, unknown>;
}

export interface StateSpec {
  id: string;
  description?: string;
  isFinal: boolean;
  businessStateId?: BusinessId;
  outputCommand?: CommandSpec;
  sideEffects?: CommandSpec[];
  outgoingTransitions?: TransitionSpec[];
  /** sagaflow extension: an event delivered when the saga is still in the state this long after entering it. */
  timeout?: TimeoutSpec;
  /** sagaflow extension (choreography): where an event the state has no transition for leads. */
  onUnexpected?: { targetState: string };
  /** Not valid on a state (it belongs on a command): kept so the check can say where it goes. */
  retry?: unknown;
  /** sagaflow extension: commands sent together on entry, and the join that moves the saga on (src/definition/parallel.ts). */
  parallel?: ParallelSpec;
}

/** One command of a parallel state and the events that answer it. */
export interface ParallelBranchSpec {
  command: CommandSpec;
  /** Any one of these events completes the branch. */
  done: string[];
}

/** How many branches must be complete for the saga to move on: every one, one, or at least n. */
export type JoinSpec = 'all' | 'any' | { atLeast: number };

export interface ParallelSpec {
  branches: ParallelBranchSpec[];
  join: JoinSpec;
  onJoin: { targetState: string };
}

export interface BusinessEntry {
  id: BusinessId;
  description?: string;
}

export interface MachineDefinition {
  initialState: string;
  creationEvent?: string;
  /** sagaflow extension (choreography): labels of the events that create a saga that does not exist. */
  startOn?: string[];
  states: StateSpec[];
  businessStates?: BusinessEntry[];
  businessEvents?: BusinessEntry[];
  /** sagaflow extension: an event delivered to the saga this long after its creation, whatever non-final state it is in. */
  deadline?: TimeoutSpec;
}

export interface SaslConfig {
  mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  username: string;
  password: string;
}

export interface KafkaProtocol {
  id: string;
  type: 'kafka';
  configurations: {
    brokers: string[];
    inputTopics?: string[];
    outputTopics?: string[];
    consumerGroup?: string;
    authenticationProperties?: {
      ssl?: boolean | Record<string, unknown>;
      sasl?: SaslConfig;
    };
    /** sagaflow extension: wire format of this channel. Absent = "json" (Flow Manager's). */
    serialization?: 'json' | 'avro';
    /** sagaflow extension: schema registry used when serialization is "avro". */
    schemaRegistry?: { url: string; auth?: { username: string; password: string } };
    /** sagaflow extension (choreography): the input topics are observed; the saga id is the string at this JSON Pointer into the event value. */
    correlation?: { sagaId: string };
  };
}

/** An HTTP target, as Flow Manager configures REST channels and REST persistency alike. */
export interface RestTarget {
  protocol?: 'http' | 'https';
  endpoint: string;
  method?: 'POST' | 'PUT' | 'PATCH';
  path?: string;
  headers?: Record<string, string>;
  port?: number;
}

export interface RestProtocol {
  id: string;
  type: 'rest';
  configurations: RestTarget;
}

export type CommunicationProtocol = KafkaProtocol | RestProtocol;

export type PersistencyManagement =
  | { type: 'mongo'; configurations: { connectionUri: string; collectionName: string } }
  | {
      type: 'crud';
      configurations: {
        protocol?: 'http' | 'https';
        host: string;
        port?: number;
        collectionName: string;
        headers?: Record<string, string>;
      };
    }
  | { type: 'rest'; configurations: RestTarget }
  | Record<string, never>;

export interface Settings {
  /** Deep merge with lodash mergeWith semantics; `hook` is its customizer. */
  deepMergeMetadata?: { enabled: boolean; hook?: HookSpec };
  /** sagaflow extension: limits of every hook run. */
  hookLimits?: { timeoutMs?: number; memoryMb?: number };
  throwOnUnexpectedEvents?: boolean;
  /** sagaflow extension: how many recent eventIds each saga remembers for duplicate detection. */
  duplicateWindow?: number;
  /** sagaflow extension: how many ignored events (unexpected, rejected, already-final) each saga keeps. */
  ignoredEventsWindow?: number;
}

export interface SagaConfig {
  machineDefinition: MachineDefinition;
  communicationProtocols: CommunicationProtocol[];
  persistencyManagement: PersistencyManagement;
  settings?: Settings;
}
