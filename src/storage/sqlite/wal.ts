/**
 * The bound on SQLite's write-ahead log (issue 17). A WAL only starts over from its beginning when a
 * checkpoint has copied every frame and no reader still uses an older snapshot; under continuous
 * writes a PASSIVE checkpoint never finds that moment ("checkpoint starvation", sqlite.org/wal.html
 * §"Avoiding Excessively Large WAL Files") and the file grows without end. So:
 *
 * - every connection sets `journal_size_limit`, which cuts the file back after a reset instead of
 *   leaving it at its high-water mark (sqlite.org/pragma.html#pragma_journal_size_limit);
 * - past `limitBytes` a `wal_checkpoint(TRUNCATE)` copies the rest, waits (busy handler) for the
 *   writer and the readers, and truncates the file to zero (sqlite.org/c3ref/wal_checkpoint_v2.html).
 *
 * The server escalates from its checkpoint worker (checkpointer.ts); the writing connection itself
 * escalates only as a backstop (`inlineLimitBytes`), and in processes without a worker (CLI, import,
 * the bulk-export worker) at the limit.
 */
import fs from 'node:fs';
import type { Sqlite } from './open.js';

export const MIB = 1024 * 1024;
/** Default threshold of the WAL file (`SMART_SANDBOX_WAL_LIMIT`). */
export const DEFAULT_WAL_LIMIT_BYTES = 64 * MIB;

export interface WalLimits {
  /** Past this size the WAL is checkpointed with TRUNCATE. */
  limitBytes: number;
  /** `journal_size_limit`: the size a reset WAL file is cut back to; a quarter of the limit. */
  journalSizeLimitBytes: number;
}

export function walLimits(limitBytes = DEFAULT_WAL_LIMIT_BYTES): WalLimits {
  return { limitBytes, journalSizeLimitBytes: Math.floor(limitBytes / 4) };
}

/** With a checkpoint worker, the writer checkpoints itself only past the limit plus this share. */
export const BACKSTOP_SHARE = 0.25;
/** A failed inline escalation is retried after this many times the time it waited. */
const INLINE_RETRY_FACTOR = 10;
/**
 * The inline escalation waits this long for other connections, not the connection's 5 s: while it
 * waits for readers it holds off every writer (sqlite.org/c3ref/wal_checkpoint_v2.html, RESTART).
 */
const INLINE_BUSY_TIMEOUT_MS = 100;

/** A TRUNCATE checkpoint run because the WAL passed its limit. */
export interface Escalation {
  /** WAL file size before and after. */
  bytes: number;
  afterBytes: number;
  ms: number;
  /** The checkpoint could not finish (the WAL did not start over). */
  busy: boolean;
}

export interface CheckpointResult {
  /** 1 when the checkpoint could not finish (another checkpoint, a writer or an old reader). */
  busy: number;
  /** Frames in the WAL, and how many of them are in the database file. */
  log: number;
  checkpointed: number;
}

export interface WalStatus {
  bytes: number;
  limitBytes: number;
  journalSizeLimitBytes: number;
  /** TRUNCATE checkpoints run because the WAL passed its limit, since this process started. */
  escalations: number;
  lastEscalation?: Escalation & { at: string };
}

/** The size of a database's WAL file in bytes; 0 when there is none. */
export function walFileBytes(dbFile: string): number {
  try {
    return fs.statSync(`${dbFile}-wal`).size;
  } catch {
    return 0;
  }
}

/**
 * The WAL of one connection: its size, the escalations seen, and the inline guard the resource store
 * calls after each committed write.
 */
export class WalMonitor {
  private escalations = 0;
  private lastEscalation: WalStatus['lastEscalation'];
  private retryAfter = 0;
  /** Size past which a committing writer checkpoints itself; raised while a checkpoint worker runs. */
  inlineLimitBytes: number;
  /** Told of each escalation run by the writing connection itself (the server logs a warning). */
  onInlineEscalation: (e: Escalation) => void = () => {};

  constructor(
    private readonly db: Sqlite,
    readonly limits: WalLimits,
    private readonly now: () => number = Date.now,
  ) {
    this.inlineLimitBytes = limits.limitBytes;
  }

