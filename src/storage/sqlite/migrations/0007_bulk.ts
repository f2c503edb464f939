import type { Migration } from '../migrate.js';

/**
 * Bulk Data export jobs (issue 8; Bulk Data Access IG 2.0 §"Bulk Data Kick-off Request"). A job is a
 * row, so that it survives a restart (queued/running jobs are re-run on start) and so that a worker
 * thread with its own connection can report progress. Output files live on disk under
 * `{dataDir}/exports/{tenant}/{id}/`; `output` holds the finished manifest's file list.
 *
 * `grant_json` is the access grant of the kick-off token (scopes, patient context, fhirUser): the
 * export is authorised once, at kick-off, exactly like a search with that token, and runs under it.
 */
export const m0007: Migration = {
  version: 7,
  name: 'bulk data export jobs',
  sql: `
CREATE TABLE bulk_job (
  id TEXT PRIMARY KEY,
  tenant INTEGER NOT NULL,
  client_id TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
  request_url TEXT NOT NULL,
  request_json TEXT NOT NULL,
  grant_json TEXT NOT NULL,
  transaction_time INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  expires_at INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0,
  progress TEXT,
  output_json TEXT,
  error TEXT
);
CREATE INDEX bulk_job_client ON bulk_job (tenant, client_id, status);
CREATE INDEX bulk_job_status ON bulk_job (status);
`,
};
