/**
 * Memory that model runs take at their peak, and the share of it one HTTP process may have in
 * flight at once, over all its models and workers. Attention holds a score per head for every pair
 * of tokens, so a run's peak grows with the square of its longest input: one 8000-token input of a
 * MiniLM-L6-shaped graph (12 heads) peaked at 6.4 GB, and sixteen workers taking such inputs at
 * once would ask for ~100 GB. Batches wait (the others go ahead) while the runs in flight hold the
 * budget; a run larger than the whole budget still runs, alone.
 */
export class RunMemory {
  private inUse = 0;
  private readonly waiting = new Set<() => void>();

  constructor(readonly budgetBytes: number) {}

  /** Whether a run of `bytes` fits beside those in flight. */
  fits(bytes: number): boolean {
    return this.inUse + bytes <= this.budgetBytes;
  }

  /** No run holds any: one input larger than the whole budget may then run, alone. */
  get idle(): boolean {
    return this.inUse === 0;
  }

  take(bytes: number): void {
    this.inUse += bytes;
  }

  /** Gives back a finished run's share, and lets every batcher that waited for memory try again. */
  give(bytes: number): void {
    this.inUse -= bytes;
    for (const retry of this.waiting) retry();
  }

  /** `retry` runs each time memory is given back. */
  onGiven(retry: () => void): void {
    this.waiting.add(retry);
  }
}
