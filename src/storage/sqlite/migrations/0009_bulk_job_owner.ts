import type { Migration } from '../migrate.js';

/**
 * Bulk export jobs belong to the client AND the user (or system client) that started them (issue 12):
 * `owner` is src/bulk/store.ts jobOwner() — `user:{sub}` or `client`. Existing jobs take it from their
 * kick-off grant. PostgreSQL migration 9 is the same.
 */
export const m0009: Migration = {
  version: 9,
  name: 'bulk export jobs belong to a client and a user',
  sql: `
ALTER TABLE bulk_job ADD COLUMN owner TEXT NOT NULL DEFAULT 'client';
UPDATE bulk_job SET owner = 'user:' || json_extract(grant_json, '$.sub') WHERE json_extract(grant_json, '$.sub') IS NOT NULL;
DROP INDEX bulk_job_client;
CREATE INDEX bulk_job_client ON bulk_job (tenant, client_id, owner, status);
`,
};
