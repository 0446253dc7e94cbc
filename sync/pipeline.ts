// The copy pipeline: each changed file is checked at TARGET (many checks in flight), the ones
// that need copying are grouped into batches (one cp process each, `concurrency` at once),
// and each batch installs its copies. Files enter while the walk of SOURCE goes on, so on a
// pass with few changes the copies overlap the walk instead of following it.
import { checkTarget, copyBatch, type CopyContext, type CopyOutcome } from "./copy";
import type { FileEntry } from "./walk";

export const BATCH_FILES = 64; // files per cp process
export const BATCH_BYTES = 512 * 1024 * 1024; // allocated bytes per cp process
/** While the walk goes on, a batch starts early (a cp slot is idle) once it has this many files. */
export const EARLY_BATCH_FILES = 8;

export interface PipelineHooks {
  record: (f: FileEntry, r: CopyOutcome) => void;
  /** A TargetUnreachable (rethrows anything else). */
  lost: (e: unknown) => void;
  /** Stop taking new work (target lost, signal). */
  halted: () => boolean;
}

const alloc = (f: FileEntry) => Math.min(f.size, f.blocks * 512);

export class CopyPipeline {
  private checking: FileEntry[] = []; // to check at TARGET
  private checks = 0; // checks in flight
  private ready: FileEntry[] = []; // need copying, not in a batch yet
  private readyBytes = 0;
  private batches = 0; // batches in flight
  private walkDone = false;
  private failure: unknown;
  private idle?: () => void;

  constructor(private ctx: CopyContext, private concurrency: number, private hooks: PipelineHooks) {}

  add(f: FileEntry): void {
    this.checking.push(f);
    this.pump();
  }

  /** No more files: copy what is left and wait for everything. Rethrows an internal error. */
  async finish(): Promise<void> {
    this.walkDone = true;
    this.pump();
    if (!this.drained()) await new Promise<void>((r) => (this.idle = r));
    if (this.failure !== undefined) throw this.failure;
  }

  private drained(): boolean {
    return this.checks === 0 && this.batches === 0 && this.checking.length === 0 && this.ready.length === 0;
  }

  private fail(e: unknown): void {
    try {
      this.hooks.lost(e);
    } catch (internal) {
      if (this.failure === undefined) this.failure = internal;
    }
  }

  private pump(): void {
    const halted = this.hooks.halted() || this.failure !== undefined;
    if (halted) {
      this.checking = [];
      this.ready = [];
      this.readyBytes = 0;
    }
    while (this.checking.length > 0 && this.checks < this.concurrency * 8) {
      const f = this.checking.shift()!;
      this.checks++;
      checkTarget(this.ctx, f).then(
        (r) => {
          if (r) this.hooks.record(f, r);
          else {
            this.ready.push(f);
            this.readyBytes += alloc(f);
          }
        },
        (e) => this.fail(e),
      ).finally(() => {
        this.checks--;
        this.pump();
      });
    }
    // Twice as many batches in flight as cp slots: one batch installs while the next copies.
    while (this.ready.length > 0 && this.batches < this.concurrency * 2) {
      const ended = this.walkDone && this.checking.length === 0 && this.checks === 0;
      const full = this.ready.length >= BATCH_FILES || this.readyBytes >= BATCH_BYTES;
      const early = this.batches < this.concurrency && this.ready.length >= EARLY_BATCH_FILES;
      if (!ended && !full && !early) break;
      // at the end, what is left is spread over the cp slots
      const per = ended ? Math.max(1, Math.min(BATCH_FILES, Math.ceil(this.ready.length / this.concurrency))) : BATCH_FILES;
      const b: FileEntry[] = [];
      let bytes = 0;
      while (this.ready.length > 0 && b.length < per && (b.length === 0 || bytes + alloc(this.ready[0]) <= BATCH_BYTES)) {
        const f = this.ready.shift()!;
        bytes += alloc(f);
        b.push(f);
      }
      this.readyBytes -= bytes;
      this.batches++;
      copyBatch(this.ctx, b).then(
        (res) => {
          for (const [f, r] of res) this.hooks.record(f, r);
        },
        (e) => this.fail(e),
      ).finally(() => {
        this.batches--;
        this.pump();
      });
    }
    if (this.walkDone && this.drained() && this.idle) {
      const r = this.idle;
      this.idle = undefined;
      r();
    }
  }
}
