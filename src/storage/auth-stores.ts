/**
 * Store interfaces of the authorization server (docs/auth-server.md §3–4). Everything two nodes must
 * share lives behind them, in the database: oidc-provider artifacts (sessions, interactions, grants,
 * codes, tokens, `jti` replay records), SMART launch contexts per grant, and per-sandbox keys.
 * Implementations: `sqlite/` (synchronous inside, resolved promises) and `postgres/`.
 */

export type SmartContext = Record<string, unknown>;

/** SMART launch context per grant, keyed by grantId (it survives refreshes). */
export interface SmartContextStore {
  set(sandboxKey: number, grantId: string, context: SmartContext, expiresAt: number): Promise<void>;
  get(sandboxKey: number, grantId: string): Promise<SmartContext | undefined>;
  purgeExpired(now?: number): Promise<number>;
  purgeSandbox(sandboxKey: number): Promise<void>;
}

/** Per-sandbox secrets: signing JWKS, cookie keys, the registration initial access token. */
export interface AuthKeyStore {
  get(sandboxKey: number, name: string): Promise<string | undefined>;
  /**
   * A version stamp of the value (when it was last set; strictly increasing per `set`), or undefined
   * when absent: one cheap read tells a node whether keys changed (`keys rotate` by the CLI or another node).
   */
  stamp(sandboxKey: number, name: string): Promise<number | undefined>;
  /** The stored value, creating it with `make()` when absent (the first writer wins across nodes). */
  getOrCreate(sandboxKey: number, name: string, make: () => string): Promise<string>;
  set(sandboxKey: number, name: string, value: string): Promise<void>;
  purgeSandbox(sandboxKey: number): Promise<void>;
}

/** One oidc-provider artifact as stored. */
export interface PayloadRow {
  tenant: number;
  model: string;
  id: string;
  payload: string;
  grant_id: string | null;
  uid: string | null;
  user_code: string | null;
  client_id: string | null;
  account_id: string | null;
  expires_at: number | null;
}

export interface FoundPayload {
  payload: string;
  consumed_at: number | null;
  expires_at: number | null;
}

/** The `oidc_payload` table: every oidc-provider model of every sandbox, keyed by tenant + model + id. */
export interface OidcPayloadStore {
  /** A live (unexpired at `now`) artifact by id, uid or user code. */
  find(tenant: number, model: string, by: 'id' | 'uid' | 'user_code', value: string, now: number): Promise<FoundPayload | undefined>;
  upsert(row: PayloadRow): Promise<void>;
  /** Inserts unless a live row with the same key exists (jti replay); false when one did. */
  insertOnce(row: PayloadRow, now: number): Promise<boolean>;
  /** Atomically marks the artifact consumed; false when it already was (exactly one caller wins). */
  consume(tenant: number, model: string, id: string, now: number): Promise<boolean>;
  grantOf(tenant: number, model: string, id: string): Promise<string | undefined>;
  /**
   * The client a live artifact (e.g. a refresh token) was issued to (public-client refresh). Consumed
   * ones count too, so that a replayed refresh token reaches reuse detection (RFC 9700 §4.14.2).
   */
  clientOf(tenant: number, model: string, id: string, now?: number): Promise<string | undefined>;
  destroy(tenant: number, model: string, id: string): Promise<void>;
  revokeGrant(tenant: number, grantId: string): Promise<void>;
  /** The FHIR verifier's lookups: an access token by its opaque value, and whether a session lives. */
  accessToken(tenant: number, id: string): Promise<FoundPayload | undefined>;
  sessionLive(tenant: number, uid: string, now: number): Promise<boolean>;
  purgeExpired(now?: number): Promise<number>;
  purgeSandbox(tenant: number): Promise<void>;
}
