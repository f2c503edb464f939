/**
 * SQLite implementation of the FHIR `ResourceStore` (docs/storage.md §2): synchronous better-sqlite3,
 * prepared statements created once, every statement bound to the tenant key. The async interface is
 * served synchronously (resolved promises); a write set runs in ONE synchronous transaction, so no
 * transaction is ever held across an await.
 */
import type Database from 'better-sqlite3';
import { type HistoryEntry, type HistoryQuery, type IndexRows, type ResourceStore, type StoredResource, VersionConflict, type WriteOp, type WriteRecord } from '../../../fhir/store.js';
import type { Sqlite } from '../open.js';
import type { SqliteReadPool } from '../read-pool.js';
import type { ResourceRow } from '../../rows.js';

const toStored = (r: ResourceRow): StoredResource => ({
  rid: r.rid,
  type: r.rtype,
  id: r.id,
  version: r.version,
  lastUpdated: r.last_updated,
  deleted: r.deleted === 1,
  content: r.content,
});

const INDEX_TABLES = ['ix_token', 'ix_token_text', 'ix_string', 'ix_date', 'ix_number', 'ix_quantity', 'ix_uri', 'ix_ref', 'ix_composite'];

export class SqliteResourceStore implements ResourceStore {
  readonly dialect = 'sqlite' as const;
  private readonly s: Record<string, Database.Statement>;
  private readonly pids = new Map<string, number>();
  private readonly stmtCache = new Map<string, Database.Statement>();
  /** Called after each committed top-level write (the backend's WAL bound, wal.ts). */
  afterCommit: () => void = () => {};

