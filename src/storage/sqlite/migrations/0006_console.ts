import type { Migration } from '../migrate.js';

/**
 * Saved launch scenarios of the console (issue 6; HSPC's `LaunchScenario`, docs/hspc-compatibility.md §3):
 * app + persona + context, relaunched in one click. Rows carry the tenant key, so a re-created
 * sandbox (new key) starts with none.
 */
export const m0006: Migration = {
  version: 6,
  name: 'console launch scenarios',
  sql: `
CREATE TABLE console_scenario (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant INTEGER NOT NULL,
  name TEXT NOT NULL,
  description TEXT,
  client_id TEXT NOT NULL,
  username TEXT,
  parameters TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_launched_at INTEGER,
  UNIQUE (tenant, name)
);
CREATE INDEX console_scenario_t ON console_scenario (tenant, id);
`,
};
