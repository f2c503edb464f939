/**
 * WAL checkpoints off the request path. With SQLite's automatic checkpointing, the connection whose
 * commit crosses the WAL threshold copies the WAL back into the database file and fsyncs it, inside
 * that request: measured here at 0.3 ms median per FHIR create but a p99 of 13 ms and pauses up to
 * 90 ms. The server therefore turns automatic checkpoints off on its own connection and runs
 * checkpoints from a worker thread with its own connection. Processes without a worker (the CLI)
 * keep SQLite's automatic checkpoints and the inline bound of wal.ts.
 *
 * Each tick (100 ms) the worker runs a PASSIVE checkpoint, which never blocks readers or writers. A
 * passive checkpoint alone starves under continuous writes (the WAL never starts over, issue 17), so
 * the worker escalates (wal.ts):
 * - past the limit, to TRUNCATE right after the passive one, which then has only the last frames to
 *   copy: it holds writers for that short copy (they wait in their busy handler) and cuts the file to 0;
 *   it retries every 0.5 ms until it finds a gap between two write transactions (at most 100 ms);
 * - when the WAL is fully copied, saw no write for a tick and is still larger than `journal_size_limit`
 *   (SQLite cuts the file back only when the next writer starts it over), also to TRUNCATE, so that a
 *   server whose writes stopped gives the disk back within a few ticks.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Sqlite } from './open.js';
import type { Escalation, WalMonitor } from './wal.js';

const WORKER_SOURCE = `
const fs = require('node:fs');
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
// No busy handler: SQLite's sleeps 1, 2, 5, 10, 15, 20, 25… ms between attempts and keeps missing
// the short gaps between the server's transactions; escalate() polls every 0.5 ms instead.
db.pragma('busy_timeout = 0');
db.pragma('journal_size_limit = ' + workerData.journalSizeLimitBytes);
const walBytes = () => { try { return fs.statSync(workerData.file + '-wal').size; } catch { return 0; } };
const pause = new Int32Array(new SharedArrayBuffer(4));
// TRUNCATE until it finishes or workerData.busyTimeoutMs has passed. An attempt that finds the
// writer busy copies what it can, like PASSIVE, and returns at once; one that finds a reader on an
// old snapshot returns at once too (and lets writers go on).
const escalate = () => {
  const deadline = performance.now() + workerData.busyTimeoutMs;
  for (;;) {
    const r = db.pragma('wal_checkpoint(TRUNCATE)')[0];
    if (r.busy !== 1 || performance.now() >= deadline) return r;
    Atomics.wait(pause, 0, 0, 0.5);
  }
};
let lastFrames = -1;
const tick = () => {
  try {
    const passive = db.pragma('wal_checkpoint(PASSIVE)')[0];
    const bytes = walBytes();
    const idle = passive.log === lastFrames && passive.checkpointed === passive.log;
    lastFrames = passive.log;
    const over = bytes > workerData.limitBytes;
    if (!over && !(idle && bytes > workerData.journalSizeLimitBytes)) return;
    const t0 = performance.now();
    const r = escalate();
    lastFrames = -1;
    if (over) parentPort.postMessage({ kind: 'escalated', bytes, afterBytes: walBytes(), ms: Math.round(performance.now() - t0), busy: r.busy === 1 });
  } catch (e) {
    parentPort.postMessage({ kind: 'error', message: String(e && e.message || e) });
  }
};
const timer = setInterval(tick, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m === 'stop') { clearInterval(timer); tick(); db.close(); parentPort.close(); }
});
`;

export interface Checkpointer {
  stop(): Promise<void>;
}

export interface CheckpointerOptions {
  intervalMs?: number;
  /**
   * How long an escalated checkpoint keeps trying to find no writer and no reader on an old snapshot
   * (default 100 ms); then it gives up and the next tick tries again. Each attempt returns at once
   * when busy, so a long read elsewhere never holds writers off while it waits.
   */
  busyTimeoutMs?: number;
  onError?: (message: string) => void;
  /** A TRUNCATE checkpoint ran because the WAL passed its limit (the caller logs a warning). */
  onEscalation?: (e: Escalation) => void;
}

export function startCheckpointer(db: Sqlite, wal: WalMonitor, opts: CheckpointerOptions = {}): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      driver,
      file: db.name,
      intervalMs: opts.intervalMs ?? 100,
      busyTimeoutMs: opts.busyTimeoutMs ?? 100,
      limitBytes: wal.limits.limitBytes,
      journalSizeLimitBytes: wal.limits.journalSizeLimitBytes,
    },
  });
  worker.unref();
  worker.on('message', (m: { kind: 'error'; message: string } | ({ kind: 'escalated' } & Escalation)) => {
    if (m.kind === 'error') return opts.onError?.(m.message);
    const { kind: _, ...e } = m;
    // Busy because this thread's backstop checkpoint ran at the same moment: nothing to report.
    if (e.busy && wal.bytes() <= wal.limits.limitBytes) return;
    wal.recordEscalation(e);
    opts.onEscalation?.(e);
  });
  // If the worker cannot run, fall back to SQLite's own checkpoints and the inline bound at the limit
  // rather than let the WAL grow.
  const fallback = () => {
    wal.workerStopped();
    if (db.open) db.pragma('wal_autocheckpoint = 1000');
  };
  worker.on('error', (e) => {
    opts.onError?.(e.message);
    fallback();
  });
  db.pragma('wal_autocheckpoint = 0');
  wal.workerStarted();
  return {
    stop: () =>
      new Promise((resolve) => {
        fallback();
        // Unref'd while running so it never keeps a process alive; held while it finishes.
        worker.ref();
        worker.once('exit', () => resolve());
        worker.postMessage('stop');
        setTimeout(() => void worker.terminate(), 5000).unref();
      }),
  };
}