  /**
   * @param reads worker-thread connections with a time budget for searches and history (the server);
   *   without it (CLI commands, in-memory test databases) they run on this connection.
   */
  constructor(
    private readonly db: Sqlite,
    private readonly reads?: SqliteReadPool,
  ) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      read: p('SELECT rid, rtype, id, version, last_updated, deleted, content FROM resource WHERE tenant = ? AND rtype = ? AND id = ?'),
      readVersion: p(
        `SELECT v.rid, v.rtype, v.id, v.version, v.last_updated, CASE WHEN v.content IS NULL THEN 1 ELSE 0 END AS deleted, v.content
         FROM resource_version v WHERE v.tenant = ? AND v.rid = (SELECT rid FROM resource WHERE tenant = ? AND rtype = ? AND id = ?) AND v.version = ?`,
      ),
      insert: p('INSERT INTO resource (tenant, rtype, id, version, last_updated, deleted, content) VALUES (?, ?, ?, ?, ?, 0, ?)'),
      update: p('UPDATE resource SET version = ?, last_updated = ?, deleted = ?, content = ? WHERE rid = ?'),
      insertVersion: p(
        'INSERT INTO resource_version (rid, version, tenant, rtype, id, last_updated, method, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      ixToken: p('INSERT INTO ix_token (rid, tenant, pid, system, code) VALUES (?, ?, ?, ?, ?)'),
      ixTokenText: p('INSERT INTO ix_token_text (rid, tenant, pid, norm) VALUES (?, ?, ?, ?)'),
      ixString: p('INSERT INTO ix_string (rid, tenant, pid, norm, exact) VALUES (?, ?, ?, ?, ?)'),
      ixDate: p('INSERT INTO ix_date (rid, tenant, pid, lo, hi) VALUES (?, ?, ?, ?, ?)'),
      ixNumber: p('INSERT INTO ix_number (rid, tenant, pid, lo, hi) VALUES (?, ?, ?, ?, ?)'),
      ixQuantity: p('INSERT INTO ix_quantity (rid, tenant, pid, value, system, code) VALUES (?, ?, ?, ?, ?, ?)'),
      ixUri: p('INSERT INTO ix_uri (rid, tenant, pid, uri) VALUES (?, ?, ?, ?)'),
      ixRef: p('INSERT INTO ix_ref (rid, tenant, pid, ttype, tid, url) VALUES (?, ?, ?, ?, ?, ?)'),
      ixComposite: p(
        `INSERT INTO ix_composite (rid, tenant, pid, c1_system, c1_code, c2_num, c2_system, c2_code, c2_lo, c2_hi, c2_str)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      compartment: p('INSERT INTO compartment (rid, tenant, patient) VALUES (?, ?, ?)'),
      compartmentsOf: p('SELECT patient FROM compartment WHERE rid = ? AND tenant = ?'),
      delCompartment: p('DELETE FROM compartment WHERE rid = ?'),
      pidGet: p('SELECT pid FROM sp WHERE rtype = ? AND code = ?'),
      pidInsert: p('INSERT OR IGNORE INTO sp (rtype, code) VALUES (?, ?)'),
      exportChunk: p('SELECT rid, content FROM resource WHERE tenant = ? AND deleted = 0 AND rid > ? ORDER BY rid LIMIT 500'),
    };
    for (const t of INDEX_TABLES) this.s[`del_${t}`] = p(`DELETE FROM ${t} WHERE rid = ?`);
  }

  /** One synchronous transaction (never spans an await); a nested call is a SAVEPOINT. */
  private tx<T>(fn: () => T): T {
    if (this.db.inTransaction) return this.db.transaction(fn)();
    const out = this.db.transaction(fn).immediate();
    this.afterCommit();
    return out;
  }

  async read(tenant: number, type: string, id: string): Promise<StoredResource | undefined> {
    const r = this.s.read.get(tenant, type, id) as ResourceRow | undefined;
    return r && toStored(r);
  }

  async readVersion(tenant: number, type: string, id: string, version: number): Promise<StoredResource | undefined> {
    const r = this.s.readVersion.get(tenant, tenant, type, id, version) as ResourceRow | undefined;
    return r && toStored(r);
  }

  async apply(tenant: number, ops: WriteOp[]): Promise<StoredResource[]> {
    return this.tx(() =>
      ops.map((op) => {
        const type = op.kind === 'put' ? op.rec.type : op.type;
        const id = op.kind === 'put' ? op.rec.id : op.id;
        if (op.expect !== undefined) {
          const cur = this.s.read.get(tenant, type, id) as ResourceRow | undefined;
          const actual = cur?.version ?? 0;
          if (actual !== op.expect) throw new VersionConflict(type, id, op.expect, actual);
        }
        if (op.kind === 'remove') {
          const rid = this.removeSync(tenant, op.type, op.id, op.version, op.lastUpdated);
          return { rid, type, id, version: op.version, lastUpdated: op.lastUpdated, deleted: true, content: null };
        }
        const stored = this.putSync(tenant, op.rec);
        if (op.guard) {
          const g = op.guard.sql(stored.rid);
          if (this.querySync(g.sql, g.params).length === 0) throw op.guard.error();
        }
        return stored;
      }),
    );
  }

  async put(tenant: number, rec: WriteRecord): Promise<StoredResource> {
    return this.putSync(tenant, rec);
  }

  private putSync(tenant: number, rec: WriteRecord): StoredResource {
    return this.tx(() => {
      const cur = this.s.read.get(tenant, rec.type, rec.id) as ResourceRow | undefined;
      let rid: number;
      if (cur) {
        rid = cur.rid;
        this.s.update.run(rec.version, rec.lastUpdated, 0, rec.content, rid);
        this.clearIndex(rid);
        this.s.delCompartment.run(rid);
      } else {
        rid = Number(this.s.insert.run(tenant, rec.type, rec.id, rec.version, rec.lastUpdated, rec.content).lastInsertRowid);
      }
      this.s.insertVersion.run(rid, rec.version, tenant, rec.type, rec.id, rec.lastUpdated, rec.method, rec.content);
      this.writeIndex(tenant, rid, rec.type, rec.index);
      for (const p of new Set(rec.compartments)) this.s.compartment.run(rid, tenant, p);
      return { rid, type: rec.type, id: rec.id, version: rec.version, lastUpdated: rec.lastUpdated, deleted: false, content: rec.content };
    });
  }

  async remove(tenant: number, type: string, id: string, version: number, lastUpdated: number): Promise<void> {
    this.removeSync(tenant, type, id, version, lastUpdated);
  }

  private removeSync(tenant: number, type: string, id: string, version: number, lastUpdated: number): number {
    return this.tx(() => {
      const cur = this.s.read.get(tenant, type, id) as ResourceRow | undefined;
      if (!cur) return 0;
      this.s.update.run(version, lastUpdated, 1, null, cur.rid);
      this.s.insertVersion.run(cur.rid, version, tenant, type, id, lastUpdated, 'DELETE', null);
      // Compartment rows stay: they describe the last version, which history confinement needs.
      this.clearIndex(cur.rid);
      return cur.rid;
    });
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
      where.push(`v.rtype IN (${q.types.map(() => '?').join(',') || "''"})`);
      params.push(...q.types);
    }
    if (q.since !== undefined) {
      where.push('v.last_updated >= ?');
      params.push(q.since);
    }
    params.push(q.limit, q.offset);
    const rows = await this.query<ResourceRow & { method: HistoryEntry['method'] }>(
      `SELECT v.rid, v.rtype, v.id, v.version, v.last_updated, CASE WHEN v.content IS NULL THEN 1 ELSE 0 END AS deleted,
              v.content, v.method
       FROM resource_version v WHERE ${where.join(' AND ')}
       ORDER BY v.last_updated DESC, v.rid DESC, v.version DESC LIMIT ? OFFSET ?`,
      params,
    );
    return rows.map((r) => ({ ...toStored(r), method: r.method }));
  }

  async compartmentsOf(tenant: number, rid: number): Promise<string[]> {
    return (this.s.compartmentsOf.all(rid, tenant) as { patient: string }[]).map((r) => r.patient);
  }

  /** SQLite answers synchronously, so a miss is looked up at once: cachedPid is never stale here. */
  cachedPid(type: string, code: string): number | undefined {
    return this.pidSync(type, code);
  }

  async refreshPids(): Promise<void> {}

  async pid(type: string, code: string): Promise<number | undefined> {
    return this.pidSync(type, code);
  }

  private pidSync(type: string, code: string): number | undefined {
    const key = `${type}\u0000${code}`;
    const cached = this.pids.get(key);
    if (cached !== undefined) return cached;
    const r = this.s.pidGet.get(type, code) as { pid: number } | undefined;
    if (r) this.pids.set(key, r.pid);
    return r?.pid;
  }

  /** The pid of (type, code), allocated on first use (write path only). */
  private pidForWrite(type: string, code: string): number {
    const known = this.pidSync(type, code);
    if (known !== undefined) return known;
    this.s.pidInsert.run(type, code);
    return this.pidSync(type, code)!;
  }

  /** Reads on this connection, as before the read pool: the caller is background work (inline export). */
  unbudgeted(): ResourceStore {
    if (!this.reads) return this;
    const store = new SqliteResourceStore(this.db);
    store.afterCommit = this.afterCommit;
    return store;
  }

  async query<T = Record<string, unknown>>(sql: string, params: unknown[]): Promise<T[]> {
    if (this.reads) return this.reads.all<T>(sql, params);
    return this.querySync<T>(sql, params);
  }

  private querySync<T = Record<string, unknown>>(sql: string, params: unknown[]): T[] {
    let st = this.stmtCache.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      if (this.stmtCache.size > 500) this.stmtCache.clear();
      this.stmtCache.set(sql, st);
    }
    return st.all(...params) as T[];
  }

  async *exportAll(tenant: number): AsyncIterable<string> {
    // Keyset pages rather than one open iterator, so that the caller may write between chunks.
    let after = 0;
    for (;;) {
      const rows = this.s.exportChunk.all(tenant, after) as { rid: number; content: string }[];
      if (rows.length === 0) return;
      for (const r of rows) yield r.content;
      after = rows[rows.length - 1].rid;
    }
  }

  async purge(tenant: number): Promise<void> {
    this.tx(() => {
      for (const t of [...INDEX_TABLES, 'compartment', 'resource_version', 'resource']) {
        this.db.prepare(`DELETE FROM ${t} WHERE tenant = ?`).run(tenant);
      }
    });
  }

  async optimize(): Promise<void> {
    this.db.pragma('optimize');
  }

  private clearIndex(rid: number): void {
    for (const t of INDEX_TABLES) this.s[`del_${t}`].run(rid);
  }

  private writeIndex(tenant: number, rid: number, type: string, ix: IndexRows): void {
    const pid = (code: string) => this.pidForWrite(type, code);
    for (const [c, sys, v] of ix.token) this.s.ixToken.run(rid, tenant, pid(c), sys, v);
    for (const [c, n] of ix.tokenText) this.s.ixTokenText.run(rid, tenant, pid(c), n);
    for (const [c, n, e] of ix.string) this.s.ixString.run(rid, tenant, pid(c), n, e);
    for (const [c, lo, hi] of ix.date) this.s.ixDate.run(rid, tenant, pid(c), lo, hi);
    for (const [c, lo, hi] of ix.number) this.s.ixNumber.run(rid, tenant, pid(c), lo, hi);
    for (const [c, v, sys, u] of ix.quantity) this.s.ixQuantity.run(rid, tenant, pid(c), v, sys, u);
    for (const [c, u] of ix.uri) this.s.ixUri.run(rid, tenant, pid(c), u);
    for (const [c, tt, tid, url] of ix.ref) this.s.ixRef.run(rid, tenant, pid(c), tt, tid, url);
    for (const [c, ...rest] of ix.composite) this.s.ixComposite.run(rid, tenant, pid(c), ...rest);
  }
}
