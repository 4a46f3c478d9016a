import type { SagaDocument } from '../saga/types.ts';

/** Where committed sagas are read from (a `PartitionStore`). */
export interface SagaReader {
  getSaga(sagaId: string): Promise<SagaDocument | undefined>;
  getSagas(sagaIds: readonly string[]): Promise<Map<string, SagaDocument>>;
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
  /**
   * Committed documents read ahead by `prefetch` (undefined: read, and absent). Valid while
   * the overlay lives: the store only changes when this transaction commits, after which
   * the overlay is discarded.
   */
  readonly #read = new Map<string, SagaDocument | undefined>();

  constructor(store: SagaReader) {
    this.#store = store;
  }

  /** Reads the committed documents of a whole fetched batch at once. */
  async prefetch(sagaIds: Iterable<string>): Promise<void> {
    const wanted = [...new Set(sagaIds)].filter((id) => !this.#changed.has(id) && !this.#read.has(id));
    if (wanted.length === 0) return;
    const found = await this.#store.getSagas(wanted);
    for (const id of wanted) this.#read.set(id, found.get(id));
  }

  async getSaga(sagaId: string): Promise<SagaDocument | undefined> {
    const changed = this.#changed.get(sagaId);
    if (changed) return changed;
    if (this.#read.has(sagaId)) return this.#read.get(sagaId);
    return this.#store.getSaga(sagaId);
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
    this.#read.clear();
  }
}
