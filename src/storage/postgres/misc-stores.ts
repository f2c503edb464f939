/** PostgreSQL audit sink and console scenario store. */
import type pg from 'pg';
import { type NewScenario, type Scenario, ScenarioExists, type ScenarioRow, type ScenarioStore, toScenario } from '../../console/scenarios.js';
import { type AuditSink, QueuedAuditLog } from '../../launch/audit.js';
import { one, query, run } from './pool.js';

export function pgAuditLog(pool: pg.Pool, isOpen: () => boolean): QueuedAuditLog {
  const sink: AuditSink = {
    get open() {
      return isOpen();
    },
    async insertBatch(batch) {
      const cols: unknown[][] = [[], [], [], [], [], [], [], [], []];
      for (const r of batch) {
        for (const [i, v] of [r.sandboxKey, r.recordedAt, r.action, r.outcome, r.clientId ?? null, r.username ?? null, r.patient ?? null, r.launchHash ?? null, r.detail ?? null].entries())
          cols[i].push(v);
      }
      await run(
        pool,
        `INSERT INTO audit_event (tenant, recorded_at, action, outcome, client_id, username, patient, launch_hash, detail)
         SELECT * FROM unnest(?::bigint[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[])`,
        cols,
      );
    },
    async select(where, args, limit) {
      return query(pool, `SELECT * FROM audit_event WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT ?`, [...args, limit]);
    },
  };
  return new QueuedAuditLog(sink);
}

export class PgScenarioStore implements ScenarioStore {
  constructor(private readonly pool: pg.Pool) {}

  async list(sandboxKey: number): Promise<Scenario[]> {
    return (await query<ScenarioRow>(this.pool, 'SELECT * FROM console_scenario WHERE tenant = ? ORDER BY name', [sandboxKey])).map(toScenario);
  }

  async get(sandboxKey: number, id: number): Promise<Scenario | undefined> {
    const r = await one<ScenarioRow>(this.pool, 'SELECT * FROM console_scenario WHERE tenant = ? AND id = ?', [sandboxKey, id]);
    return r && toScenario(r);
  }

  async create(sandboxKey: number, s: NewScenario): Promise<Scenario> {
    try {
      const r = await one<ScenarioRow>(
        this.pool,
        'INSERT INTO console_scenario (tenant, name, description, client_id, username, parameters, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *',
        [sandboxKey, s.name, s.description ?? null, s.clientId, s.username ?? null, JSON.stringify(s.parameters), Date.now()],
      );
      return toScenario(r!);
    } catch (e) {
      if ((e as { code?: string }).code === '23505') throw new ScenarioExists(`a scenario named "${s.name}" already exists`);
      throw e;
    }
  }

  async delete(sandboxKey: number, id: number): Promise<boolean> {
    return (await run(this.pool, 'DELETE FROM console_scenario WHERE tenant = ? AND id = ?', [sandboxKey, id])) > 0;
  }

  async markLaunched(sandboxKey: number, id: number, at = Date.now()): Promise<void> {
    await run(this.pool, 'UPDATE console_scenario SET last_launched_at = ? WHERE tenant = ? AND id = ?', [at, sandboxKey, id]);
  }

  async purgeSandbox(sandboxKey: number): Promise<void> {
    await run(this.pool, 'DELETE FROM console_scenario WHERE tenant = ?', [sandboxKey]);
  }
}
