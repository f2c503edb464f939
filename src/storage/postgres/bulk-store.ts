/**
 * PostgreSQL store of Bulk Data export jobs (migrations 7 and 9). One active job per client and owner
 * is a partial unique index, so the check-and-insert of a kick-off is one statement and two concurrent
 * kick-offs (on one node or two) cannot both pass.
 */
import type pg from 'pg';
import { type BulkJob, type BulkJobStore, type CreateResult, type NewJob, type Row, toJob } from '../../bulk/store.js';
import { one, query, run } from './pool.js';

export class PgBulkJobStore implements BulkJobStore {
  constructor(private readonly pool: pg.Pool) {}

  async createUnlessActive(j: NewJob): Promise<CreateResult> {
    // The active job may finish between a refused insert and the look-up: try again then.
    for (let attempt = 0; attempt < 3; attempt++) {
      const inserted = await run(
        this.pool,
        `INSERT INTO bulk_job (id, tenant, client_id, owner, status, request_url, request_json, grant_json, transaction_time, created_at)
         VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        [j.id, j.tenant, j.clientId, j.owner, j.requestUrl, JSON.stringify(j.request), JSON.stringify(j.grant), j.transactionTime, Date.now()],
      );
      if (inserted === 1) return { created: true };
      const active = await one<{ id: string }>(
        this.pool,
        "SELECT id FROM bulk_job WHERE tenant = ? AND client_id = ? AND owner = ? AND status IN ('queued', 'running') LIMIT 1",
        [j.tenant, j.clientId, j.owner],
      );
      if (active) return { created: false, activeId: active.id };
    }
    throw new Error('could not create the export job');
  }

  async get(tenant: number, id: string): Promise<BulkJob | undefined> {
    const r = await one<Row>(this.pool, 'SELECT * FROM bulk_job WHERE tenant = ? AND id = ?', [tenant, id]);
    return r ? toJob(r) : undefined;
  }

  async byId(id: string): Promise<BulkJob | undefined> {
    const r = await one<Row>(this.pool, 'SELECT * FROM bulk_job WHERE id = ?', [id]);
    return r ? toJob(r) : undefined;
  }

  async claim(id: string): Promise<boolean> {
    return (
      (await run(this.pool, "UPDATE bulk_job SET status = 'running', started_at = ?, attempts = attempts + 1, progress = NULL WHERE id = ? AND status = 'queued'", [
        Date.now(),
        id,
      ])) === 1
    );
  }

  async setProgress(id: string, text: string): Promise<boolean> {
    return (await run(this.pool, "UPDATE bulk_job SET progress = ? WHERE id = ? AND status = 'running'", [text, id])) === 1;
  }

  async finish(id: string, output: BulkJob['output'], retentionMs: number): Promise<boolean> {
    const now = Date.now();
    return (
      (await run(
        this.pool,
        "UPDATE bulk_job SET status = 'done', finished_at = ?, expires_at = ?, output_json = ?, progress = NULL WHERE id = ? AND status = 'running'",
        [now, now + retentionMs, JSON.stringify(output), id],
      )) === 1
    );
  }

  async fail(id: string, error: string, retentionMs: number): Promise<boolean> {
    const now = Date.now();
    return (
      (await run(
        this.pool,
        "UPDATE bulk_job SET status = 'failed', finished_at = ?, expires_at = ?, error = ?, progress = NULL WHERE id = ? AND status IN ('queued', 'running')",
        [now, now + retentionMs, error, id],
      )) === 1
    );
  }

  async requeue(id: string): Promise<void> {
    await run(this.pool, "UPDATE bulk_job SET status = 'queued', progress = NULL WHERE id = ? AND status = 'running'", [id]);
  }

  async unfinished(): Promise<BulkJob[]> {
    return (await query<Row>(this.pool, "SELECT * FROM bulk_job WHERE status IN ('queued', 'running') ORDER BY created_at")).map(toJob);
  }

  async expired(now: number): Promise<{ id: string; tenant: number }[]> {
    return query(this.pool, 'SELECT id, tenant FROM bulk_job WHERE expires_at IS NOT NULL AND expires_at <= ?', [now]);
  }

  async orphans(): Promise<{ id: string; tenant: number }[]> {
    return query(this.pool, 'SELECT j.id, j.tenant FROM bulk_job j WHERE NOT EXISTS (SELECT 1 FROM sandbox s WHERE s.key = j.tenant AND s.deleted_at IS NULL)');
  }

  async remove(id: string): Promise<boolean> {
    return (await run(this.pool, 'DELETE FROM bulk_job WHERE id = ?', [id])) === 1;
  }

  async tenantJobs(tenant: number): Promise<string[]> {
    return (await query<{ id: string }>(this.pool, 'SELECT id FROM bulk_job WHERE tenant = ?', [tenant])).map((r) => r.id);
  }

  async purge(tenant: number): Promise<void> {
    await run(this.pool, 'DELETE FROM bulk_job WHERE tenant = ?', [tenant]);
  }
}
