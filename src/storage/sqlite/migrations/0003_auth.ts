import type { Migration } from '../migrate.js';

/**
 * The authorization server's tables (issue "SMART App Launch 2.2 authorization server").
 *
 * - `oidc_payload`: every oidc-provider artifact (sessions, interactions, grants, codes, tokens, jti
 *   replay entries) as JSON, keyed by tenant + model + id. `client_id` and `account_id` are copied
 *   out of the payload so that removing a client or a persona revokes its artifacts with one DELETE
 *   (docs/architecture.md §4), and the FHIR verifier reads one row by primary key.
 * - `auth_client` / `auth_persona`: apps and users of a sandbox; secrets and passwords hashed.
 * - `auth_key`: per-sandbox signing keys, cookie keys and the registration initial access token,
 *   generated on first use (there are no default secrets).
 * - `smart_context`: the SMART launch context of a grant (docs/auth-server.md §3), keyed by grantId.
 */
export const m0003: Migration = {
  version: 3,
  name: 'auth',
  sql: `
CREATE TABLE oidc_payload (
  tenant INTEGER NOT NULL,
  model TEXT NOT NULL,
  id TEXT NOT NULL,
  payload TEXT NOT NULL,
  grant_id TEXT,
  uid TEXT,
  user_code TEXT,
  client_id TEXT,
  account_id TEXT,
  expires_at INTEGER,
  consumed_at INTEGER,
  PRIMARY KEY (tenant, model, id)
);
CREATE INDEX oidc_payload_grant ON oidc_payload (tenant, grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX oidc_payload_uid ON oidc_payload (tenant, model, uid) WHERE uid IS NOT NULL;
CREATE INDEX oidc_payload_user_code ON oidc_payload (tenant, model, user_code) WHERE user_code IS NOT NULL;
CREATE INDEX oidc_payload_client ON oidc_payload (tenant, client_id) WHERE client_id IS NOT NULL;
CREATE INDEX oidc_payload_account ON oidc_payload (tenant, account_id) WHERE account_id IS NOT NULL;
CREATE INDEX oidc_payload_exp ON oidc_payload (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE auth_client (
  tenant INTEGER NOT NULL,
  client_id TEXT NOT NULL,
  name TEXT NOT NULL,
  auth_method TEXT NOT NULL,
  secret_hash TEXT,
  jwks_uri TEXT,
  jwks TEXT,
  redirect_uris TEXT NOT NULL,
  launch_uri TEXT,
  scope TEXT NOT NULL,
  grant_types TEXT NOT NULL,
  pkce TEXT NOT NULL,
  consent TEXT NOT NULL,
  may_register_launches INTEGER NOT NULL DEFAULT 0,
  access_token_ttl INTEGER,
  refresh_token_ttl INTEGER,
  registered INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, client_id)
);
CREATE INDEX auth_client_launch_uri ON auth_client (tenant, launch_uri) WHERE launch_uri IS NOT NULL;

CREATE TABLE auth_persona (
  tenant INTEGER NOT NULL,
  username TEXT NOT NULL,
  name TEXT NOT NULL,
  resource TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  demo_password TEXT,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, username)
);

CREATE TABLE auth_key (
  tenant INTEGER NOT NULL,
  name TEXT NOT NULL,
  value TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, name)
);

CREATE TABLE smart_context (
  tenant INTEGER NOT NULL,
  grant_id TEXT NOT NULL,
  context TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, grant_id)
);
CREATE INDEX smart_context_exp ON smart_context (expires_at);
`,
};
