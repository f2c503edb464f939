/**
 * Creates every store and service over one database. Used by `serve`, every CLI command and the
 * tests, so that they all act on the same store in the same way.
 */
import fs from 'node:fs';
import { createAuthService, type AuthService } from './auth/service.js';
import { BulkService } from './bulk/service.js';
import type { Clock } from './config/clock.js';
import type { Config } from './config/config.js';
import type { ScenarioStore } from './console/scenarios.js';
import { FhirService } from './fhir/service.js';
import type { AuditLog } from './launch/audit.js';
import type { LaunchStore } from './launch/model.js';
import { LaunchService } from './launch/service.js';
import type { StorageBackend } from './storage/backend.js';
import { openPostgresBackend } from './storage/postgres/backend.js';
import { openSqliteBackend } from './storage/sqlite/backend.js';
import { walLimits } from './storage/sqlite/wal.js';
import type { TenantStore } from './storage/types.js';

export interface Services {
  /** The effective configuration (the public URL may come from the store, see createServices). */
  config: Config;
  /** Every store over the one database (SQLite `--data-dir` or PostgreSQL `--database-url`). */
  backend: StorageBackend;
  tenants: TenantStore;
  launches: LaunchStore;
  audit: AuditLog;
  scenarios: ScenarioStore;
  launch: LaunchService;
  fhir: FhirService;
  auth: AuthService;
  /** Bulk Data `$export` jobs (issue 8); runners start only with `bulk.start()` (buildApp, API role). */
  bulk: BulkService;
  close(): Promise<void>;
}

export class StorageNotAvailable extends Error {}

/** Where `serve` records its public URL, so that CLI commands print URLs of the running server. */
export const PUBLIC_URL_SETTING = 'public_url';

/** Opens the configured database (PostgreSQL when a database URL is set, else SQLite), migrated. */
export async function openBackend(config: Config): Promise<StorageBackend> {
  if (config.databaseUrl) {
    try {
      return await openPostgresBackend(config.databaseUrl, { queryBudgetMs: config.queryBudgetMs });
    } catch (e) {
      throw new StorageNotAvailable(`cannot open the PostgreSQL database: ${(e as Error).message}`);
    }
  }
  checkDataDir(config.dataDir);
  try {
    return openSqliteBackend(config.dataDir, { readWorkers: config.readWorkers, queryBudgetMs: config.queryBudgetMs, wal: walLimits(config.walLimitBytes) });
  } catch (e) {
    // SQLITE_CANTOPEN, SQLITE_NOTADB (smart-sandbox.db is not a database), a read-only directory…
    if ((e as { code?: unknown }).code && typeof (e as { code?: unknown }).code === 'string')
      throw new StorageNotAvailable(`cannot open the SQLite database in ${config.dataDir}: ${(e as Error).message}`);
    throw e;
  }
}

/** The data directory (`--data-dir`, SMART_SANDBOX_DATA) is a directory, or can be made one. */
function checkDataDir(dir: string): void {
  try {
    const stat = fs.statSync(dir, { throwIfNoEntry: false });
    if (stat && !stat.isDirectory()) throw new StorageNotAvailable(`the data directory ${dir} is a file, not a directory (--data-dir or SMART_SANDBOX_DATA)`);
    if (stat) return;
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    if (e instanceof StorageNotAvailable) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOTDIR' || code === 'EEXIST' ? 'a part of its path is a file' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new StorageNotAvailable(`cannot create the data directory ${dir}: ${why} (--data-dir or SMART_SANDBOX_DATA)`);
  }
}

/**
 * @param opts.clock time of the launch lifecycle (tests move it instead of sleeping)
 * @param opts.recordedPublicUrl use the public URL `serve` recorded in the store instead of the
 *   config's default (CLI commands that print URLs, when no --public-url/PUBLIC_URL was given).
 */
export async function createServices(config: Config, opts: { recordedPublicUrl?: boolean; clock?: Clock } = {}): Promise<Services> {
  const backend = await openBackend(config);
  const tenants = backend.tenants;
  const recorded = opts.recordedPublicUrl ? await tenants.getSetting(PUBLIC_URL_SETTING) : undefined;
  if (recorded) config = { ...config, publicUrl: recorded };
  const launches = backend.launches;
  const fhir = new FhirService({ store: backend.resources, config });
  const audit = backend.audit;
  const auth = await createAuthService({ config, backend, tenants, launches, fhir, audit, clock: opts.clock });
  const bulk = new BulkService({ config, jobs: backend.bulkJobs, tenants, fhir });
  const launch = new LaunchService({ publicUrl: config.publicUrl, lifecycle: auth.lifecycle, clients: auth.clients });
  return {
    config,
    backend,
    tenants,
    launches,
    audit,
    scenarios: backend.scenarios,
    launch,
    fhir,
    auth,
    bulk,
    async close() {
      await bulk.stop();
      await auth.close();
      await backend.close();
    },
  };
}
