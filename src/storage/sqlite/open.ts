/**
 * Opens the embedded SQLite database. WAL with synchronous=NORMAL: a committed transaction survives a
 * process crash (kill -9), which is what "no acknowledged write is lost" asks; only an OS crash or
 * power loss could lose the last transactions, an accepted trade-off for a sandbox (ADR 0002).
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { migrate } from './migrate.js';

export type Sqlite = Database.Database;

export function openSqlite(dataDir: string, opts: { migrate?: boolean } = {}): Sqlite {
  fs.mkdirSync(dataDir, { recursive: true });
  const db = new Database(path.join(dataDir, 'smart-sandbox.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  // Several processes (serve --role api / --role auth, the CLI) share one file: wait for the lock
  // instead of failing with SQLITE_BUSY.
  db.pragma('busy_timeout = 5000');
  db.pragma('cache_size = -65536');
  db.pragma('temp_store = MEMORY');
  if (opts.migrate !== false) migrate(db);
  return db;
}

/** An in-memory database for unit tests of the stores. */
export function openMemorySqlite(): Sqlite {
  const db = new Database(':memory:');
  db.pragma('foreign_keys = ON');
  migrate(db);
  return db;
}
