/** PostgreSQL launch-context store; `consume` is a conditional UPDATE, so exactly one redemption wins across nodes. */
import type pg from 'pg';
import { hashLaunchId, type LaunchStore, type StoredLaunch } from '../../launch/model.js';
import { one, query, run } from './pool.js';
import { type LaunchRow as Row, toLaunch } from '../rows.js';

export class PgLaunchStore implements LaunchStore {
  constructor(private readonly pool: pg.Pool) {}

  async insert(l: StoredLaunch): Promise<void> {
    await run(
      this.pool,
      `INSERT INTO launch_context (tenant, id_hash, client_id, username, parameters, created_at, created_by, expires_at, simulate_error)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [l.sandboxKey, l.idHash, l.clientId ?? null, l.username ?? null, JSON.stringify(l.parameters), l.createdAt, l.createdBy, l.expiresAt, l.simulateError ?? null],
    );
  }

  async find(sandboxKey: number, launchId: string): Promise<StoredLaunch | undefined> {
    const r = await one<Row>(this.pool, 'SELECT * FROM launch_context WHERE tenant = ? AND id_hash = ? AND expires_at > ?', [sandboxKey, hashLaunchId(launchId), Date.now()]);
    return r && toLaunch(r);
  }

  async consume(sandboxKey: number, launchId: string, now = Date.now()): Promise<boolean> {
    return (
      (await run(this.pool, 'UPDATE launch_context SET consumed_at = ? WHERE tenant = ? AND id_hash = ? AND consumed_at IS NULL AND expires_at > ?', [
        now,
        sandboxKey,
        hashLaunchId(launchId),
        now,
      ])) === 1
    );
  }

  async delete(sandboxKey: number, launchId: string): Promise<boolean> {
    return (await run(this.pool, 'DELETE FROM launch_context WHERE tenant = ? AND id_hash = ?', [sandboxKey, hashLaunchId(launchId)])) === 1;
  }

  async recent(sandboxKey: number, limit: number): Promise<StoredLaunch[]> {
    return (await query<Row>(this.pool, 'SELECT * FROM launch_context WHERE tenant = ? ORDER BY created_at DESC LIMIT ?', [sandboxKey, limit])).map(toLaunch);
  }

  async purgeExpired(now = Date.now()): Promise<number> {
    return run(this.pool, 'DELETE FROM launch_context WHERE expires_at <= ?', [now]);
  }

  async purgeSandbox(sandboxKey: number): Promise<void> {
    await run(this.pool, 'DELETE FROM launch_context WHERE tenant = ?', [sandboxKey]);
  }
}
