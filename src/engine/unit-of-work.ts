import type { OutputRecord } from '../broker/records.ts';
import { recordBytes } from '../broker/records.ts';
import type { SagaDocument } from '../saga/types.ts';
import { TransactionOverlay } from '../store/transaction-overlay.ts';
import type { SagaReader } from '../store/transaction-overlay.ts';

/** What applying one input adds to a unit of work. */
export interface InputOutputs {
  saga?: SagaDocument;
  changelog?: OutputRecord;
  commands: OutputRecord[];
  deadLetters: OutputRecord[];
  /** The input copied to its saga's home partition instead of being applied here. */
  forwarded?: OutputRecord;
}

/**
 * The work of one partition task between two commits: the saga changes (an overlay the
 * store sees only after the commit), the records to write in the transaction (commands,
 * changelog records on the task's partition, dead letters) and the input positions reached.
 * Nothing here touches Kafka: the processor's committer writes it in a transaction, then
 * the task applies the overlay to its store.
 *
 * A saga changed several times in one unit gets one changelog record, its last document (Kafka
 * Streams' record cache does the same): the transaction makes every change of the unit visible
 * at once, so no reader could ever see the intermediate documents, and the store takes only
 * the last one anyway. Commands, dead letters and forwarded events are all kept, in order.
 */
export class UnitOfWork {
  readonly overlay: TransactionOverlay;
  /** Commands, dead letters and forwarded events, in the order the inputs produced them. */
  readonly #outputs: OutputRecord[] = [];
  /** The last changelog record of each saga changed in this unit. */
  readonly #changelog = new Map<string, OutputRecord>();
  #records: OutputRecord[] | undefined;
  /** Key and value bytes of `records`. */
  bytes = 0;
  /** topic -> offset of the next input record, for the inputs this unit consumed. */
  readonly positions = new Map<string, bigint>();
  inputs = 0;
  commands = 0;
  deadLetters = 0;
  forwarded = 0;
  /** Keys of timer-index hints of the timers this unit fired: removed from the store with its commit. */
  readonly firedHints: string[] = [];

  constructor(base: SagaReader) {
    this.overlay = new TransactionOverlay(base);
  }

  /**
   * The records to write: the other outputs first, then one changelog record per changed saga.
   * Built once, when the unit is written (the unit takes no input after it is sealed).
   */
  get records(): readonly OutputRecord[] {
    this.#records ??= [...this.#outputs, ...this.#changelog.values()];
    return this.#records;
  }

  /** Index in `records` of the last changelog record (its offset becomes the store's marker), -1 without one. */
  get lastChangelogIndex(): number {
    return this.#changelog.size === 0 ? -1 : this.#outputs.length + this.#changelog.size - 1;
  }

  /** The changelog value written for `sagaId` in this unit (the encoding of its last document). */
  changelogValue(sagaId: string): Buffer | null | undefined {
    return this.#changelog.get(sagaId)?.value;
  }

  /** Nothing to write and no position moved: no transaction needed. */
  get empty(): boolean {
    return this.#outputs.length === 0 && this.#changelog.size === 0 && this.positions.size === 0 && this.firedHints.length === 0;
  }

  /** Adds what one input record produced; its position moves past it. */
  include(outputs: InputOutputs, topic: string, offset: bigint): void {
    this.includeOutputs(outputs);
    this.positions.set(topic, offset + 1n);
    this.inputs += 1;
  }

  /** Adds what a timer firing produced: no input position moves (a transaction no record caused). */
  includeOutputs(outputs: InputOutputs): void {
    this.#records = undefined;
    if (outputs.saga) this.overlay.set(outputs.saga);
    for (const r of outputs.commands) this.add(r);
    if (outputs.changelog && outputs.saga) {
      const sagaId = outputs.saga.sagaId;
      const replaced = this.#changelog.get(sagaId);
      if (replaced) this.bytes -= recordBytes(replaced);
      this.#changelog.set(sagaId, outputs.changelog);
      this.bytes += recordBytes(outputs.changelog);
    }
    for (const r of outputs.deadLetters) this.add(r);
    if (outputs.forwarded) {
      this.add(outputs.forwarded);
      this.forwarded += 1;
    }
    this.commands += outputs.commands.length;
    this.deadLetters += outputs.deadLetters.length;
  }

  private add(record: OutputRecord): void {
    this.#outputs.push(record);
    this.bytes += recordBytes(record);
  }
}
