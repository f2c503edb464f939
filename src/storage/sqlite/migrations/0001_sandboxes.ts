import type { Migration } from '../migrate.js';

/**
 * Sandboxes (tenants). `key` is the tenant number every other row carries. AUTOINCREMENT never reuses
 * a key, so deleting a sandbox and creating one with the same id starts a new generation that shares
 * nothing with the old one (old tokens, launches and resources keep pointing at the dead key).
 */
export const m0001: Migration = {
  version: 1,
  name: 'sandboxes',
  sql: `
CREATE TABLE sandbox (
  key INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  open_read INTEGER NOT NULL DEFAULT 0,
  open_write INTEGER NOT NULL DEFAULT 0,
  open_registration INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  deleted_at INTEGER
);
CREATE UNIQUE INDEX sandbox_live_id ON sandbox (id) WHERE deleted_at IS NULL;
CREATE TABLE setting (name TEXT PRIMARY KEY, value TEXT NOT NULL);
`,
};
