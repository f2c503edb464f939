/**
 * PostgreSQL stores of the authorization server: oidc-provider artifacts, SMART contexts per grant
 * and per-sandbox keys. Everything a second node needs is here, so any auth node can continue a flow
 * another began, and any API node sees a revocation at once (the verifier reads the token row).
 */
import type pg from 'pg';
import type { AuthKeyStore, FoundPayload, OidcPayloadStore, PayloadRow, SmartContext, SmartContextStore } from '../auth-stores.js';
import { one, run } from './pool.js';

const COLS = '(tenant, model, id, payload, grant_id, uid, user_code, client_id, account_id, expires_at)';
const vals = (r: PayloadRow) => [r.tenant, r.model, r.id, r.payload, r.grant_id, r.uid, r.user_code, r.client_id, r.account_id, r.expires_at];

export class PgOidcPayloadStore implements OidcPayloadStore {
  constructor(private readonly pool: pg.Pool) {}

  async find(tenant: number, model: string, by: 'id' | 'uid' | 'user_code', value: string, now: number): Promise<FoundPayload | undefined> {
    const col = { id: 'id', uid: 'uid', user_code: 'user_code' }[by];
    return one<FoundPayload>(
      this.pool,
      `SELECT payload, consumed_at, expires_at FROM oidc_payload WHERE tenant = ? AND model = ? AND ${col} = ? AND (expires_at IS NULL OR expires_at > ?)`,
      [tenant, model, value, now],
    );
  }

  async upsert(row: PayloadRow): Promise<void> {
    await run(
      this.pool,
      `INSERT INTO oidc_payload ${COLS} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (tenant, model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid,
         user_code = excluded.user_code, client_id = excluded.client_id, account_id = excluded.account_id, expires_at = excluded.expires_at`,
      vals(row),
    );
  }

  async insertOnce(row: PayloadRow, now: number): Promise<boolean> {
    const n = await run(
      this.pool,
      `INSERT INTO oidc_payload ${COLS} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (tenant, model, id) DO UPDATE SET payload = excluded.payload, expires_at = excluded.expires_at
       WHERE oidc_payload.expires_at IS NOT NULL AND oidc_payload.expires_at <= ?`,
      [...vals(row), now],
    );
    return n > 0;
  }

  async consume(tenant: number, model: string, id: string, now: number): Promise<boolean> {
    return (await run(this.pool, 'UPDATE oidc_payload SET consumed_at = ? WHERE tenant = ? AND model = ? AND id = ? AND consumed_at IS NULL', [now, tenant, model, id])) === 1;
  }

  async grantOf(tenant: number, model: string, id: string): Promise<string | undefined> {
    return (await one<{ grant_id: string | null }>(this.pool, 'SELECT grant_id FROM oidc_payload WHERE tenant = ? AND model = ? AND id = ?', [tenant, model, id]))?.grant_id ?? undefined;
  }

  async clientOf(tenant: number, model: string, id: string, now = Date.now()): Promise<string | undefined> {
    // Consumed artifacts too: a replayed refresh token must reach oidc-provider's reuse detection (RFC 9700 §4.14.2).
    const r = await one<{ client_id: string | null }>(
      this.pool,
      'SELECT client_id FROM oidc_payload WHERE tenant = ? AND model = ? AND id = ? AND (expires_at IS NULL OR expires_at > ?)',
      [tenant, model, id, now],
    );
    return r?.client_id ?? undefined;
  }

  async destroy(tenant: number, model: string, id: string): Promise<void> {
    await run(this.pool, 'DELETE FROM oidc_payload WHERE tenant = ? AND model = ? AND id = ?', [tenant, model, id]);
  }

  async revokeGrant(tenant: number, grantId: string): Promise<void> {
    await run(this.pool, 'DELETE FROM oidc_payload WHERE tenant = ? AND grant_id = ?', [tenant, grantId]);
  }

