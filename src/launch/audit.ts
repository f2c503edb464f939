/**
 * The launch audit trail: every registration and each use of a launch (authorize, token, success
 * or error) is appended to `audit_event`. Writes are queued and flushed in batches (every 200 ms or
 * 500 records, and on close) so that auditing never limits registration throughput; a process crash
 * can lose at most the last unflushed batch of audit records, never a launch. The queue is shared
 * by both backends (`QueuedAuditLog`); a backend only supplies the batch insert and the queries.
 */
import type { AuditSourceQuery, AuditSourceRecord } from '../fhir/audit-source.js';
import type { Sqlite } from '../storage/sqlite/open.js';

export type AuditAction = AuditSourceRecord['action'];

/** A record to append; `recordedAt` defaults to now. */
export interface AuditRecord extends Omit<AuditSourceRecord, 'seq' | 'recordedAt'> {
  sandboxKey: number;
  recordedAt?: number;
}

/** A stored record: the shape the FHIR layer serves as AuditEvent (src/fhir/audit-source.ts), plus its sandbox. */
export interface StoredAuditRecord extends AuditSourceRecord {
  sandboxKey: number;
}

export type AuditQuery = AuditSourceQuery;

export interface AuditLog {
  /** Queues a record (never waits for the database). */
  record(r: AuditRecord): void;
  flush(): Promise<void>;
  query(sandboxKey: number, q: AuditQuery): Promise<StoredAuditRecord[]>;
  /** One record of the sandbox by its sequence number. */
  get(sandboxKey: number, seq: number): Promise<StoredAuditRecord | undefined>;
  close(): Promise<void>;
}

/** What a backend supplies to the audit queue. */
export interface AuditSink {
  insertBatch(batch: AuditRecord[]): Promise<void>;
  /** `where` uses positional `?` parameters; newest first, at most `limit`. */
  select(where: string[], args: (string | number)[], limit: number): Promise<Record<string, any>[]>;
  readonly open: boolean;
}

/** Batches records in memory and hands them to the sink (every 200 ms or 500 records, and on close). */
export class QueuedAuditLog implements AuditLog {
  private queue: AuditRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<void> = Promise.resolve();
  constructor(
    private readonly sink: AuditSink,
    private readonly opts = { intervalMs: 200, maxBatch: 500 },
  ) {}

  record(r: AuditRecord): void {
    this.queue.push({ ...r, recordedAt: r.recordedAt ?? Date.now() });
    if (this.queue.length >= this.opts.maxBatch) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.opts.intervalMs);
      this.timer.unref();
    }
  }

  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queue.length === 0 || !this.sink.open) return this.inflight;
    const batch = this.queue;
    this.queue = [];
    // Serialized; a failed batch (database away) is put back to be retried by the next flush.
    this.inflight = this.inflight.then(() =>
      this.sink.insertBatch(batch).catch(() => {
        this.queue.unshift(...batch);
        if (!this.timer) {
          this.timer = setTimeout(() => void this.flush(), 1000);
          this.timer.unref();
        }
      }),
    );
    return this.inflight;
  }

  async query(sandboxKey: number, q: AuditQuery): Promise<StoredAuditRecord[]> {
    await this.flush();
    const filters: [string, string | number | undefined][] = [
      ['recorded_at >= ?', q.since],
      ['recorded_at < ?', q.until],
      ['client_id = ?', q.clientId],
      ['patient = ?', q.patient],
      ['outcome = ?', q.outcome],
      ['launch_hash = ?', q.launchHash],
      ['seq < ?', q.beforeSeq],
    ];
    const where = ['tenant = ?'];
    const args: (string | number)[] = [sandboxKey];
    for (const [sql, value] of filters) {
      if (value === undefined) continue;
      where.push(sql);
      args.push(value);
    }
    const rows = await this.sink.select(where, args, Math.min(q.limit ?? 100, 1000));
    return rows.map(toStoredRecord);
  }

  async get(sandboxKey: number, seq: number): Promise<StoredAuditRecord | undefined> {
    await this.flush();
    const [row] = await this.sink.select(['tenant = ?', 'seq = ?'], [sandboxKey, seq], 1);
    return row ? toStoredRecord(row) : undefined;
  }

  async close(): Promise<void> {
    await this.flush();
  }
}

/** The SQLite audit sink (one synchronous transaction per batch). */
export class SqliteAuditLog extends QueuedAuditLog {
  constructor(db: Sqlite, opts?: { intervalMs: number; maxBatch: number }) {
    const insert = db.prepare(
      `INSERT INTO audit_event (tenant, recorded_at, action, outcome, client_id, username, patient, launch_hash, detail)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    super(
      {
        get open() {
          return db.open;
        },
        async insertBatch(batch) {
          db.transaction(() => {
            for (const r of batch)
              insert.run(r.sandboxKey, r.recordedAt, r.action, r.outcome, r.clientId ?? null, r.username ?? null, r.patient ?? null, r.launchHash ?? null, r.detail ?? null);
          })();
        },
        async select(where, args, limit) {
          return db.prepare(`SELECT * FROM audit_event WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT ?`).all(...args, limit) as Record<string, any>[];
        },
      },
      opts,
    );
  }
}

function toStoredRecord(r: Record<string, any>): StoredAuditRecord {
  return {
    seq: Number(r.seq),
    sandboxKey: r.tenant,
    recordedAt: Number(r.recorded_at),
    action: r.action,
    outcome: r.outcome,
    clientId: r.client_id ?? undefined,
    username: r.username ?? undefined,
    patient: r.patient ?? undefined,
    launchHash: r.launch_hash ?? undefined,
    detail: r.detail ?? undefined,
  };
}
