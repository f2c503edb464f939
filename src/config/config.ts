/**
 * The one validated configuration of a smart-sandbox process.
 *
 * Only `src/main.ts` and the CLI read the environment; everything else receives a `Config`.
 * There are no default secrets: keys and persona passwords are generated into the store on first use.
 */
import path from 'node:path';

export type Role = 'all' | 'api' | 'auth';

export interface Config {
  /** TCP port to listen on (`--port`, `PORT`). */
  port: number;
  /** Interface to bind (`--host`, `HOST`). */
  host: string;
  /** Directory holding the SQLite database and other state (`--data-dir`, `SMART_SANDBOX_DATA`). */
  dataDir: string;
  /** PostgreSQL URL (`--database-url`, `DATABASE_URL`); unset means embedded SQLite in `dataDir`. */
  databaseUrl?: string;
  /** Public base URL clients see (`--public-url`, `PUBLIC_URL`); default `http://{host}:{port}`. */
  publicUrl: string;
  /** Which parts this process serves (docs/architecture.md §3). */
  role: Role;
  /** Create the `demo` sandbox with sample data on first start (`--no-demo` turns it off). */
  demo: boolean;
  /** Largest accepted request body in bytes; larger bodies get 413. */
  bodyLimit: number;
  /** Honour X-Forwarded-Proto/Host from a reverse proxy. */
  trustProxy: boolean;
  /** fastify/pino log level. */
  logLevel: string;
  /**
   * Credential of the web console and its admin API (`SMART_SANDBOX_ADMIN_TOKEN`). On a loopback
   * interface a random one is generated per start and printed in the console link; on any other
   * interface the console is served only when one is configured (no default password).
   */
  adminToken?: string;
  /** Bulk export (issue 8): seconds a finished export's files are kept (`SMART_SANDBOX_BULK_RETENTION`, default 3600). */
  bulkRetentionSeconds: number;
  /** Bulk export (issue 8): run jobs in a worker thread (default) or inline on the event loop, chunked (`SMART_SANDBOX_BULK_RUNNER`). */
  bulkRunner: 'worker' | 'inline';
  /**
   * Time budget of one read query — searches, history, `$everything` — in milliseconds
   * (`SMART_SANDBOX_QUERY_BUDGET_MS`, default 250): past it the request answers 400 `too-costly` and
   * the query is abandoned, so no single request holds the server. PostgreSQL enforces it with
   * `statement_timeout`.
   */
  queryBudgetMs: number;
  /**
   * SQLite: worker threads running read queries under that budget (`SMART_SANDBOX_READ_WORKERS`,
   * default 1). 0 runs them on the event loop, without a budget.
   */
  readWorkers: number;
  /**
   * SQLite (issue 17): size in bytes past which the write-ahead log is checkpointed with TRUNCATE
   * (`SMART_SANDBOX_WAL_LIMIT`, default 64 MiB); `journal_size_limit` is a quarter of it.
   */
  walLimitBytes: number;
}

export class ConfigError extends Error {}

export interface ConfigInput {
  port?: string | number;
  host?: string;
  dataDir?: string;
  databaseUrl?: string;
  publicUrl?: string;
  role?: string;
  demo?: boolean;
  bodyLimit?: string | number;
  trustProxy?: boolean;
  logLevel?: string;
  adminToken?: string;
  bulkRetentionSeconds?: string | number;
  bulkRunner?: string;
  queryBudgetMs?: string | number;
  readWorkers?: string | number;
  walLimitBytes?: string | number;
}

/** Environment variables that map onto config fields (docs/architecture.md §4). */
export function configFromEnv(env: NodeJS.ProcessEnv): ConfigInput {
  return {
    port: env.PORT,
    host: env.HOST,
    dataDir: env.SMART_SANDBOX_DATA,
    databaseUrl: env.DATABASE_URL,
    publicUrl: env.PUBLIC_URL,
    role: env.SMART_SANDBOX_ROLE,
    bodyLimit: env.SMART_SANDBOX_BODY_LIMIT,
    trustProxy: env.SMART_SANDBOX_TRUST_PROXY === 'true' ? true : undefined,
    logLevel: env.LOG_LEVEL,
    adminToken: env.SMART_SANDBOX_ADMIN_TOKEN,
    bulkRetentionSeconds: env.SMART_SANDBOX_BULK_RETENTION,
    bulkRunner: env.SMART_SANDBOX_BULK_RUNNER,
    queryBudgetMs: env.SMART_SANDBOX_QUERY_BUDGET_MS,
    readWorkers: env.SMART_SANDBOX_READ_WORKERS,
    walLimitBytes: env.SMART_SANDBOX_WAL_LIMIT,
  };
}

function int(name: string, v: string | number | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined || v === '') return dflt;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got ${v}`);
  return n;
}

/** True for 127.0.0.0/8, ::1 and localhost: interfaces only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Merge inputs (earlier wins) and validate. */
export function resolveConfig(...inputs: ConfigInput[]): Config {
  const pick = <K extends keyof ConfigInput>(k: K): ConfigInput[K] => {
    for (const i of inputs) if (i[k] !== undefined && i[k] !== '') return i[k];
    return undefined;
  };
  const port = int('port', pick('port'), 8080, 0, 65535);
  const host = (pick('host') as string | undefined) ?? '127.0.0.1';
  const role = (pick('role') as string | undefined) ?? 'all';
  if (role !== 'all' && role !== 'api' && role !== 'auth') throw new ConfigError(`role must be all, api or auth, got ${role}`);
  const databaseUrl = pick('databaseUrl') as string | undefined;
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl))
    throw new ConfigError('database-url must be a postgres:// URL');
  let publicUrl = (pick('publicUrl') as string | undefined) ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  try {
    const u = new URL(publicUrl);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
    if (u.search || u.hash) throw new Error();
  } catch {
    throw new ConfigError(`public-url must be an absolute http(s) URL without query, got ${publicUrl}`);
  }
  publicUrl = publicUrl.replace(/\/+$/, '');
  const logLevel = (pick('logLevel') as string | undefined) ?? 'warn';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel))
    throw new ConfigError(`log level ${logLevel} is unknown`);
  const adminToken = pick('adminToken') as string | undefined;
  if (adminToken !== undefined && (adminToken.length < 16 || /\s/.test(adminToken)))
    throw new ConfigError('the admin token must have at least 16 characters and no spaces');
  const bulkRunner = (pick('bulkRunner') as string | undefined) ?? 'worker';
  if (bulkRunner !== 'worker' && bulkRunner !== 'inline') throw new ConfigError(`bulk runner must be worker or inline, got ${bulkRunner}`);
  return {
    adminToken,
    bulkRetentionSeconds: int('bulk-retention', pick('bulkRetentionSeconds'), 3600, 1, 30 * 24 * 3600),
    bulkRunner,
    port,
    host,
    dataDir: path.resolve((pick('dataDir') as string | undefined) ?? './.smart-sandbox'),
    databaseUrl,
    publicUrl,
    role,
    demo: (pick('demo') as boolean | undefined) ?? true,
    bodyLimit: int('body-limit', pick('bodyLimit'), 16 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    walLimitBytes: int('wal-limit', pick('walLimitBytes'), 64 * 1024 * 1024, 1024 * 1024, 64 * 1024 * 1024 * 1024),
    trustProxy: (pick('trustProxy') as boolean | undefined) ?? false,
    logLevel,
    queryBudgetMs: int('query-budget-ms', pick('queryBudgetMs'), 250, 1, 600_000),
    readWorkers: int('read-workers', pick('readWorkers'), 1, 0, 64),
  };
}
