import type { Migration } from '../migrate.js';

/**
 * FHIR resources, their history and their search indexes (docs/storage.md §2). Every row carries
 * `tenant` (= Sandbox.key). `rid` is the integer surrogate every index row joins on; `pid` is a small
 * integer from the persisted `sp` dictionary of (resource type, search parameter code), so index keys
 * stay short. Dates are epoch-ms inclusive ranges. `content` holds the stored JSON with `meta` set, so a
 * read returns it untouched. Index rows are deleted and re-inserted per rid on every write; compartment
 * rows are kept on delete (they describe the last version, for history confinement).
 */
export const m0002: Migration = {
  version: 2,
  name: 'fhir resources and indexes',
  sql: `
CREATE TABLE sp (pid INTEGER PRIMARY KEY, rtype TEXT NOT NULL, code TEXT NOT NULL, UNIQUE (rtype, code));
CREATE TABLE resource (
  rid INTEGER PRIMARY KEY,
  tenant INTEGER NOT NULL,
  rtype TEXT NOT NULL,
  id TEXT NOT NULL,
  version INTEGER NOT NULL,
  last_updated INTEGER NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0,
  content TEXT,
  UNIQUE (tenant, rtype, id)
);
CREATE INDEX resource_lu ON resource (tenant, rtype, last_updated);
CREATE TABLE resource_version (
  rid INTEGER NOT NULL,
  version INTEGER NOT NULL,
  tenant INTEGER NOT NULL,
  rtype TEXT NOT NULL,
  id TEXT NOT NULL,
  last_updated INTEGER NOT NULL,
  method TEXT NOT NULL,
  content TEXT,
  PRIMARY KEY (rid, version)
);
CREATE INDEX rv_lu ON resource_version (tenant, last_updated);
CREATE INDEX rv_type_lu ON resource_version (tenant, rtype, last_updated);
CREATE TABLE ix_token (rid INTEGER NOT NULL, tenant INTEGER NOT NULL, pid INTEGER NOT NULL, system TEXT, code TEXT);
CREATE INDEX ix_token_v ON ix_token (tenant, pid, code, system, rid);
CREATE INDEX ix_token_r ON ix_token (rid, pid);
CREATE TABLE ix_token_text (rid INTEGER NOT NULL, tenant INTEGER NOT NULL, pid INTEGER NOT NULL, norm TEXT NOT NULL);
CREATE INDEX ix_token_text_v ON ix_token_text (tenant, pid, norm, rid);
CREATE INDEX ix_token_text_r ON ix_token_text (rid, pid);
CREATE TABLE ix_string (rid INTEGER NOT NULL, tenant INTEGER NOT NULL, pid INTEGER NOT NULL, norm TEXT NOT NULL, exact TEXT NOT NULL);
CREATE INDEX ix_string_v ON ix_string (tenant, pid, norm, rid);
CREATE INDEX ix_string_r ON ix_string (rid, pid);
CREATE TABLE ix_date (rid INTEGER NOT NULL, tenant INTEGER NOT NULL, pid INTEGER NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL);
CREATE INDEX ix_date_v ON ix_date (tenant, pid, lo, hi, rid);
CREATE INDEX ix_date_r ON ix_date (rid, pid, lo);
CREATE TABLE ix_number (rid INTEGER NOT NULL, tenant INTEGER NOT NULL, pid INTEGER NOT NULL, lo REAL, hi REAL);
CREATE INDEX ix_number_v ON ix_number (tenant, pid, lo, rid);
CREATE INDEX ix_number_r ON ix_number (rid, pid);
CREATE TABLE ix_quantity (rid INTEGER NOT NULL, tenant INTEGER NOT NULL, pid INTEGER NOT NULL, value REAL, system TEXT, code TEXT);
CREATE INDEX ix_quantity_v ON ix_quantity (tenant, pid, value, rid);
CREATE INDEX ix_quantity_r ON ix_quantity (rid, pid);
CREATE TABLE ix_uri (rid INTEGER NOT NULL, tenant INTEGER NOT NULL, pid INTEGER NOT NULL, uri TEXT NOT NULL);
CREATE INDEX ix_uri_v ON ix_uri (tenant, pid, uri, rid);
CREATE INDEX ix_uri_r ON ix_uri (rid, pid);
CREATE TABLE ix_ref (rid INTEGER NOT NULL, tenant INTEGER NOT NULL, pid INTEGER NOT NULL, ttype TEXT, tid TEXT, url TEXT);
CREATE INDEX ix_ref_v ON ix_ref (tenant, pid, tid, ttype, rid);
CREATE INDEX ix_ref_t ON ix_ref (tenant, tid, ttype, pid, rid);
CREATE INDEX ix_ref_r ON ix_ref (rid, pid);
CREATE TABLE ix_composite (
  rid INTEGER NOT NULL, tenant INTEGER NOT NULL, pid INTEGER NOT NULL,
  c1_system TEXT, c1_code TEXT,
  c2_num REAL, c2_system TEXT, c2_code TEXT, c2_lo INTEGER, c2_hi INTEGER, c2_str TEXT
);
CREATE INDEX ix_composite_v ON ix_composite (tenant, pid, c1_code, rid);
CREATE INDEX ix_composite_r ON ix_composite (rid, pid);
CREATE TABLE compartment (rid INTEGER NOT NULL, tenant INTEGER NOT NULL, patient TEXT NOT NULL);
CREATE INDEX compartment_v ON compartment (tenant, patient, rid);
CREATE INDEX compartment_r ON compartment (rid);
`,
};
