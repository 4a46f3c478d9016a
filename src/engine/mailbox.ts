/**
 * A task's serial mailbox: record batches, seals for a commit (and, next, timer ticks) run
 * one after the other, each to completion, in the order they were posted. A task's state is
 * only ever touched from inside the mailbox, so no two inputs interleave at an `await`.
 */
export class Mailbox {
  private tail: Promise<unknown> = Promise.resolve();
  private depth = 0;

  post<T>(work: () => Promise<T>): Promise<T> {
    this.depth += 1;
    const run = this.tail.then(work, work);
    this.tail = run.then(
      () => {
        this.depth -= 1;
      },
      () => {
        this.depth -= 1;
      },
    );
    return run;
  }

  /** Items posted and not finished yet. */
  get pending(): number {
    return this.depth;
  }
}
