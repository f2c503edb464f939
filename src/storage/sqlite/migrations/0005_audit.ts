import type { Migration } from '../migrate.js';

/** Append-only audit of launch registrations and uses (docs/architecture.md §5). Launch ids stored hashed. */
export const m0005: Migration = {
  version: 5,
  name: 'audit',
  sql: `
CREATE TABLE audit_event (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant INTEGER NOT NULL,
  recorded_at INTEGER NOT NULL,
  action TEXT NOT NULL,
  outcome TEXT NOT NULL,
  client_id TEXT,
  username TEXT,
  patient TEXT,
  launch_hash TEXT,
  detail TEXT
);
CREATE INDEX audit_event_t ON audit_event (tenant, recorded_at);
CREATE INDEX audit_event_launch ON audit_event (tenant, launch_hash);
`,
};
