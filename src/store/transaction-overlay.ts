import type { SagaDocument } from '../saga/types.ts';

/** Where committed sagas are read from (a `PartitionStore`). */
export interface SagaReader {
  getSaga(sagaId: string): Promise<SagaDocument | undefined>;
}

/**
 * The changes of the Kafka transaction in progress, kept in memory so that the store never
 * holds uncommitted data. Reads see the transaction's own writes first, then the store.
 * After commit: `store.applyCommitted(overlay.entries(), offset)` then `clear()`; after an
 * abort: `clear()` alone, and the store is untouched.
 */
export class TransactionOverlay {
  readonly #store: SagaReader;
  readonly #changed = new Map<string, SagaDocument>();

  constructor(store: SagaReader) {
    this.#store = store;
  }

  async getSaga(sagaId: string): Promise<SagaDocument | undefined> {
    return this.#changed.get(sagaId) ?? (await this.#store.getSaga(sagaId));
  }

  set(saga: SagaDocument): void {
    this.#changed.set(saga.sagaId, saga);
  }

  /** The latest version of each saga changed in this transaction. */
  entries(): SagaDocument[] {
    return [...this.#changed.values()];
  }

  get size(): number {
    return this.#changed.size;
  }

  clear(): void {
    this.#changed.clear();
  }
}
