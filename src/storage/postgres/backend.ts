/**
 * The PostgreSQL backend (`--database-url` / `DATABASE_URL`): every store over one `pg` Pool, the
 * schema migrated on open under an advisory lock. Several nodes share one database; no node keeps
 * state another needs (ADR 0004).
 */
import { PgBulkJobStore } from './bulk-store.js';
import type pg from 'pg';
import type { StorageBackend } from '../backend.js';
import { PgAuthKeyStore, PgOidcPayloadStore, PgSmartContextStore } from './auth-stores.js';
import { PgLaunchStore } from './launch-store.js';
import { migratePostgres } from './migrate.js';
import { pgAuditLog, PgScenarioStore } from './misc-stores.js';
import { PgClientStore, PgPersonaStore } from './people-stores.js';
import { createPool, poolSize, query } from './pool.js';
import { PgResourceStore } from './resource-store.js';
import { PgTenantStore } from './tenant-store.js';

/**
 * @param reads a second, smaller pool whose statements PostgreSQL cancels past the query budget;
 *   searches and history run there (the store layer's time budget), writes never do.
 */
export function postgresBackend(pool: pg.Pool, reads?: { pool: pg.Pool; budgetMs: number }): StorageBackend & { pool: pg.Pool } {
  let open = true;
  const audit = pgAuditLog(pool, () => open);
  return {
    kind: 'postgres',
    pool,
    tenants: new PgTenantStore(pool),
    launches: new PgLaunchStore(pool),
    resources: new PgResourceStore(pool, reads),
    audit,
    scenarios: new PgScenarioStore(pool),
    oidc: new PgOidcPayloadStore(pool),
    contexts: new PgSmartContextStore(pool),
    keys: new PgAuthKeyStore(pool),
    bulkJobs: new PgBulkJobStore(pool),
    clients: new PgClientStore(pool),
    personas: (fhir) => new PgPersonaStore(pool, fhir),
    async ping() {
      await query(pool, 'SELECT 1');
    },
    async close() {
      await audit.close().catch(() => undefined);
      open = false;
      await reads?.pool.end();
      await pool.end();
    },
  };
}

/** Opens a pool on `url` and applies pending migrations (with the migration lock). */
export async function openPostgresBackend(url: string, opts: { queryBudgetMs?: number } = {}): Promise<StorageBackend & { pool: pg.Pool }> {
  const pool = createPool(url);
  try {
    await migratePostgres(pool);
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw e;
  }
  const budgetMs = opts.queryBudgetMs;
  return postgresBackend(pool, budgetMs ? { pool: createPool(url, Math.max(2, Math.ceil(poolSize() / 2)), budgetMs), budgetMs } : undefined);
}
