/**
 * Per-sandbox secrets of the authorization server: signing JWKS, cookie keys, the dynamic
 * registration initial access token. Generated on first use, never defaulted (config.ts: "there are
 * no default secrets"). Two processes generating at once keep whichever row was inserted first.
 */
import type { Sqlite } from './open.js';

export class SqliteAuthKeyStore {
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
       ON CONFLICT (tenant, name) DO UPDATE SET value = excluded.value, created_at = excluded.created_at`,
    );
  }

  get(sandboxKey: number, name: string): string | undefined {
    return (this.sel.get(sandboxKey, name) as { value: string } | undefined)?.value;
  }

  /** When the value was last set (a version stamp), or undefined when absent. */
  stamp(sandboxKey: number, name: string): number | undefined {
    return (this.stampQ.get(sandboxKey, name) as { created_at: number } | undefined)?.created_at;
  }

  /** The stored value, creating it with `make()` when absent. */
  getOrCreate(sandboxKey: number, name: string, make: () => string): string {
    const found = this.get(sandboxKey, name);
    if (found !== undefined) return found;
    this.ins.run(sandboxKey, name, make(), Date.now());
    return this.get(sandboxKey, name) as string;
  }

  set(sandboxKey: number, name: string, value: string): void {
    this.upd.run(sandboxKey, name, value, Date.now());
  }

  purgeSandbox(sandboxKey: number): void {
    this.db.prepare('DELETE FROM auth_key WHERE tenant = ?').run(sandboxKey);
  }
}
