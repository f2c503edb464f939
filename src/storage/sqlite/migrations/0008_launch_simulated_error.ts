import type { Migration } from '../migrate.js';

/** A launch may be registered to produce a simulated error (src/launch/model.ts SIMULATED_ERRORS). */
export const m0008: Migration = {
  version: 8,
  name: 'launch simulated errors',
  sql: 'ALTER TABLE launch_context ADD COLUMN simulate_error TEXT;',
};
