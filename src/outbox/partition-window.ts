/**
 * The outbox records of one partition that a dispatcher has received and not yet committed.
 * Deliveries finish out of order (sagas are delivered concurrently), but a consumer position
 * can only say "everything before this offset": the position to commit is the first record
 * not finished yet, or, when all are, past the last one and past the read_committed end the
 * member reported (commit markers have offsets that no record stands for).
 */
export class PartitionWindow {
  private readonly offsets: bigint[] = [];
  private head = 0;
  private readonly finished = new Set<bigint>();
  private next: bigint | undefined;
  private end: bigint | undefined;
  private committedAt: bigint | undefined;

  /** Records received and not finished. */
  get pending(): number {
    return this.offsets.length - this.head - this.finished.size;
  }

  /** Registers a received record; offsets arrive in increasing order. */
  add(offset: bigint): void {
    this.offsets.push(offset);
  }

  /** The record's delivery is over (delivered, or dead-lettered and reported). */
  finish(offset: bigint): void {
    this.finished.add(offset);
    while (this.head < this.offsets.length && this.finished.has(this.offsets[this.head] as bigint)) {
      const done = this.offsets[this.head] as bigint;
      this.finished.delete(done);
      this.next = done + 1n;
      this.head += 1;
    }
    // Keep the array from growing without bound on a partition that never idles.
    if (this.head > 1024 && this.head * 2 > this.offsets.length) {
      this.offsets.splice(0, this.head);
      this.head = 0;
    }
  }

  /** The member has delivered everything of the partition before `position`. */
  reachedEnd(position: bigint): void {
    if (this.end === undefined || position > this.end) this.end = position;
  }

  /** The position to commit now, when it is past the last one committed. */
  commitPosition(): bigint | undefined {
    let position: bigint | undefined;
    if (this.head < this.offsets.length) position = this.offsets[this.head];
    else {
      position = this.next;
      if (this.end !== undefined && (position === undefined || this.end > position)) position = this.end;
    }
    if (position === undefined || (this.committedAt !== undefined && position <= this.committedAt)) return undefined;
    return position;
  }

  committed(position: bigint): void {
    if (this.committedAt === undefined || position > this.committedAt) this.committedAt = position;
  }
}
