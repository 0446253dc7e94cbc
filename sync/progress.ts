export interface Summary {
  seen: number;
  copied: number;
  skipped: number; // unchanged (state or target check), target newer, link files, internal
  failed: number;
  changed: number; // source changed while copied: retried next pass
  targetNewer: number;
  odd: number; // symlinks, sockets, fifos, devices: reported, not copied
  bytes: number; // bytes allocated by the copies written
  seconds: number;
  dryRun?: boolean;
  wouldCopy?: number;
}

export function newSummary(): Summary {
  return { seen: 0, copied: 0, skipped: 0, failed: 0, changed: 0, targetNewer: 0, odd: 0, bytes: 0, seconds: 0 };
}

export function human(n: number): string {
  const u = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < u.length - 1) {
    n /= 1000;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${u[i]}`;
}

// A one-line progress bar on a terminal.
export class ProgressBar {
  private timer: NodeJS.Timeout | undefined;
  done = 0;
  constructor(private out: NodeJS.WritableStream & { columns?: number }, private total: number, private s: Summary, private t0: number) {
    this.timer = setInterval(() => this.draw(), 100);
    this.timer.unref();
  }
  draw(): void {
    const width = 30;
    const frac = this.total === 0 ? 1 : this.done / this.total;
    const fill = Math.round(frac * width);
    const line = `[${"#".repeat(fill)}${"-".repeat(width - fill)}] ${this.done}/${this.total} checked, ${this.s.copied} copied, ${human(this.s.bytes)}, ${this.s.failed} failed, ${((Date.now() - this.t0) / 1000).toFixed(1)} s`;
    this.out.write(`\r${line}\x1b[K`);
  }
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.draw();
    this.out.write("\n");
  }
}
