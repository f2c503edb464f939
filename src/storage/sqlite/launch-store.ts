import type { LaunchStore, StoredLaunch } from '../../launch/model.js';
import { hashLaunchId } from '../../launch/model.js';
import type { Sqlite } from './open.js';
import { type LaunchRow as Row, toLaunch } from '../rows.js';

export class SqliteLaunchStore implements LaunchStore {
  private readonly ins;
  private readonly sel;
  private readonly con;
  private readonly del;
  constructor(private readonly db: Sqlite) {
    this.ins = db.prepare(
      `INSERT INTO launch_context (tenant, id_hash, client_id, username, parameters, created_at, created_by, expires_at, simulate_error)
       VALUES (@tenant, @id_hash, @client_id, @username, @parameters, @created_at, @created_by, @expires_at, @simulate_error)`,
    );
    this.sel = db.prepare('SELECT * FROM launch_context WHERE tenant = ? AND id_hash = ? AND expires_at > ?');
    // Conditional update: of two concurrent redemptions exactly one changes a row.
    this.con = db.prepare(
      'UPDATE launch_context SET consumed_at = ? WHERE tenant = ? AND id_hash = ? AND consumed_at IS NULL AND expires_at > ?',
    );
    this.del = db.prepare('DELETE FROM launch_context WHERE tenant = ? AND id_hash = ?');
  }

  async insert(l: StoredLaunch): Promise<void> {
    this.ins.run({
      tenant: l.sandboxKey,
      id_hash: l.idHash,
      client_id: l.clientId ?? null,
      username: l.username ?? null,
      parameters: JSON.stringify(l.parameters),
      created_at: l.createdAt,
      created_by: l.createdBy,
      expires_at: l.expiresAt,
      simulate_error: l.simulateError ?? null,
    });
  }

  async find(sandboxKey: number, launchId: string): Promise<StoredLaunch | undefined> {
    const r = this.sel.get(sandboxKey, hashLaunchId(launchId), Date.now()) as Row | undefined;
    return r && toLaunch(r);
  }

  async consume(sandboxKey: number, launchId: string, now = Date.now()): Promise<boolean> {
    return this.con.run(now, sandboxKey, hashLaunchId(launchId), now).changes === 1;
  }

  async delete(sandboxKey: number, launchId: string): Promise<boolean> {
    return this.del.run(sandboxKey, hashLaunchId(launchId)).changes === 1;
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
