/**
 * The names that create the most new series, in bounded memory whatever the stream: a
 * Misra-Gries summary. Hostile or buggy clients send unbounded numbers of distinct names, so an
 * exact count per name would itself be the leak it is meant to explain.
 *
 * With room for k names, any name seen more than n / (k + 1) times out of n is held, and a held
 * count is at most n / (k + 1) below the true one (never above): the culprit of a series
 * explosion (a tag with a request id, a name with a timestamp) stands out, and names that each
 * make a handful of series cancel out.
 */
export class TopNames {
  private readonly counts = new Map<string, number>();
  private readonly decrement = (count: number, name: string): void => {
    if (count === 1) this.counts.delete(name);
    else this.counts.set(name, count - 1);
  };

  constructor(private readonly capacity: number) {}

  /** Number of names held. */
  get size(): number {
    return this.counts.size;
  }

  add(name: string): void {
    const count = this.counts.get(name);
    if (count !== undefined) this.counts.set(name, count + 1);
    else if (this.counts.size < this.capacity) this.counts.set(name, 1);
    // Full: the newcomer and every held name lose one. Each decrement was paid for by an
    // earlier add, so the pass costs O(1) per add amortised.
    else this.counts.forEach(this.decrement);
  }

  /** The `n` names with the highest counts, highest first (ties by name, for stable output). */
  top(n: number): [name: string, count: number][] {
    return [...this.counts]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .slice(0, n);
  }

  clear(): void {
    this.counts.clear();
  }
}
