/**
 * The launch audit trail: every registration and each use of a launch (authorize, token, success
 * or error) is appended to `audit_event`. Writes are queued and flushed in batches (every 200 ms or
 * 500 records, and on close) so that auditing never limits registration throughput; a process crash
 * can lose at most the last unflushed batch of audit records, never a launch.
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
  record(r: AuditRecord): void;
  flush(): void;
  query(sandboxKey: number, q: AuditQuery): StoredAuditRecord[];
  /** One record of the sandbox by its sequence number. */
  get(sandboxKey: number, seq: number): StoredAuditRecord | undefined;
  close(): void;
}

export class SqliteAuditLog implements AuditLog {
  private queue: AuditRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly insert;
  constructor(
    private readonly db: Sqlite,
    private readonly opts = { intervalMs: 200, maxBatch: 500 },
  ) {
    this.insert = db.prepare(
      `INSERT INTO audit_event (tenant, recorded_at, action, outcome, client_id, username, patient, launch_hash, detail)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  record(r: AuditRecord): void {
    this.queue.push({ ...r, recordedAt: r.recordedAt ?? Date.now() });
    if (this.queue.length >= this.opts.maxBatch) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.opts.intervalMs);
      this.timer.unref();
    }
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queue.length === 0 || !this.db.open) return;
    const batch = this.queue;
    this.queue = [];
    this.db.transaction(() => {
      for (const r of batch)
        this.insert.run(r.sandboxKey, r.recordedAt, r.action, r.outcome, r.clientId ?? null, r.username ?? null, r.patient ?? null, r.launchHash ?? null, r.detail ?? null);
    })();
  }

  query(sandboxKey: number, q: AuditQuery): StoredAuditRecord[] {
    this.flush();
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
    args.push(Math.min(q.limit ?? 100, 1000));
    const rows = this.db.prepare(`SELECT * FROM audit_event WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT ?`).all(...args) as Record<string, any>[];
    return rows.map(toStoredRecord);
  }

  get(sandboxKey: number, seq: number): StoredAuditRecord | undefined {
    this.flush();
    const row = this.db.prepare('SELECT * FROM audit_event WHERE tenant = ? AND seq = ?').get(sandboxKey, seq) as Record<string, any> | undefined;
    return row ? toStoredRecord(row) : undefined;
  }

  close(): void {
    this.flush();
  }
}

function toStoredRecord(r: Record<string, any>): StoredAuditRecord {
  return {
    seq: r.seq,
    sandboxKey: r.tenant,
    recordedAt: r.recorded_at,
    action: r.action,
    outcome: r.outcome,
    clientId: r.client_id ?? undefined,
    username: r.username ?? undefined,
    patient: r.patient ?? undefined,
    launchHash: r.launch_hash ?? undefined,
    detail: r.detail ?? undefined,
  };
}
