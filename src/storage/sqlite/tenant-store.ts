import type { Sandbox, SandboxChanges, TenantStore } from '../types.js';
import { sandboxIdProblem } from '../types.js';
import type { Sqlite } from './open.js';

interface Row {
  key: number;
  id: string;
  name: string;
  open_read: number;
  open_write: number;
  open_registration: number;
  created_at: number;
}

const toSandbox = (r: Row): Sandbox => ({
  key: r.key,
  id: r.id,
  name: r.name,
  openRead: r.open_read === 1,
  openWrite: r.open_write === 1,
  openRegistration: r.open_registration === 1,
  createdAt: r.created_at,
});

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

  get(id: string): Sandbox | undefined {
    const r = this.byId.get(id) as Row | undefined;
    return r && toSandbox(r);
  }

  isLive(key: number): boolean {
    return this.live.get(key) !== undefined;
  }

  list(): Sandbox[] {
    return (this.db.prepare('SELECT * FROM sandbox WHERE deleted_at IS NULL ORDER BY id').all() as Row[]).map(toSandbox);
  }

  create(id: string, opts: SandboxChanges = {}): Sandbox {
    const problem = sandboxIdProblem(id);
    if (problem) throw new TenantError(problem, 'invalid');
    if (this.get(id)) throw new TenantError(`sandbox ${id} already exists`, 'exists');
    this.db
      .prepare('INSERT INTO sandbox (id, name, open_read, open_write, open_registration, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(id, opts.name ?? id, opts.openRead ? 1 : 0, opts.openWrite ? 1 : 0, opts.openRegistration ? 1 : 0, Date.now());
    return this.get(id)!;
  }

  update(id: string, c: SandboxChanges): Sandbox {
    const s = this.get(id);
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
    return this.get(id)!;
  }

  delete(id: string): Sandbox {
    const s = this.get(id);
    if (!s) throw new TenantError(`sandbox ${id} does not exist`, 'not-found');
    this.db.prepare('UPDATE sandbox SET deleted_at = ? WHERE key = ?').run(Date.now(), s.key);
    return s;
  }

  getSetting(name: string): string | undefined {
    return (this.db.prepare('SELECT value FROM setting WHERE name = ?').get(name) as { value: string } | undefined)?.value;
  }

  setSetting(name: string, value: string): void {
    this.db.prepare('INSERT INTO setting (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value').run(name, value);
  }
}
