import type { LaunchStore, StoredLaunch } from '../../launch/model.js';
import type { Sqlite } from './open.js';
import { LAUNCH_COLUMNS, type LaunchRow as Row, launchValues, toLaunch } from '../rows.js';

export class SqliteLaunchStore implements LaunchStore {
  private readonly ins;
  private readonly sel;
  private readonly con;
  private readonly del;
  constructor(private readonly db: Sqlite) {
    this.ins = db.prepare(`INSERT INTO launch_context (${LAUNCH_COLUMNS}) VALUES (${LAUNCH_COLUMNS.split(',').map(() => '?').join(', ')})`);
    this.sel = db.prepare('SELECT * FROM launch_context WHERE tenant = ? AND id_hash = ? AND expires_at > ?');
    // Conditional update: of two concurrent redemptions exactly one changes a row.
    this.con = db.prepare(
      'UPDATE launch_context SET consumed_at = ? WHERE tenant = ? AND id_hash = ? AND consumed_at IS NULL AND expires_at > ?',
    );
    this.del = db.prepare('DELETE FROM launch_context WHERE tenant = ? AND id_hash = ?');
  }

  async insert(l: StoredLaunch): Promise<void> {
    this.ins.run(...launchValues(l));
  }

  async find(sandboxKey: number, idHash: string, now: number): Promise<StoredLaunch | undefined> {
    const r = this.sel.get(sandboxKey, idHash, now) as Row | undefined;
    return r && toLaunch(r);
  }

  async consume(sandboxKey: number, idHash: string, now: number): Promise<boolean> {
    return this.con.run(now, sandboxKey, idHash, now).changes === 1;
  }

  async delete(sandboxKey: number, idHash: string): Promise<boolean> {
    return this.del.run(sandboxKey, idHash).changes === 1;
  }

  async recent(sandboxKey: number, limit: number): Promise<StoredLaunch[]> {
    return (
      this.db.prepare('SELECT * FROM launch_context WHERE tenant = ? ORDER BY created_at DESC LIMIT ?').all(sandboxKey, limit) as Row[]
    ).map(toLaunch);
  }

  async purgeExpired(now = Date.now()): Promise<number> {
    return this.db.prepare('DELETE FROM launch_context WHERE expires_at <= ?').run(now).changes;
  }

  async purgeSandbox(sandboxKey: number): Promise<void> {
    this.db.prepare('DELETE FROM launch_context WHERE tenant = ?').run(sandboxKey);
  }
}
