/**
 * Opens the embedded SQLite database. WAL with synchronous=NORMAL: a committed transaction survives a
 * process crash (kill -9), which is what "no acknowledged write is lost" asks; only an OS crash or
 * power loss could lose the last transactions, an accepted trade-off for a sandbox (ADR 0002).
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { migrate } from './migrate.js';
import { walLimits, type WalLimits } from './wal.js';

export type Sqlite = Database.Database;

/** Page size of databases created from now on (existing files keep theirs). */
export const PAGE_SIZE = 1024;

export function openSqlite(dataDir: string, opts: { migrate?: boolean; wal?: WalLimits } = {}): Sqlite {
  fs.mkdirSync(dataDir, { recursive: true });
  const db = new Database(path.join(dataDir, 'smart-sandbox.db'));
  // 1 KiB pages: every commit writes each b-tree page it touches whole into the WAL, and one FHIR
  // create touches ~45 pages (the resource, its history row, ~9 index tables with their indexes, the
  // compartment): 187 KB of WAL per create with 4 KiB pages, 64 KB with 1 KiB, for the same search
  // latency (issue 17). Takes effect only when the file is created; an existing database keeps its size.
  db.pragma(`page_size = ${PAGE_SIZE}`);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  // After the WAL starts over, SQLite cuts the file back to this size instead of keeping its
  // high-water mark (the bound itself: wal.ts).
  db.pragma(`journal_size_limit = ${(opts.wal ?? walLimits()).journalSizeLimitBytes}`);
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
