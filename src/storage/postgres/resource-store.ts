/**
 * PostgreSQL implementation of the FHIR `ResourceStore` (docs/storage.md §2), same logical schema as
 * SQLite. A write set (`apply`) is ONE transaction on one pooled client: the rows it touches are locked
 * (`SELECT … FOR UPDATE`) and their versions checked against the expected ones inside it (optimistic
 * concurrency; a concurrent first insert loses on the unique key and becomes a VersionConflict), then
 * the index rows of all ops are written with one batched `INSERT … SELECT FROM unnest(…)` per table.
 */
import type pg from 'pg';
import type { HistoryEntry, HistoryQuery, IndexRows, ResourceStore, StoredResource, WriteOp, WriteRecord } from '../../fhir/store.js';
import { VersionConflict } from '../../fhir/store.js';
import { QueryBudgetExceeded } from '../backend.js';
import { one, query, run, toPg, transaction, wrapError } from './pool.js';
import type { ResourceRow } from '../rows.js';

const toStored = (r: ResourceRow): StoredResource => ({
  rid: r.rid,
  type: r.rtype,
  id: r.id,
  version: r.version,
  lastUpdated: r.last_updated,
  deleted: Number(r.deleted) === 1,
  content: r.content,
});

const INDEX_TABLES = ['ix_token', 'ix_token_text', 'ix_string', 'ix_date', 'ix_number', 'ix_quantity', 'ix_uri', 'ix_ref', 'ix_composite'];

/** Column lists and array types of each index table, for the batched unnest inserts. */
const INDEX_COLS: Record<keyof IndexRows, { table: string; cols: string[]; types: string[] }> = {
  token: { table: 'ix_token', cols: ['system', 'code'], types: ['text', 'text'] },
  tokenText: { table: 'ix_token_text', cols: ['norm'], types: ['text'] },
  string: { table: 'ix_string', cols: ['norm', 'exact'], types: ['text', 'text'] },
  date: { table: 'ix_date', cols: ['lo', 'hi'], types: ['bigint', 'bigint'] },
  number: { table: 'ix_number', cols: ['lo', 'hi'], types: ['float8', 'float8'] },
  quantity: { table: 'ix_quantity', cols: ['value', 'system', 'code'], types: ['float8', 'text', 'text'] },
  uri: { table: 'ix_uri', cols: ['uri'], types: ['text'] },
  ref: { table: 'ix_ref', cols: ['ttype', 'tid', 'url'], types: ['text', 'text', 'text'] },
  composite: {
    table: 'ix_composite',
    cols: ['c1_system', 'c1_code', 'c2_num', 'c2_system', 'c2_code', 'c2_lo', 'c2_hi', 'c2_str'],
    types: ['text', 'text', 'float8', 'text', 'text', 'bigint', 'bigint', 'text'],
  },
};

const SELECT_COLS = 'rid, rtype, id, version, last_updated, deleted, content';

