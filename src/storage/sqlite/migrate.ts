/**
 * Versioned schema migrations. Each migration runs once, inside one transaction, in version order;
 * `BEGIN IMMEDIATE` takes the write lock first so that two processes starting at once do not race.
 */
import type Database from 'better-sqlite3';
import { migrations } from './migrations/index.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function migrate(db: Database.Database): number[] {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migration (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const applied: number[] = [];
  const run = db.transaction(() => {
    const done = new Set((db.prepare('SELECT version FROM schema_migration').all() as { version: number }[]).map((r) => r.version));
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migration (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
      applied.push(m.version);
    }
  });
  run.immediate();
  return applied;
}
