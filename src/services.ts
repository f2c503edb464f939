/**
 * Creates every store and service over one database. Used by `serve`, every CLI command and the
 * tests, so that they all act on the same store in the same way.
 */
import { createAuthService, type AuthService } from './auth/service.js';
import { BulkService } from './bulk/service.js';
import type { Config } from './config/config.js';
import { FhirService } from './fhir/service.js';
import { type AuditLog, SqliteAuditLog } from './launch/audit.js';
import type { LaunchStore } from './launch/model.js';
import { LaunchService } from './launch/service.js';
import { SqliteLaunchStore } from './storage/sqlite/launch-store.js';
import { openSqlite, type Sqlite } from './storage/sqlite/open.js';
import { SqliteTenantStore } from './storage/sqlite/tenant-store.js';
import type { TenantStore } from './storage/types.js';

export interface Services {
  /** The effective configuration (the public URL may come from the store, see createServices). */
  config: Config;
  db: Sqlite;
  tenants: TenantStore;
  launches: LaunchStore;
  audit: AuditLog;
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

/**
 * @param opts.recordedPublicUrl use the public URL `serve` recorded in the store instead of the
 *   config's default (CLI commands that print URLs, when no --public-url/PUBLIC_URL was given).
 */
export async function createServices(config: Config, opts: { recordedPublicUrl?: boolean } = {}): Promise<Services> {
  if (config.databaseUrl) {
    // Issue #7: the PostgreSQL backend is not built yet. Refuse rather than silently use SQLite.
    throw new StorageNotAvailable('the PostgreSQL backend (--database-url) is not available yet; omit it to use SQLite');
  }
  const db = openSqlite(config.dataDir);
  const tenants = new SqliteTenantStore(db);
  const recorded = opts.recordedPublicUrl ? tenants.getSetting(PUBLIC_URL_SETTING) : undefined;
  if (recorded) config = { ...config, publicUrl: recorded };
  const launches = new SqliteLaunchStore(db);
  const fhir = new FhirService({ db, config });
  const audit = new SqliteAuditLog(db);
  const auth = await createAuthService({ config, db, tenants, launches, fhir, audit });
  const bulk = new BulkService({ config, db, tenants, fhir });
  const launch = new LaunchService({ publicUrl: config.publicUrl, launches, clients: auth.clients, personas: auth.personas, fhir, audit });
  return {
    config,
    db,
    tenants,
    launches,
    audit,
    launch,
    fhir,
    auth,
    bulk,
    async close() {
      await bulk.stop();
      await auth.close();
      audit.close();
      db.close();
    },
  };
}
