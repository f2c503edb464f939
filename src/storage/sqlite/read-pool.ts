/**
 * Read queries (searches, history, `$everything`) on worker-thread connections with a time budget.
 *
 * better-sqlite3 is synchronous and cannot interrupt a running statement, so a costly query on the
 * server's own connection would hold the event loop — and every other request — until it finished.
 * Here each query runs on a worker thread's read-only connection (WAL: readers never block the writer
 * and see every committed transaction), and the caller's promise settles by its deadline at the
 * latest. A worker past its deadline is abandoned: it is terminated (the thread ends when SQLite
 * returns) and replaced. Connections start on first use, so a CLI command that never searches starts
 * none. So that abandoned workers cannot pile up and eat the CPU, at most
 * `maxAbandoned` may be outstanding; beyond that, queries wait for a worker and fail with
 * `busy` when none frees up within the budget.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { QueryBudgetExceeded } from '../backend.js';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { readonly: true, fileMustExist: true });
db.pragma('busy_timeout = 5000');
db.pragma('cache_size = -32768');
db.pragma('temp_store = MEMORY');
const cache = new Map();
parentPort.postMessage({ ready: true });
parentPort.on('message', ({ id, sql, params, deadline }) => {
  try {
    let st = cache.get(sql);
    if (!st) {
      st = db.prepare(sql);
      if (cache.size > 500) cache.clear();
      cache.set(sql, st);
    }
    // Rows are pulled one by one so that a query returning many rows stops at its deadline even
    // though SQLite itself cannot be interrupted.
    const rows = [];
    let n = 0;
    for (const row of st.iterate(...params)) {
      rows.push(row);
      if ((++n & 255) === 0 && Date.now() > deadline) {
        parentPort.postMessage({ id, timeout: true });
        return;
      }
    }
    parentPort.postMessage({ id, rows });
  } catch (e) {
    parentPort.postMessage({ id, error: { message: String(e && e.message || e), code: e && e.code } });
  }
});
`;

interface Job {
  id: number;
  sql: string;
  params: unknown[];
  resolve: (rows: unknown[]) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
}

interface Slot {
  worker: Worker;
  /** The worker has opened its connection. */
  ready: boolean;
  job?: Job;
}

export interface ReadPoolOptions {
  /** Worker threads (connections); at least 1. */
  size: number;
  /** Time budget of one query, in milliseconds, from the moment it is asked. */
  budgetMs: number;
  /** Abandoned workers (still finishing a query past its deadline) allowed at once. */
  maxAbandoned?: number;
  /** How long a query may wait for a free connection (default 4 × budget, at least 2 s), then it fails as busy. */
  queueMs?: number;
}

export class SqliteReadPool {
  private readonly driver = createRequire(import.meta.url).resolve('better-sqlite3');
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private abandoned = 0;
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly file: string,
    private readonly opts: ReadPoolOptions,
  ) {}

  /** How long a query may wait for a connection: long enough for a cold worker start under load. */
  private get queueMs(): number {
    return this.opts.queueMs ?? Math.max(this.opts.budgetMs * 4, 2000);
  }

  /** Runs one read query; rejects with QueryBudgetExceeded past the budget. */
  all<T>(sql: string, params: unknown[]): Promise<T[]> {
    if (this.closed) return Promise.reject(new Error('the read pool is closed'));
    return new Promise<T[]>((resolve, reject) => {
      const job: Job = { id: this.nextId++, sql, params, resolve: resolve as (rows: unknown[]) => void, reject };
      job.timer = setTimeout(() => this.expire(job), this.queueMs);
      this.queue.push(job);
      this.pump();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) this.settle(job, new Error('the read pool is closed'));
    await Promise.all(this.slots.splice(0).map((s) => s.worker.terminate()));
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const slot = this.idleSlot();
      if (!slot) return;
      const job = this.queue.shift()!;
      slot.job = job;
      // The budget counts from the moment a connection starts on the query.
      clearTimeout(job.timer);
      job.timer = setTimeout(() => this.expire(job), this.opts.budgetMs);
      slot.worker.postMessage({ id: job.id, sql: job.sql, params: job.params, deadline: Date.now() + this.opts.budgetMs });
    }
  }

  private idleSlot(): Slot | undefined {
    const idle = this.slots.find((s) => s.ready && !s.job);
    if (idle) return idle;
    this.refill();
    return undefined;
  }

  /** Starts connections up to the pool size, as long as abandoned workers leave room for them. */
  private refill(): void {
    const limit = this.opts.size + (this.opts.maxAbandoned ?? 1);
    while (!this.closed && this.slots.length < this.opts.size && this.slots.length + this.abandoned < limit) this.spawn();
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver: this.driver, file: this.file } });
    worker.unref();
    const slot: Slot = { worker, ready: false };
    worker.on('message', (m: { ready?: boolean; id: number; rows?: unknown[]; timeout?: boolean; error?: { message: string; code?: string } }) => {
      if (m.ready) {
        slot.ready = true;
        this.pump();
        return;
      }
      const job = slot.job;
      if (!job || job.id !== m.id) return;
      slot.job = undefined;
      if (m.timeout) this.settle(job, new QueryBudgetExceeded(this.opts.budgetMs));
      else if (m.error) this.settle(job, Object.assign(new Error(m.error.message), { code: m.error.code }));
      else this.settle(job, undefined, m.rows);
      this.pump();
    });
    worker.on('error', (e) => {
      // The worker died (it could not open the database, or ran out of memory): fail its query and
      // let the next query start a fresh one.
      this.drop(slot);
      if (slot.job) this.settle(slot.job, e);
      slot.job = undefined;
      // A worker that cannot even start (a broken database file) fails queued queries rather than
      // restarting in a loop.
      if (!slot.ready) for (const job of this.queue.splice(0)) this.settle(job, e);
      else this.refill();
    });
    this.slots.push(slot);
    return slot;
  }

  /** The budget ran out: fail the query, and abandon its worker when it is still running it. */
  private expire(job: Job): void {
    const queued = this.queue.indexOf(job);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      this.settle(job, new QueryBudgetExceeded(this.queueMs, true));
      return;
    }
    const slot = this.slots.find((s) => s.job === job);
    if (!slot) return;
    this.drop(slot);
    slot.job = undefined;
    this.abandoned++;
    slot.worker.once('exit', () => {
      this.abandoned--;
      this.refill();
    });
    void slot.worker.terminate();
    this.settle(job, new QueryBudgetExceeded(this.opts.budgetMs));
    this.refill();
  }

  private drop(slot: Slot): void {
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
  }

  private settle(job: Job, error: Error | undefined, rows?: unknown[]): void {
    if (job.timer) clearTimeout(job.timer);
    job.timer = undefined;
    if (error) job.reject(error);
    else job.resolve(rows ?? []);
  }
}
