/**
 * Versioned PostgreSQL migrations, applied on start and by `smart-sandbox migrate`. Everything runs in
 * ONE transaction that first takes a transaction-level advisory lock, so of several nodes starting at
 * once one migrates and the others wait, then find nothing left to do (PostgreSQL DDL is transactional).
 */
import type pg from 'pg';
import { transaction } from './pool.js';
import { pgMigrations } from './migrations.js';

/** Arbitrary constant identifying "smart-sandbox schema migration" among advisory locks. */
const MIGRATION_LOCK = 0x5353_4d47;

export async function migratePostgres(pool: pg.Pool): Promise<number[]> {
  return transaction(pool, async (c) => {
    await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await c.query('CREATE TABLE IF NOT EXISTS schema_migration (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
    const done = new Set((await c.query('SELECT version FROM schema_migration')).rows.map((r: { version: number }) => r.version));
    const applied: number[] = [];
    for (const m of [...pgMigrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      await c.query(m.sql);
      await c.query('INSERT INTO schema_migration (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
      applied.push(m.version);
    }
    return applied;
  });
}
