/**
 * PostgreSQL plumbing (docs/storage.md §2 "PG traps"): one `pg` Pool per process, BIGINT parsed to
 * Number (rids and epoch-ms fit in 2^53), `?` placeholders rewritten to `$n` so the stores and the
 * search compiler share their SQL with SQLite, transactions on one pooled client, and connection
 * failures turned into DatabaseUnavailable (503 / `temporarily_unavailable`).
 */
import pg from 'pg';
import { DatabaseUnavailable } from '../backend.js';

pg.types.setTypeParser(20, Number); // int8 / BIGINT, COUNT(*)

export type Queryable = pg.Pool | pg.PoolClient;

/** Connections of one process's main pool (`SMART_SANDBOX_PG_POOL`, default 10). */
export function poolSize(): number {
  return Number(process.env.SMART_SANDBOX_PG_POOL ?? 10);
}

/**
 * @param statementTimeoutMs server-side `statement_timeout` of every statement on these connections:
 *   the read pool's time budget (PostgreSQL cancels the statement itself, SQLSTATE 57014).
 */
export function createPool(url: string, max = poolSize(), statementTimeoutMs?: number): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    ...(statementTimeoutMs ? { statement_timeout: statementTimeoutMs } : {}),
    // Fail fast while the database is away instead of queueing requests for ever.
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    // A statement that hangs (network cut without RST) must not hold a request for ever.
    query_timeout: 30_000,
  });
  // An idle client losing its connection emits 'error' on the pool; without a listener the process dies.
  pool.on('error', () => undefined);
  return pool;
}

const placeholderCache = new Map<string, string>();

/** `?` → `$1…$n` outside string literals and quoted identifiers; cached per SQL text. */
export function toPg(sql: string): string {
  const hit = placeholderCache.get(sql);
  if (hit !== undefined) return hit;
  let out = '';
  let n = 0;
  let quote: string | undefined;
  for (const ch of sql) {
    if (quote) {
      if (ch === quote) quote = undefined;
      out += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      out += ch;
    } else if (ch === '?') {
      out += `$${++n}`;
    } else out += ch;
  }
  // SQLite's CROSS JOIN … ON (forcing the join order) is a plain inner join in PostgreSQL.
  out = out.replace(/\bCROSS JOIN\b/g, 'JOIN');
  // SQLite's unary `+column` (keeps the planner off an index) has no meaning on text in PostgreSQL.
  out = out.replace(/(^|[\s(])\+(?=[a-z_]+\.[a-z_]+)/g, '$1');
  if (placeholderCache.size > 2000) placeholderCache.clear();
  placeholderCache.set(sql, out);
  return out;
}

/** Connection-level failures (not SQL errors): the database is away or restarting. */
export function isConnectionError(e: unknown): boolean {
  const err = e as { code?: string; message?: string } | undefined;
  if (!err) return false;
  const code = err.code ?? '';
  if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', '57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004'].includes(code))
    return true;
  const msg = err.message ?? '';
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable|Query read timeout/i.test(msg);
}

export function wrapError(e: unknown): unknown {
  return isConnectionError(e) ? new DatabaseUnavailable(e) : e;
}

export async function query<T = Record<string, unknown>>(db: Queryable, sql: string, params: unknown[] = []): Promise<T[]> {
  try {
    return (await db.query(toPg(sql), params)).rows as T[];
  } catch (e) {
    throw wrapError(e);
  }
}

export async function one<T = Record<string, unknown>>(db: Queryable, sql: string, params: unknown[] = []): Promise<T | undefined> {
  return (await query<T>(db, sql, params))[0];
}

/** Rows changed by a statement. */
export async function run(db: Queryable, sql: string, params: unknown[] = []): Promise<number> {
  try {
    return (await db.query(toPg(sql), params)).rowCount ?? 0;
  } catch (e) {
    throw wrapError(e);
  }
}

/** BEGIN … COMMIT on one pooled client; ROLLBACK on any error. Never used for SQLite. */
export async function transaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (e) {
    throw new DatabaseUnavailable(e);
  }
  let broken = false;
  // A checked-out client whose connection drops emits 'error' besides rejecting the query; without
  // a listener that would crash the process (the query's rejection is what we handle).
  const onError = () => {
    broken = true;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (e) {
    broken = isConnectionError(e) || e instanceof DatabaseUnavailable;
    if (!broken) await client.query('ROLLBACK').catch(() => undefined);
    throw wrapError(e);
  } finally {
    client.off('error', onError);
    // A client whose connection failed is discarded, not returned to the pool.
    client.release(broken ? true : undefined);
  }
}
