/*
 * What the console and the operator API need from the broker and the processor, as small
 * interfaces: the HTTP layer never imports a Kafka client. The implementations that read
 * Kafka live in src/kafka/, on the broker ports (so on whichever client the engine runs), and
 * are injected through HttpDeps by the runtime.
 */

/** One record of the dead-letter topic, as read (read_committed). */
export interface DeadLetterRecord {
  partition: number;
  offset: string;
  /** The dead-letter record's timestamp, ISO-8601. */
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  /** Every header, the original record's and sagaflow's `sagaflow-*` ones, as UTF-8 text. */
  headers: Record<string, string>;
}

/** An operator's decision about a dead letter, kept in the `<applicationId>-dead-letter-handled` topic. */
export interface HandledMarker {
  action: 'handled' | 'redriven';
  by: string;
  /** ISO-8601. */
  at: string;
  note?: string;
}

/** A dead letter: its record, what sagaflow said about it, and what an operator did with it. */
export interface DeadLetter {
  /** `<partition>-<offset>` in the dead-letter topic. */
  id: string;
  record: DeadLetterRecord;
  code: string;
  reason: string;
  source: { topic: string | null; partition: number | null; offset: string | null };
  handled?: HandledMarker;
}

export interface DeadLetterQuery {
  /** Only these error codes (any of them). */
  codes?: string[];
  /** true: only handled ones; false: only those still to handle; absent: all. */
  handled?: boolean;
  limit: number;
  /** nextCursor of the previous page. */
  cursor?: string;
}

export interface DeadLetterPage {
  /** Newest first. */
  items: DeadLetter[];
  nextCursor?: string;
  /** Dead letters matching the query (all pages). */
  total: number;
  /** Count per code among the dead letters matching `handled` (whatever `codes` says), for filters. */
  codes: { code: string; count: number }[];
  /** Dead letters held for browsing, and how many older ones were let go to bound memory. */
  indexed: number;
  evicted: number;
  /** False when the topic could not be read up to its end in time: the page may miss the newest. */
  complete: boolean;
}

export interface DeadLetterActionResult {
  /** Ids acted on. */
  done: string[];
  /** Ids left alone, each with why. */
  skipped: { id: string; reason: string }[];
}

/**
 * Browse the dead-letter topic, send dead letters back to the events topic, mark them as
 * handled. Errors are SagaflowErrors; a broker that cannot be reached is retryable.
 */
export interface DeadLetterStore {
  list(query: DeadLetterQuery): Promise<DeadLetterPage>;
  get(id: string): Promise<DeadLetter | undefined>;
  /**
   * Produces each dead letter's original key, value and headers (without `sagaflow-*` ones, plus
   * `sagaflow-redriven-from`) to the events topic and marks it `redriven`, atomically per call.
   * A dead letter already handled or redriven is skipped unless `force`; one without a key is
   * skipped (it would only come back).
   */
  redrive(ids: string[], by: string, opts?: { force?: boolean }): Promise<DeadLetterActionResult>;
  markHandled(ids: string[], by: string, note?: string): Promise<DeadLetterActionResult>;
  close(): Promise<void>;
}

/** A member of the processor's consumer group and the partitions it owns. */
export interface GroupMember {
  memberId: string;
  /** The member's advertised HTTP address. */
  url: string;
  partitions: number[];
}

export interface PartitionOffsets {
  partition: number;
  /** The group's committed offset, null when nothing was committed yet. */
  committed: string | null;
  /** Log-end offset of the events topic partition. */
  end: string;
  /** Records between the committed offset (or the log start) and the end. */
  lag: number;
}

/** The processor's consumer group as the broker describes it. */
export interface GroupView {
  members(): Promise<GroupMember[]>;
  offsets(): Promise<PartitionOffsets[]>;
}

/** Counters of this instance's processor, monotonically increasing. */
export interface ProcessorCounters {
  events: number;
  commands: number;
  deadLetters: number;
  transactions: number;
}

/** An event of the events topic keyed by one saga, decoded. */
export interface SagaEventRecord {
  partition: number;
  offset: string;
  /** The record's timestamp, ISO-8601: the timestamp the processor gave the saga's history entry. */
  timestamp: string;
  label: string | null;
  payload: unknown;
  eventId?: string;
  /** Why the record could not be decoded (it was dead-lettered). */
  decodeError?: string;
}

export interface SagaEventsPage {
  events: SagaEventRecord[];
  /** False when the scan stopped at its limit of records or time before reaching `until`. */
  complete: boolean;
  /** Records of the partition read to find them. */
  scanned: number;
}

/**
 * The events a saga received, read back from the events topic (as long as its retention keeps
 * them): the saga document keeps only their merged result.
 */
export interface SagaEventLog {
  eventsOf(sagaId: string, since: string, until: string): Promise<SagaEventsPage>;
}
