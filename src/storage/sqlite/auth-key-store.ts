/**
 * Per-sandbox secrets of the authorization server: signing JWKS, cookie keys, the dynamic
 * registration initial access token. Generated on first use, never defaulted (config.ts: "there are
 * no default secrets"). Two processes generating at once keep whichever row was inserted first.
 */
import type { AuthKeyStore } from '../auth-stores.js';
import type { Sqlite } from './open.js';

export class SqliteAuthKeyStore implements AuthKeyStore {
  private readonly sel;
  private readonly ins;
  private readonly upd;
  private readonly stampQ;
  constructor(private readonly db: Sqlite) {
    this.sel = db.prepare('SELECT value FROM auth_key WHERE tenant = ? AND name = ?');
    this.stampQ = db.prepare('SELECT created_at FROM auth_key WHERE tenant = ? AND name = ?');
    this.ins = db.prepare('INSERT INTO auth_key (tenant, name, value, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING');
    this.upd = db.prepare(
      `INSERT INTO auth_key (tenant, name, value, created_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (tenant, name) DO UPDATE SET value = excluded.value, created_at = MAX(excluded.created_at, auth_key.created_at + 1)`,
    );
  }

  async get(sandboxKey: number, name: string): Promise<string | undefined> {
    return (this.sel.get(sandboxKey, name) as { value: string } | undefined)?.value;
  }

  /** When the value was last set (a version stamp, strictly increasing per set), or undefined when absent. */
  async stamp(sandboxKey: number, name: string): Promise<number | undefined> {
    return (this.stampQ.get(sandboxKey, name) as { created_at: number } | undefined)?.created_at;
  }

  async getOrCreate(sandboxKey: number, name: string, make: () => string): Promise<string> {
    const found = this.sel.get(sandboxKey, name) as { value: string } | undefined;
    if (found !== undefined) return found.value;
    this.ins.run(sandboxKey, name, make(), Date.now());
    return (this.sel.get(sandboxKey, name) as { value: string }).value;
  }

  async set(sandboxKey: number, name: string, value: string): Promise<void> {
    this.upd.run(sandboxKey, name, value, Date.now());
  }

  async purgeSandbox(sandboxKey: number): Promise<void> {
    this.db.prepare('DELETE FROM auth_key WHERE tenant = ?').run(sandboxKey);
  }
}
