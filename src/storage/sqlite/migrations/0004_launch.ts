import type { Migration } from '../migrate.js';

/** Registered launch contexts (docs/architecture.md §5). Ids are stored hashed. */
export const m0004: Migration = {
  version: 4,
  name: 'launch contexts',
  sql: `
CREATE TABLE launch_context (
  tenant INTEGER NOT NULL,
  id_hash TEXT NOT NULL,
  client_id TEXT,
  username TEXT,
  parameters TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  consumed_at INTEGER,
  PRIMARY KEY (tenant, id_hash)
);
CREATE INDEX launch_context_exp ON launch_context (expires_at);
CREATE INDEX launch_context_recent ON launch_context (tenant, created_at);
`,
};