export class PgResourceStore implements ResourceStore {
  readonly dialect = 'postgres' as const;
  private readonly pids = new Map<string, number>();
  private pidsLoaded = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly reads?: { pool: pg.Pool; budgetMs: number },
  ) {}

  async read(tenant: number, type: string, id: string): Promise<StoredResource | undefined> {
    const r = await one<ResourceRow>(this.pool, `SELECT ${SELECT_COLS} FROM resource WHERE tenant = ? AND rtype = ? AND id = ?`, [tenant, type, id]);
    return r && toStored(r);
  }

  async readVersion(tenant: number, type: string, id: string, version: number): Promise<StoredResource | undefined> {
    const r = await one<ResourceRow>(
      this.pool,
      `SELECT v.rid, v.rtype, v.id, v.version, v.last_updated, CASE WHEN v.content IS NULL THEN 1 ELSE 0 END AS deleted, v.content
       FROM resource_version v WHERE v.tenant = ? AND v.rid = (SELECT rid FROM resource WHERE tenant = ? AND rtype = ? AND id = ?) AND v.version = ?`,
      [tenant, tenant, type, id, version],
    );
    return r && toStored(r);
  }

  async put(tenant: number, rec: WriteRecord): Promise<StoredResource> {
    return (await this.apply(tenant, [{ kind: 'put', rec }]))[0];
  }

  async remove(tenant: number, type: string, id: string, version: number, lastUpdated: number): Promise<void> {
    await this.apply(tenant, [{ kind: 'remove', type, id, version, lastUpdated }]);
  }

  async apply(tenant: number, ops: WriteOp[]): Promise<StoredResource[]> {
    if (ops.length === 0) return [];
    // pids first, outside the transaction: allocating one is harmless if the write set rolls back.
    const pidOf = await this.allocatePids(ops);
    try {
      return await transaction(this.pool, (c) => this.applyIn(c, tenant, ops, pidOf));
    } catch (e) {
      // Two writers creating the same resource at once: the loser hits the unique key.
      if ((e as { code?: string }).code === '23505' && /resource_tenant_rtype_id_key/.test((e as Error).message ?? '')) {
        const op = ops[0];
        const [type, id] = op.kind === 'put' ? [op.rec.type, op.rec.id] : [op.type, op.id];
        throw new VersionConflict(type, id, 0, -1);
      }
      throw e;
    }
  }

  private async applyIn(c: pg.PoolClient, tenant: number, ops: WriteOp[], pidOf: (type: string, code: string) => number): Promise<StoredResource[]> {
    const keyOf = (op: WriteOp) => (op.kind === 'put' ? [op.rec.type, op.rec.id] : [op.type, op.id]) as [string, string];
    // Lock every existing row the set touches, in a stable order (no deadlock between two sets).
    const keys = [...new Map(ops.map((op) => [keyOf(op).join('/'), keyOf(op)])).values()].sort((a, b) => (a.join('/') < b.join('/') ? -1 : 1));
    const current = new Map<string, { rid: number; version: number }>();
    const locked = await c.query(
      `SELECT r.rid, r.rtype, r.id, r.version FROM resource r
       JOIN unnest($2::text[], $3::text[]) AS k(rtype, id) ON r.rtype = k.rtype AND r.id = k.id
       WHERE r.tenant = $1 ORDER BY r.rtype, r.id FOR UPDATE OF r`,
      [tenant, keys.map((k) => k[0]), keys.map((k) => k[1])],
    );
    for (const r of locked.rows as { rid: number; rtype: string; id: string; version: number }[]) current.set(`${r.rtype}/${r.id}`, { rid: r.rid, version: r.version });
    const existedBefore = new Set([...current.values()].map((v) => v.rid));

    const out: StoredResource[] = [];
    const versions: unknown[][] = [[], [], [], [], [], [], [], []];
    /** Per rid, the last put of the set (its index rows and compartments win). */
    const lastPut = new Map<number, WriteRecord>();
    const touched = new Set<number>();
    for (const op of ops) {
      const [type, id] = keyOf(op);
      const cur = current.get(`${type}/${id}`);
      if (op.expect !== undefined && (cur?.version ?? 0) !== op.expect) throw new VersionConflict(type, id, op.expect, cur?.version ?? 0);
      let rid: number;
      if (op.kind === 'put') {
        const { rec } = op;
        if (cur) {
          rid = cur.rid;
          await c.query('UPDATE resource SET version = $1, last_updated = $2, deleted = 0, content = $3 WHERE rid = $4', [rec.version, rec.lastUpdated, rec.content, rid]);
        } else {
          const ins = await c.query(
            'INSERT INTO resource (tenant, rtype, id, version, last_updated, deleted, content) VALUES ($1, $2, $3, $4, $5, 0, $6) RETURNING rid',
            [tenant, type, id, rec.version, rec.lastUpdated, rec.content],
          );
          rid = (ins.rows[0] as { rid: number }).rid;
        }
        current.set(`${type}/${id}`, { rid, version: rec.version });
        lastPut.set(rid, rec);
        for (const [i, v] of [rid, rec.version, tenant, type, id, rec.lastUpdated, rec.method, rec.content].entries()) versions[i].push(v);
        out.push({ rid, type, id, version: rec.version, lastUpdated: rec.lastUpdated, deleted: false, content: rec.content });
      } else {
        if (!cur) {
          out.push({ rid: 0, type, id, version: op.version, lastUpdated: op.lastUpdated, deleted: true, content: null });
          continue;
        }
        rid = cur.rid;
        await c.query('UPDATE resource SET version = $1, last_updated = $2, deleted = 1, content = NULL WHERE rid = $3', [op.version, op.lastUpdated, rid]);
        current.set(`${type}/${id}`, { rid, version: op.version });
        lastPut.delete(rid);
        for (const [i, v] of [rid, op.version, tenant, type, id, op.lastUpdated, 'DELETE', null].entries()) versions[i].push(v);
        out.push({ rid, type, id, version: op.version, lastUpdated: op.lastUpdated, deleted: true, content: null });
      }
      touched.add(rid);
    }

    await c.query(
      `INSERT INTO resource_version (rid, version, tenant, rtype, id, last_updated, method, content)
       SELECT * FROM unnest($1::bigint[], $2::int[], $3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[])`,
      versions,
    );
    // Index rows are replaced per rid; a rid that did not exist before the set has none to delete.
    const stale = [...touched].filter((rid) => existedBefore.has(rid));
    if (stale.length) for (const t of INDEX_TABLES) await c.query(`DELETE FROM ${t} WHERE rid = ANY($1::bigint[])`, [stale]);
    // Compartment rows describe the last content version: replaced by a put, kept by a removal.
    const compartmentStale = stale.filter((rid) => lastPut.has(rid));
    if (compartmentStale.length) await c.query('DELETE FROM compartment WHERE rid = ANY($1::bigint[])', [compartmentStale]);
    await this.insertIndex(c, tenant, lastPut, pidOf);

    // Access guards, evaluated on the written versions inside the transaction.
    for (const [i, op] of ops.entries()) {
      if (op.kind !== 'put' || !op.guard) continue;
      const g = op.guard.sql(out[i].rid);
      if ((await c.query(toPg(g.sql), g.params)).rows.length === 0) throw op.guard.error();
    }
    return out;
  }

  private async insertIndex(c: pg.PoolClient, tenant: number, recs: Map<number, WriteRecord>, pidOf: (type: string, code: string) => number): Promise<void> {
    for (const kind of Object.keys(INDEX_COLS) as (keyof IndexRows)[]) {
      const { table, cols, types } = INDEX_COLS[kind];
      const arrays: unknown[][] = [[], [], [], ...cols.map(() => [])];
      for (const [rid, rec] of recs) {
        for (const row of rec.index[kind] as unknown[][]) {
          arrays[0].push(rid);
          arrays[1].push(tenant);
          arrays[2].push(pidOf(rec.type, row[0] as string));
          for (let i = 1; i < row.length; i++) arrays[2 + i].push(row[i]);
        }
      }
      if (arrays[0].length === 0) continue;
      const casts = ['bigint', 'bigint', 'int', ...types].map((t, i) => `$${i + 1}::${t}[]`).join(', ');
      await c.query(`INSERT INTO ${table} (rid, tenant, pid, ${cols.join(', ')}) SELECT * FROM unnest(${casts})`, arrays);
    }
    const comp: unknown[][] = [[], [], []];
    for (const [rid, rec] of recs) {
      for (const p of new Set(rec.compartments)) {
        comp[0].push(rid);
        comp[1].push(tenant);
        comp[2].push(p);
      }
    }
    if (comp[0].length) await c.query('INSERT INTO compartment (rid, tenant, patient) SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[])', comp);
  }

  /** Allocates the pids every index row of the set needs (one round trip when all are known). */
  private async allocatePids(ops: WriteOp[]): Promise<(type: string, code: string) => number> {
    const wanted = new Map<string, [string, string]>();
    for (const op of ops) {
      if (op.kind !== 'put') continue;
      for (const rows of Object.values(op.rec.index) as unknown[][][]) {
        for (const row of rows) {
          const code = row[0] as string;
          const key = `${op.rec.type}\u0000${code}`;
          if (!this.pids.has(key)) wanted.set(key, [op.rec.type, code]);
        }
      }
    }
    if (wanted.size) {
      const list = [...wanted.values()];
      const types = list.map((x) => x[0]);
      const codes = list.map((x) => x[1]);
      await run(this.pool, 'INSERT INTO sp (rtype, code) SELECT * FROM unnest(?::text[], ?::text[]) ON CONFLICT DO NOTHING', [types, codes]);
      const rows = await query<{ pid: number; rtype: string; code: string }>(
        this.pool,
        'SELECT s.pid, s.rtype, s.code FROM sp s JOIN unnest(?::text[], ?::text[]) AS k(rtype, code) ON s.rtype = k.rtype AND s.code = k.code',
        [types, codes],
      );
      for (const r of rows) this.pids.set(`${r.rtype}\u0000${r.code}`, r.pid);
    }
    return (type, code) => {
      const p = this.pids.get(`${type}\u0000${code}`);
      if (p === undefined) throw new Error(`pid of ${type}.${code} was not allocated`);
      return p;
    };
  }

  async history(tenant: number, q: HistoryQuery): Promise<HistoryEntry[]> {
    const where = ['v.tenant = ?'];
    const params: unknown[] = [tenant];
    if (q.type) {
      where.push('v.rtype = ?');
      params.push(q.type);
    }
    if (q.id) {
      where.push('v.id = ?');
      params.push(q.id);
    }
    if (q.types) {
      where.push('v.rtype = ANY(?::text[])');
      params.push(q.types);
    }
    if (q.since !== undefined) {
      where.push('v.last_updated >= ?');
      params.push(q.since);
    }
    params.push(q.limit, q.offset);
    const rows = await this.query<ResourceRow & { method: HistoryEntry['method'] }>(
      `SELECT v.rid, v.rtype, v.id, v.version, v.last_updated, CASE WHEN v.content IS NULL THEN 1 ELSE 0 END AS deleted, v.content, v.method
       FROM resource_version v WHERE ${where.join(' AND ')}
       ORDER BY v.last_updated DESC, v.rid DESC, v.version DESC LIMIT ? OFFSET ?`,
      params,
    );
    return rows.map((r) => ({ ...toStored(r), method: r.method }));
  }

  async compartmentsOf(tenant: number, rid: number): Promise<string[]> {
    return (await query<{ patient: string }>(this.pool, 'SELECT patient FROM compartment WHERE rid = ? AND tenant = ?', [rid, tenant])).map((r) => r.patient);
  }

  cachedPid(type: string, code: string): number | undefined {
    return this.pids.get(`${type}\u0000${code}`);
  }

  /** The whole `sp` dictionary is small (a few thousand rows at most): reloaded at once. */
  async refreshPids(): Promise<void> {
    const rows = await query<{ pid: number; rtype: string; code: string }>(this.pool, 'SELECT pid, rtype, code FROM sp');
    for (const r of rows) this.pids.set(`${r.rtype}\u0000${r.code}`, r.pid);
    this.pidsLoaded = true;
  }

  async pid(type: string, code: string): Promise<number | undefined> {
    const hit = this.cachedPid(type, code);
    if (hit !== undefined) return hit;
    const r = await one<{ pid: number }>(this.pool, 'SELECT pid FROM sp WHERE rtype = ? AND code = ?', [type, code]);
    if (r) this.pids.set(`${type}\u0000${code}`, r.pid);
    else if (!this.pidsLoaded) await this.refreshPids();
    return r?.pid;
  }

  /** Reads on the main pool, without statement_timeout: the caller is background work (inline export). */
  unbudgeted(): ResourceStore {
    return this.reads ? new PgResourceStore(this.pool) : this;
  }

  /** Read queries of searches and history: on the read pool, cancelled by PostgreSQL past the budget. */
  async query<T = Record<string, unknown>>(sql: string, params: unknown[]): Promise<T[]> {
    if (!this.reads) return query<T>(this.pool, sql, params);
    try {
      return await query<T>(this.reads.pool, sql, params);
    } catch (e) {
      // 57014 query_canceled: statement_timeout fired.
      if ((e as { code?: string }).code === '57014') throw new QueryBudgetExceeded(this.reads.budgetMs);
      throw e;
    }
  }

  async *exportAll(tenant: number): AsyncIterable<string> {
    let after = 0;
    for (;;) {
      const rows = await query<{ rid: number; content: string }>(
        this.pool,
        'SELECT rid, content FROM resource WHERE tenant = ? AND deleted = 0 AND rid > ? ORDER BY rid LIMIT 500',
        [tenant, after],
      );
      if (rows.length === 0) return;
      for (const r of rows) yield r.content;
      after = rows[rows.length - 1].rid;
    }
  }

  async purge(tenant: number): Promise<void> {
    await transaction(this.pool, async (c) => {
      for (const t of [...INDEX_TABLES, 'compartment', 'resource_version', 'resource']) await c.query(`DELETE FROM ${t} WHERE tenant = $1`, [tenant]);
    });
  }

  async optimize(): Promise<void> {
    try {
      await this.pool.query('ANALYZE');
    } catch (e) {
      throw wrapError(e);
    }
  }
}
