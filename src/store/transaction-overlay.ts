import type { SagaDocument } from '../saga/types.ts';

/** Where committed sagas are read from (a `PartitionStore`). */
export interface SagaReader {
  getSaga(sagaId: string): Promise<SagaDocument | undefined>;
  getSagas(sagaIds: readonly string[]): Promise<Map<string, SagaDocument>>;
}

/**
 * The changes of a unit of work not yet committed, kept in memory so that the store never
 * holds uncommitted data. Reads see the unit's own writes first, then what it sits on: the
 * store, or the overlay of an earlier unit whose transaction is still being committed (units
 * chain while a commit is in flight). After commit: `store.applyCommitted(overlay.entries(),
 * offset)`, and the next unit is `rebase`d onto the store; after an abort every unit of the
 * chain is dropped and the store is untouched.
 */
export class TransactionOverlay implements SagaReader {
  #store: SagaReader;
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

  async getSagas(sagaIds: readonly string[]): Promise<Map<string, SagaDocument>> {
    const found = new Map<string, SagaDocument>();
    const rest: string[] = [];
    for (const id of sagaIds) {
      const changed = this.#changed.get(id);
      if (changed) found.set(id, changed);
      else if (this.#read.has(id)) {
        const read = this.#read.get(id);
        if (read) found.set(id, read);
      } else rest.push(id);
    }
    if (rest.length > 0) for (const [id, saga] of await this.#store.getSagas(rest)) found.set(id, saga);
    return found;
  }

  /**
   * Reads from `store` from now on: the unit this overlay sat on has committed and the store
   * holds its changes. Documents read ahead stay valid (they equal what the store holds now).
   */
  rebase(store: SagaReader): void {
    this.#store = store;
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
