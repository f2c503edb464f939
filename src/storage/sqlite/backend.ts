/** The SQLite backend: every store over one better-sqlite3 connection (the default, `--data-dir`). */
import { SqliteBulkJobStore } from '../../bulk/store.js';
import { SqliteScenarioStore } from '../../console/scenarios.js';
import { SqliteAuditLog } from '../../launch/audit.js';
import type { StorageBackend } from '../backend.js';
import { SqliteAuthKeyStore } from './auth-key-store.js';
import { SqliteClientStore } from './client-store.js';
import { SqliteResourceStore } from './fhir/resource-store.js';
import { SqliteLaunchStore } from './launch-store.js';
import { OidcPayloadTable } from './oidc-adapter.js';
import { openSqlite, type Sqlite } from './open.js';
import { SqlitePersonaStore } from './persona-store.js';
import { SqliteReadPool } from './read-pool.js';
import { SqliteSmartContextStore } from './smart-context-store.js';
import { SqliteTenantStore } from './tenant-store.js';

/** The SQLite connection of a backend, or undefined on PostgreSQL (SQLite-only upkeep: WAL checkpoints). */
export function sqliteOf(backend: StorageBackend): Sqlite | undefined {
  return backend.kind === 'sqlite' ? (backend as StorageBackend & { db: Sqlite }).db : undefined;
}

export interface SqliteBackendOptions {
  /** Worker threads for read queries with a time budget; 0 runs them on the connection itself. */
  readWorkers?: number;
  /** Time budget of one read query in milliseconds. */
  queryBudgetMs?: number;
}

export function sqliteBackend(db: Sqlite, opts: SqliteBackendOptions = {}): StorageBackend & { db: Sqlite } {
  const audit = new SqliteAuditLog(db);
  // An in-memory database cannot be shared with another thread.
  const reads = opts.readWorkers && !db.memory ? new SqliteReadPool(db.name, { size: opts.readWorkers, budgetMs: opts.queryBudgetMs ?? 250 }) : undefined;
  return {
    kind: 'sqlite',
    db,
    tenants: new SqliteTenantStore(db),
    launches: new SqliteLaunchStore(db),
    resources: new SqliteResourceStore(db, reads),
    audit,
    scenarios: new SqliteScenarioStore(db),
    oidc: new OidcPayloadTable(db),
    contexts: new SqliteSmartContextStore(db),
    keys: new SqliteAuthKeyStore(db),
    bulkJobs: new SqliteBulkJobStore(db),
    clients: new SqliteClientStore(db),
    personas: (fhir) => new SqlitePersonaStore(db, fhir),
    async ping() {
      db.prepare('SELECT 1').get();
    },
    async close() {
      await reads?.close();
      await audit.close();
      db.close();
    },
  };
}

export function openSqliteBackend(dataDir: string, opts: SqliteBackendOptions = {}): StorageBackend & { db: Sqlite } {
  return sqliteBackend(openSqlite(dataDir), opts);
}
