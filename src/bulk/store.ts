/**
 * Bulk export jobs: the store interface and its SQLite implementation (migrations 0007 and 0009; the
 * PostgreSQL one is src/storage/postgres/bulk-store.ts, migrations 7 and 9 there). Every query names
 * the tenant, except the start-up and sweeper scans, which act on whole rows by id.
 */
import type { TokenGrant } from '../fhir/access/types.js';
import type { Sqlite } from '../storage/sqlite/open.js';
import type { ExportRequest } from './request.js';

export type JobStatus = 'queued' | 'running' | 'done' | 'failed';

export interface OutputFile {
  type: string;
  /** File name inside the job directory. */
  file: string;
  count: number;
}

/**
 * Who started a job, besides its client: the persona (`user:{sub}`) of a user-facing token, or
 * `client` for a client_credentials token (the system client itself). Two users of one public app
 * are two owners; status, files, cancel and the one-active-job limit go by client AND owner.
 */
export function jobOwner(grant: Pick<TokenGrant, 'sub'>): string {
  return grant.sub !== undefined ? `user:${grant.sub}` : 'client';
}

export interface BulkJob {
  id: string;
  tenant: number;
  clientId: string;
  /** jobOwner() of the kick-off token. */
  owner: string;
  status: JobStatus;
  /** The kick-off URL as the client sent it (the manifest's `request`). */
  requestUrl: string;
  request: ExportRequest;
  grant: TokenGrant;
  /** Epoch ms: the manifest's `transactionTime`; nothing updated later is exported. */
  transactionTime: number;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  /** Epoch ms after which the sweeper deletes the files and the row. */
  expiresAt?: number;
  attempts: number;
  progress?: string;
  output?: { files: OutputFile[]; errors: OutputFile[] };
  error?: string;
}

export interface Row {
  id: string;
  tenant: number;
  client_id: string;
  owner: string;
  status: JobStatus;
  request_url: string;
  request_json: string;
  grant_json: string;
  transaction_time: number;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  expires_at: number | null;
  attempts: number;
  progress: string | null;
  output_json: string | null;
  error: string | null;
}

export function toJob(r: Row): BulkJob {
  return {
    id: r.id,
    tenant: r.tenant,
    clientId: r.client_id,
    owner: r.owner,
    status: r.status,
    requestUrl: r.request_url,
    request: JSON.parse(r.request_json) as ExportRequest,
    grant: JSON.parse(r.grant_json) as TokenGrant,
    transactionTime: r.transaction_time,
    createdAt: r.created_at,
    ...(r.started_at !== null ? { startedAt: r.started_at } : {}),
    ...(r.finished_at !== null ? { finishedAt: r.finished_at } : {}),
    ...(r.expires_at !== null ? { expiresAt: r.expires_at } : {}),
    attempts: r.attempts,
    ...(r.progress !== null ? { progress: r.progress } : {}),
    ...(r.output_json !== null ? { output: JSON.parse(r.output_json) } : {}),
    ...(r.error !== null ? { error: r.error } : {}),
  };
}

export interface NewJob {
  id: string;
  tenant: number;
  clientId: string;
  owner: string;
  requestUrl: string;
  request: ExportRequest;
  grant: TokenGrant;
  transactionTime: number;
}

export type CreateResult = { created: true } | { created: false; activeId: string };

export interface BulkJobStore {
  /**
   * Inserts a queued job unless the client and owner already have an active one (one at a time, IG
   * 2.0 leaves the limit to the server); returns the active job's id when refused. Atomic: two
   * concurrent kick-offs cannot both pass.
   */
  createUnlessActive(j: NewJob): Promise<CreateResult>;
  get(tenant: number, id: string): Promise<BulkJob | undefined>;
  byId(id: string): Promise<BulkJob | undefined>;
  /** queued → running; false when the job is gone or already claimed. */
  claim(id: string): Promise<boolean>;
  /** False when the job is no longer running (cancelled: the row was deleted). */
  setProgress(id: string, text: string): Promise<boolean>;
  finish(id: string, output: BulkJob['output'], retentionMs: number): Promise<boolean>;
  fail(id: string, error: string, retentionMs: number): Promise<boolean>;
  requeue(id: string): Promise<void>;
  unfinished(): Promise<BulkJob[]>;
  expired(now: number): Promise<{ id: string; tenant: number }[]>;
  /** Jobs whose sandbox generation no longer exists (deleted or reset sandboxes). */
  orphans(): Promise<{ id: string; tenant: number }[]>;
  remove(id: string): Promise<boolean>;
  tenantJobs(tenant: number): Promise<string[]>;
  purge(tenant: number): Promise<void>;
}

/** SQLite: synchronous inside (better-sqlite3), resolved promises outside. */
export class SqliteBulkJobStore implements BulkJobStore {
  private readonly s;

