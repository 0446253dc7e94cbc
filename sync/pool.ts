// Bounded concurrency: run `fn` over `items` with at most `limit` in flight.
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const workers: Promise<void>[] = [];
  const n = Math.max(1, Math.min(limit, items.length));
  for (let w = 0; w < n; w++) {
    workers.push(
      (async () => {
        while (next < items.length) {
          const i = next++;
          await fn(items[i], i);
        }
      })(),
    );
  }
  await Promise.all(workers);
}

// A counting semaphore, for limiting one stage of a pipeline.
export class Semaphore {
  private waiters: (() => void)[] = [];
  constructor(private free: number) {}
  async run<R>(fn: () => Promise<R>): Promise<R> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((r) => this.waiters.push(r));
    try {
      return await fn();
    } finally {
      const w = this.waiters.shift();
      if (w) w();
      else this.free++;
    }
  }
}
