/**
 * PostgreSQL for tests (issue #7): a server at TEST_DATABASE_URL (default: local, trust auth). Each
 * test run creates its own database with a random name and drops it afterwards; the machine's shared
 * server is never restarted. Suites that need it skip loudly when it is unreachable, and fail under
 * SMART_SANDBOX_REQUIRE_ALL_SUITES=1 (set by .ci/run, which also starts PostgreSQL).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

let probed: Promise<string | false> | undefined;

/** False when PostgreSQL answers; otherwise the reason (also printed), for `describe(…, { skip })`. */
export function postgresSkip(): Promise<string | false> {
  probed ??= (async () => {
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return false;
    } catch (e) {
      if (process.env.SMART_SANDBOX_REQUIRE_ALL_SUITES === '1')
        throw new Error(`SMART_SANDBOX_REQUIRE_ALL_SUITES=1 but PostgreSQL is unreachable at ${TEST_DATABASE_URL}: ${(e as Error).message}`);
      const why = `PostgreSQL unreachable at ${TEST_DATABASE_URL} (${(e as Error).message}): PostgreSQL suite skipped`;
      console.warn(`# ${why}`);
      return why;
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return probed;
}

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A fresh, empty database on the test server; `drop()` ends every connection to it and drops it. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `ss_test_${crypto.randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return {
    url: withDatabase(TEST_DATABASE_URL, name),
    async drop() {
      const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/**
 * `SMART_SANDBOX_TEST_BACKEND=postgres`: suites written against a data dir run once more on
 * PostgreSQL (test/e2e/postgres-feature-suites.test.ts). The database of a data dir is created on
 * first use and its URL kept in the dir, so that a restart on the same dir finds the same data.
 */
export const ON_POSTGRES = process.env.SMART_SANDBOX_TEST_BACKEND === 'postgres';
const URL_FILE = '.test-database-url';

/** The database URL for `dataDir` on a PostgreSQL run; undefined on SQLite runs. */
export async function testDatabaseUrlFor(dataDir: string): Promise<string | undefined> {
  if (!ON_POSTGRES) return undefined;
  const file = path.join(dataDir, URL_FILE);
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8');
  const db = await createTestDatabase();
  fs.writeFileSync(file, db.url);
  return db.url;
}

/** Drops the database of `dataDir` (if any); call before removing the dir. */
export async function dropTestDatabaseFor(dataDir: string): Promise<void> {
  const file = path.join(dataDir, URL_FILE);
  if (!fs.existsSync(file)) return;
  const name = new URL(fs.readFileSync(file, 'utf8')).pathname.slice(1);
  const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await c.end();
  }
  fs.rmSync(file, { force: true });
}