  async accessToken(tenant: number, id: string): Promise<FoundPayload | undefined> {
    return one<FoundPayload>(
      this.pool,
      "SELECT payload, consumed_at, expires_at FROM oidc_payload WHERE tenant = ? AND model IN ('AccessToken', 'ClientCredentials') AND id = ?",
      [tenant, id],
    );
  }

  async sessionLive(tenant: number, uid: string, now: number): Promise<boolean> {
    return (
      (await one(this.pool, "SELECT 1 FROM oidc_payload WHERE tenant = ? AND model = 'Session' AND uid = ? AND (expires_at IS NULL OR expires_at > ?)", [
        tenant,
        uid,
        now,
      ])) !== undefined
    );
  }

  async purgeExpired(now = Date.now()): Promise<number> {
    return run(this.pool, 'DELETE FROM oidc_payload WHERE expires_at IS NOT NULL AND expires_at <= ?', [now]);
  }

  async purgeSandbox(tenant: number): Promise<void> {
    await run(this.pool, 'DELETE FROM oidc_payload WHERE tenant = ?', [tenant]);
  }
}

export class PgSmartContextStore implements SmartContextStore {
  constructor(private readonly pool: pg.Pool) {}

  async set(sandboxKey: number, grantId: string, context: SmartContext, expiresAt: number): Promise<void> {
    await run(
      this.pool,
      `INSERT INTO smart_context (tenant, grant_id, context, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (tenant, grant_id) DO UPDATE SET context = excluded.context, expires_at = excluded.expires_at`,
      [sandboxKey, grantId, JSON.stringify(context), expiresAt],
    );
  }

  async get(sandboxKey: number, grantId: string): Promise<SmartContext | undefined> {
    const r = await one<{ context: string }>(this.pool, 'SELECT context FROM smart_context WHERE tenant = ? AND grant_id = ? AND expires_at > ?', [sandboxKey, grantId, Date.now()]);
    return r ? (JSON.parse(r.context) as SmartContext) : undefined;
  }

  async purgeExpired(now = Date.now()): Promise<number> {
    return run(this.pool, 'DELETE FROM smart_context WHERE expires_at <= ?', [now]);
  }

  async purgeSandbox(sandboxKey: number): Promise<void> {
    await run(this.pool, 'DELETE FROM smart_context WHERE tenant = ?', [sandboxKey]);
  }
}

export class PgAuthKeyStore implements AuthKeyStore {
  constructor(private readonly pool: pg.Pool) {}

  async get(sandboxKey: number, name: string): Promise<string | undefined> {
    return (await one<{ value: string }>(this.pool, 'SELECT value FROM auth_key WHERE tenant = ? AND name = ?', [sandboxKey, name]))?.value;
  }

  async stamp(sandboxKey: number, name: string): Promise<number | undefined> {
    return (await one<{ created_at: number }>(this.pool, 'SELECT created_at FROM auth_key WHERE tenant = ? AND name = ?', [sandboxKey, name]))?.created_at;
  }

  async getOrCreate(sandboxKey: number, name: string, make: () => string): Promise<string> {
    const found = await this.get(sandboxKey, name);
    if (found !== undefined) return found;
    // Two nodes generating at once: ON CONFLICT DO NOTHING keeps the first row, both read it back.
    await run(this.pool, 'INSERT INTO auth_key (tenant, name, value, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING', [sandboxKey, name, make(), Date.now()]);
    return (await this.get(sandboxKey, name)) as string;
  }

  async set(sandboxKey: number, name: string, value: string): Promise<void> {
    await run(
      this.pool,
      `INSERT INTO auth_key (tenant, name, value, created_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (tenant, name) DO UPDATE SET value = excluded.value, created_at = GREATEST(excluded.created_at, auth_key.created_at + 1)`,
      [sandboxKey, name, value, Date.now()],
    );
  }

  async purgeSandbox(sandboxKey: number): Promise<void> {
    await run(this.pool, 'DELETE FROM auth_key WHERE tenant = ?', [sandboxKey]);
  }
}
