/** A bound on work in flight: `acquire` waits while `size` holders are in. */
export class Slots {
  private readonly size: number;
  private used = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`slots: size must be a positive integer, got ${size}`);
    this.size = size;
  }

  get inUse(): number {
    return this.used;
  }

  async acquire(): Promise<void> {
    if (this.used < this.size) {
      this.used += 1;
      return;
    }
    // The slot is handed over by `release`, so `used` does not change here.
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.used -= 1;
  }
}
