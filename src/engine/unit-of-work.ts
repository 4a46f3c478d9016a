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
 */
export class UnitOfWork {
  readonly overlay: TransactionOverlay;
  readonly records: OutputRecord[] = [];
  /** Index in `records` of the last changelog record: its offset becomes the store's marker. */
  lastChangelogIndex = -1;
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

  /** Nothing to write and no position moved: no transaction needed. */
  get empty(): boolean {
    return this.records.length === 0 && this.positions.size === 0 && this.firedHints.length === 0;
  }

  /** Adds what one input record produced; its position moves past it. */
  include(outputs: InputOutputs, topic: string, offset: bigint): void {
    this.includeOutputs(outputs);
    this.positions.set(topic, offset + 1n);
    this.inputs += 1;
  }

  /** Adds what a timer firing produced: no input position moves (a transaction no record caused). */
  includeOutputs(outputs: InputOutputs): void {
    if (outputs.saga) this.overlay.set(outputs.saga);
    for (const r of outputs.commands) this.add(r);
    if (outputs.changelog) {
      this.add(outputs.changelog);
      this.lastChangelogIndex = this.records.length - 1;
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
    this.records.push(record);
    this.bytes += recordBytes(record);
  }
}
