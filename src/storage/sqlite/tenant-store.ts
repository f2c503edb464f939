import type { Sandbox, SandboxChanges, TenantStore } from '../types.js';
import { sandboxIdProblem } from '../types.js';
import type { Sqlite } from './open.js';
import { type SandboxRow as Row, toSandbox } from '../rows.js';

export class TenantError extends Error {
  constructor(
    message: string,
    readonly kind: 'invalid' | 'exists' | 'not-found',
  ) {
    super(message);
  }
}

/**
 * SQLite tenant store. Reads are not cached in-process: the CLI may change a sandbox while the
 * server runs, and a primary-key lookup costs a few microseconds.
 */
export class SqliteTenantStore implements TenantStore {
  private readonly byId;
  private readonly live;
  constructor(private readonly db: Sqlite) {
    this.byId = db.prepare('SELECT * FROM sandbox WHERE id = ? AND deleted_at IS NULL');
    this.live = db.prepare('SELECT 1 FROM sandbox WHERE key = ? AND deleted_at IS NULL');
  }

  async get(id: string): Promise<Sandbox | undefined> {
    return this.getSync(id);
  }

  private getSync(id: string): Sandbox | undefined {
    const r = this.byId.get(id) as Row | undefined;
    return r && toSandbox(r);
  }

  async isLive(key: number): Promise<boolean> {
    return this.live.get(key) !== undefined;
  }

  async list(): Promise<Sandbox[]> {
    return (this.db.prepare('SELECT * FROM sandbox WHERE deleted_at IS NULL ORDER BY id').all() as Row[]).map(toSandbox);
  }

  async create(id: string, opts: SandboxChanges = {}): Promise<Sandbox> {
    const problem = sandboxIdProblem(id);
    if (problem) throw new TenantError(problem, 'invalid');
    if (this.getSync(id)) throw new TenantError(`sandbox ${id} already exists`, 'exists');
    this.db
      .prepare('INSERT INTO sandbox (id, name, open_read, open_write, open_registration, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(id, opts.name ?? id, opts.openRead ? 1 : 0, opts.openWrite ? 1 : 0, opts.openRegistration ? 1 : 0, Date.now());
    return this.getSync(id)!;
  }

  async update(id: string, c: SandboxChanges): Promise<Sandbox> {
    const s = this.getSync(id);
    if (!s) throw new TenantError(`sandbox ${id} does not exist`, 'not-found');
    this.db
      .prepare('UPDATE sandbox SET name = ?, open_read = ?, open_write = ?, open_registration = ? WHERE key = ?')
      .run(
        c.name ?? s.name,
        (c.openRead ?? s.openRead) ? 1 : 0,
        (c.openWrite ?? s.openWrite) ? 1 : 0,
        (c.openRegistration ?? s.openRegistration) ? 1 : 0,
        s.key,
      );
    return this.getSync(id)!;
  }

  async delete(id: string): Promise<Sandbox> {
    const s = this.getSync(id);
    if (!s) throw new TenantError(`sandbox ${id} does not exist`, 'not-found');
    this.db.prepare('UPDATE sandbox SET deleted_at = ? WHERE key = ?').run(Date.now(), s.key);
    return s;
  }

  async getSetting(name: string): Promise<string | undefined> {
    return (this.db.prepare('SELECT value FROM setting WHERE name = ?').get(name) as { value: string } | undefined)?.value;
  }

  async setSetting(name: string, value: string): Promise<void> {
    this.db.prepare('INSERT INTO setting (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value').run(name, value);
  }
}