  constructor(private readonly db: Sqlite) {
    this.s = {
      active: db.prepare("SELECT id FROM bulk_job WHERE tenant = ? AND client_id = ? AND owner = ? AND status IN ('queued', 'running') LIMIT 1"),
      insert: db.prepare(
        `INSERT INTO bulk_job (id, tenant, client_id, owner, status, request_url, request_json, grant_json, transaction_time, created_at)
         VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?)`,
      ),
      get: db.prepare('SELECT * FROM bulk_job WHERE tenant = ? AND id = ?'),
      byId: db.prepare('SELECT * FROM bulk_job WHERE id = ?'),
      claim: db.prepare("UPDATE bulk_job SET status = 'running', started_at = ?, attempts = attempts + 1, progress = NULL WHERE id = ? AND status = 'queued'"),
      progress: db.prepare("UPDATE bulk_job SET progress = ? WHERE id = ? AND status = 'running'"),
      finish: db.prepare("UPDATE bulk_job SET status = 'done', finished_at = ?, expires_at = ?, output_json = ?, progress = NULL WHERE id = ? AND status = 'running'"),
      fail: db.prepare("UPDATE bulk_job SET status = 'failed', finished_at = ?, expires_at = ?, error = ?, progress = NULL WHERE id = ? AND status IN ('queued', 'running')"),
      requeue: db.prepare("UPDATE bulk_job SET status = 'queued', progress = NULL WHERE id = ? AND status = 'running'"),
      unfinished: db.prepare("SELECT * FROM bulk_job WHERE status IN ('queued', 'running') ORDER BY created_at"),
      expired: db.prepare('SELECT id, tenant FROM bulk_job WHERE expires_at IS NOT NULL AND expires_at <= ?'),
      remove: db.prepare('DELETE FROM bulk_job WHERE id = ?'),
      tenantJobs: db.prepare('SELECT id FROM bulk_job WHERE tenant = ?'),
      purge: db.prepare('DELETE FROM bulk_job WHERE tenant = ?'),
      orphans: db.prepare('SELECT j.id, j.tenant FROM bulk_job j WHERE NOT EXISTS (SELECT 1 FROM sandbox s WHERE s.key = j.tenant AND s.deleted_at IS NULL)'),
    };
  }

  /**
   * Inserts a queued job unless the client and owner already have an active one; returns the active
   * job's id when refused. Check and insert are one transaction, so two concurrent kick-offs cannot
   * both pass.
   */
  async createUnlessActive(j: NewJob): Promise<CreateResult> {
    return this.db.transaction(() => {
      const active = this.s.active.get(j.tenant, j.clientId, j.owner) as { id: string } | undefined;
      if (active) return { created: false as const, activeId: active.id };
      this.s.insert.run(j.id, j.tenant, j.clientId, j.owner, j.requestUrl, JSON.stringify(j.request), JSON.stringify(j.grant), j.transactionTime, Date.now());
      return { created: true as const };
    })();
  }

  async get(tenant: number, id: string): Promise<BulkJob | undefined> {
    const r = this.s.get.get(tenant, id) as Row | undefined;
    return r ? toJob(r) : undefined;
  }

  async byId(id: string): Promise<BulkJob | undefined> {
    const r = this.s.byId.get(id) as Row | undefined;
    return r ? toJob(r) : undefined;
  }

  /** queued → running; false when the job is gone or already claimed. */
  async claim(id: string): Promise<boolean> {
    return this.s.claim.run(Date.now(), id).changes === 1;
  }

  /** False when the job is no longer running (cancelled: the row was deleted). */
  async setProgress(id: string, text: string): Promise<boolean> {
    return this.s.progress.run(text, id).changes === 1;
  }

  async finish(id: string, output: BulkJob['output'], retentionMs: number): Promise<boolean> {
    const now = Date.now();
    return this.s.finish.run(now, now + retentionMs, JSON.stringify(output), id).changes === 1;
  }

  async fail(id: string, error: string, retentionMs: number): Promise<boolean> {
    const now = Date.now();
    return this.s.fail.run(now, now + retentionMs, error, id).changes === 1;
  }

  async requeue(id: string): Promise<void> {
    this.s.requeue.run(id);
  }

  async unfinished(): Promise<BulkJob[]> {
    return (this.s.unfinished.all() as Row[]).map(toJob);
  }

  async expired(now: number): Promise<{ id: string; tenant: number }[]> {
    return this.s.expired.all(now) as { id: string; tenant: number }[];
  }

  /** Jobs whose sandbox generation no longer exists (deleted or reset sandboxes). */
  async orphans(): Promise<{ id: string; tenant: number }[]> {
    return this.s.orphans.all() as { id: string; tenant: number }[];
  }

  async remove(id: string): Promise<boolean> {
    return this.s.remove.run(id).changes === 1;
  }

  async tenantJobs(tenant: number): Promise<string[]> {
    return (this.s.tenantJobs.all(tenant) as { id: string }[]).map((r) => r.id);
  }

  async purge(tenant: number): Promise<void> {
    this.s.purge.run(tenant);
  }
}
