/** PostgreSQL launch-context store; `consume` is a conditional UPDATE, so exactly one redemption wins across nodes. */
import type pg from 'pg';
import type { LaunchStore, StoredLaunch } from '../../launch/model.js';
import { one, query, run } from './pool.js';
import { LAUNCH_COLUMNS, type LaunchRow as Row, launchValues, toLaunch } from '../rows.js';

export class PgLaunchStore implements LaunchStore {
  constructor(private readonly pool: pg.Pool) {}

  async insert(l: StoredLaunch): Promise<void> {
    await run(this.pool, `INSERT INTO launch_context (${LAUNCH_COLUMNS}) VALUES (${LAUNCH_COLUMNS.split(',').map(() => '?').join(', ')})`, launchValues(l));
  }

  async find(sandboxKey: number, idHash: string, now: number): Promise<StoredLaunch | undefined> {
    const r = await one<Row>(this.pool, 'SELECT * FROM launch_context WHERE tenant = ? AND id_hash = ? AND expires_at > ?', [sandboxKey, idHash, now]);
    return r && toLaunch(r);
  }

  async consume(sandboxKey: number, idHash: string, now: number): Promise<boolean> {
    return (
      (await run(this.pool, 'UPDATE launch_context SET consumed_at = ? WHERE tenant = ? AND id_hash = ? AND consumed_at IS NULL AND expires_at > ?', [
        now,
        sandboxKey,
        idHash,
        now,
      ])) === 1
    );
  }

  async delete(sandboxKey: number, idHash: string): Promise<boolean> {
    return (await run(this.pool, 'DELETE FROM launch_context WHERE tenant = ? AND id_hash = ?', [sandboxKey, idHash])) === 1;
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