  bytes(): number {
    return this.db.memory ? 0 : walFileBytes(this.db.name);
  }

  /** The checkpoint worker took over: the request path checkpoints only as a backstop. */
  workerStarted(): void {
    this.inlineLimitBytes = Math.floor(this.limits.limitBytes * (1 + BACKSTOP_SHARE));
  }

  workerStopped(): void {
    this.inlineLimitBytes = this.limits.limitBytes;
  }

  recordEscalation(e: Escalation): void {
    this.escalations++;
    this.lastEscalation = { at: new Date(this.now()).toISOString(), ...e };
  }

  /**
   * After a committed write (outside any transaction): past the inline limit, checkpoint with
   * TRUNCATE on this connection. Returns the escalation when one ran.
   */
  afterCommit(): WalStatus['lastEscalation'] | undefined {
    if (this.db.inTransaction || !this.db.open) return undefined;
    const bytes = this.bytes();
    if (bytes <= this.inlineLimitBytes || this.now() < this.retryAfter) return undefined;
    const t0 = performance.now();
    const r = truncateCheckpoint(this.db, INLINE_BUSY_TIMEOUT_MS);
    const ms = performance.now() - t0;
    const e = { bytes, afterBytes: this.bytes(), ms: Math.round(ms), busy: r.busy === 1 };
    if (e.busy) {
      // Another checkpoint (the worker's) held the checkpoint lock: that answer is immediate, and the
      // next commit tries again. A reader on an old snapshot, or another process's writer, held it up
      // to the busy timeout: retry only after ten times that, so that failing attempts cost at most a
      // tenth of the writer's time.
      this.retryAfter = this.now() + INLINE_RETRY_FACTOR * ms;
      if (ms < INLINE_BUSY_TIMEOUT_MS / 2 || e.afterBytes <= this.limits.limitBytes) return undefined;
    }
    this.recordEscalation(e);
    this.onInlineEscalation(e);
    return this.lastEscalation;
  }

  status(): WalStatus {
    return {
      bytes: this.bytes(),
      limitBytes: this.limits.limitBytes,
      journalSizeLimitBytes: this.limits.journalSizeLimitBytes,
      escalations: this.escalations,
      ...(this.lastEscalation ? { lastEscalation: this.lastEscalation } : {}),
    };
  }
}

/** `wal_checkpoint(TRUNCATE)` waiting at most `busyTimeoutMs` for other connections. */
export function truncateCheckpoint(db: Sqlite, busyTimeoutMs: number): CheckpointResult {
  const previous = db.pragma('busy_timeout', { simple: true }) as number;
  db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  try {
    return (db.pragma('wal_checkpoint(TRUNCATE)') as CheckpointResult[])[0];
  } finally {
    db.pragma(`busy_timeout = ${previous}`);
  }
}

/**
 * One warning per minute at most while the WAL keeps passing its limit (a sustained load escalates
 * every few seconds); the warning counts the escalations it stands for.
 */
export class WalWarnings {
  private lastAt = Number.NEGATIVE_INFINITY;
  private suppressed = 0;

  constructor(
    private readonly log: (line: string) => void,
    private readonly now: () => number = Date.now,
    private readonly intervalMs = 60_000,
  ) {}

  escalated(limits: WalLimits, e: Escalation, where: string): void {
    const t = this.now();
    if (t - this.lastAt < this.intervalMs && !e.busy) {
      this.suppressed++;
      return;
    }
    const more = this.suppressed > 0 ? ` (${this.suppressed} more since the last warning)` : '';
    const outcome = e.busy
      ? `it could not finish (a writer or a reader on an old snapshot held it ${e.ms} ms); the WAL is ${mib(e.afterBytes)}`
      : `now ${mib(e.afterBytes)} after ${e.ms} ms`;
    this.log(`warning: SQLite WAL reached ${mib(e.bytes)}, past its limit of ${mib(limits.limitBytes)}: ${where} ran a TRUNCATE checkpoint, ${outcome}${more}`);
    this.lastAt = t;
    this.suppressed = 0;
  }
}

function mib(bytes: number): string {
  return `${(bytes / MIB).toFixed(1)} MiB`;
}
