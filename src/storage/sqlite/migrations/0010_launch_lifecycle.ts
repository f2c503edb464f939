import type { Migration } from '../migrate.js';

/**
 * The launch lifecycle (docs/adr/0005-launch-lifecycle.md): a launch may be bound to several apps
 * (every app whose launch URI matches a CDS Hooks card link), remembers who registered it (only
 * orchestrators' launches sign in without a password) and, for app users, the authorization-server
 * session of the registering token. An app may set the default lifetime of its launches.
 * Same columns as PostgreSQL's migration 10.
 */
export const m0010: Migration = {
  version: 10,
  name: 'launch lifecycle',
  sql: `
ALTER TABLE launch_context ADD COLUMN bound_clients TEXT;
ALTER TABLE launch_context ADD COLUMN authority TEXT;
ALTER TABLE launch_context ADD COLUMN session_uid TEXT;
ALTER TABLE auth_client ADD COLUMN launch_ttl INTEGER;
`,
};
