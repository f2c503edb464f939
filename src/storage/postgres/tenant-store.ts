/** PostgreSQL tenant store: the same rules as SqliteTenantStore (one live sandbox per id, new key per generation). */
import type pg from 'pg';
import { TenantError } from '../sqlite/tenant-store.js';
import type { Sandbox, SandboxChanges, TenantStore } from '../types.js';
import { sandboxIdProblem } from '../types.js';
import { one, query, run } from './pool.js';
import { type SandboxRow as Row, toSandbox } from '../rows.js';

export class PgTenantStore implements TenantStore {
  constructor(private readonly pool: pg.Pool) {}

  async get(id: string): Promise<Sandbox | undefined> {
    const r = await one<Row>(this.pool, 'SELECT * FROM sandbox WHERE id = ? AND deleted_at IS NULL', [id]);
    return r && toSandbox(r);
  }

  async isLive(key: number): Promise<boolean> {
    return (await one(this.pool, 'SELECT 1 FROM sandbox WHERE key = ? AND deleted_at IS NULL', [key])) !== undefined;
  }

  async list(): Promise<Sandbox[]> {
    return (await query<Row>(this.pool, 'SELECT * FROM sandbox WHERE deleted_at IS NULL ORDER BY id')).map(toSandbox);
  }

  async create(id: string, opts: SandboxChanges = {}): Promise<Sandbox> {
    const problem = sandboxIdProblem(id);
    if (problem) throw new TenantError(problem, 'invalid');
    try {
      const r = await one<Row>(
        this.pool,
        'INSERT INTO sandbox (id, name, open_read, open_write, open_registration, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING *',
        [id, opts.name ?? id, opts.openRead ? 1 : 0, opts.openWrite ? 1 : 0, opts.openRegistration ? 1 : 0, Date.now()],
      );
      return toSandbox(r!);
    } catch (e) {
      // The partial unique index on live ids decides between two nodes creating the same id.
      if ((e as { code?: string }).code === '23505') throw new TenantError(`sandbox ${id} already exists`, 'exists');
      throw e;
    }
  }

  async update(id: string, c: SandboxChanges): Promise<Sandbox> {
    const s = await this.get(id);
    if (!s) throw new TenantError(`sandbox ${id} does not exist`, 'not-found');
    const r = await one<Row>(this.pool, 'UPDATE sandbox SET name = ?, open_read = ?, open_write = ?, open_registration = ? WHERE key = ? RETURNING *', [
      c.name ?? s.name,
      (c.openRead ?? s.openRead) ? 1 : 0,
      (c.openWrite ?? s.openWrite) ? 1 : 0,
      (c.openRegistration ?? s.openRegistration) ? 1 : 0,
      s.key,
    ]);
    return toSandbox(r!);
  }

  async delete(id: string): Promise<Sandbox> {
    const r = await one<Row>(this.pool, 'UPDATE sandbox SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL RETURNING *', [Date.now(), id]);
    if (!r) throw new TenantError(`sandbox ${id} does not exist`, 'not-found');
    return toSandbox(r);
  }

  async getSetting(name: string): Promise<string | undefined> {
    return (await one<{ value: string }>(this.pool, 'SELECT value FROM setting WHERE name = ?', [name]))?.value;
  }

  async setSetting(name: string, value: string): Promise<void> {
    await run(this.pool, 'INSERT INTO setting (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value', [name, value]);
  }
}
