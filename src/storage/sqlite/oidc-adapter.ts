/**
 * The `oidc_payload` table on SQLite (docs/auth-server.md §4): one table for every oidc-provider model
 * of every sandbox, keyed by tenant + model + id. The adapter itself (src/auth/adapter.ts) is shared
 * by both backends.
 *
 * - `consume()` is a conditional UPDATE: of two concurrent redemptions of a code or refresh token
 *   (possibly on two processes) exactly one changes the row.
 * - `insertOnce()` (client assertion `jti`) is an INSERT that is a no-op on a live duplicate, so a
 *   replayed assertion is refused across processes too.
 */
import type { FoundPayload, OidcPayloadStore, PayloadRow } from '../auth-stores.js';
import type { Sqlite } from './open.js';

export class OidcPayloadTable implements OidcPayloadStore {
  private readonly finders;
  private readonly upsertQ;
  private readonly insertOnceQ;
  private readonly consumeQ;
  private readonly grantOfQ;
  private readonly clientQ;
  private readonly destroyQ;
  private readonly revokeGrantQ;
  private readonly tokenQ;
  private readonly sessionQ;
  constructor(readonly db: Sqlite) {
    const live = '(expires_at IS NULL OR expires_at > @now)';
    const sel = (col: string) =>
      db.prepare(`SELECT payload, consumed_at, expires_at FROM oidc_payload WHERE tenant = @tenant AND model = @model AND ${col} = @value AND ${live}`);
    this.finders = { id: sel('id'), uid: sel('uid'), user_code: sel('user_code') };
    const cols = '(tenant, model, id, payload, grant_id, uid, user_code, client_id, account_id, expires_at)';
    const vals = '(@tenant, @model, @id, @payload, @grant_id, @uid, @user_code, @client_id, @account_id, @expires_at)';
    this.upsertQ = db.prepare(
      `INSERT INTO oidc_payload ${cols} VALUES ${vals}
       ON CONFLICT (tenant, model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid,
         user_code = excluded.user_code, client_id = excluded.client_id, account_id = excluded.account_id, expires_at = excluded.expires_at`,
    );
    // A live row with the same id makes this a no-op (changes = 0); an expired one is replaced.
    this.insertOnceQ = db.prepare(
      `INSERT INTO oidc_payload ${cols} VALUES ${vals}
       ON CONFLICT (tenant, model, id) DO UPDATE SET payload = excluded.payload, expires_at = excluded.expires_at
       WHERE oidc_payload.expires_at IS NOT NULL AND oidc_payload.expires_at <= @now`,
    );
    this.consumeQ = db.prepare(
      'UPDATE oidc_payload SET consumed_at = @now WHERE tenant = @tenant AND model = @model AND id = @id AND consumed_at IS NULL',
    );
    // Consumed artifacts too: a replayed refresh token must reach oidc-provider's reuse detection (RFC 9700 §4.14.2).
    this.clientQ = db.prepare(`SELECT client_id FROM oidc_payload WHERE tenant = @tenant AND model = @model AND id = @id AND ${live}`);
    this.grantOfQ = db.prepare('SELECT grant_id FROM oidc_payload WHERE tenant = @tenant AND model = @model AND id = @id');
    this.destroyQ = db.prepare('DELETE FROM oidc_payload WHERE tenant = @tenant AND model = @model AND id = @id');
    this.revokeGrantQ = db.prepare('DELETE FROM oidc_payload WHERE tenant = @tenant AND grant_id = @grant_id');
    this.tokenQ = db.prepare(
      "SELECT payload, consumed_at, expires_at FROM oidc_payload WHERE tenant = ? AND model IN ('AccessToken', 'ClientCredentials') AND id = ?",
    );
    this.sessionQ = db.prepare(
      "SELECT 1 FROM oidc_payload WHERE tenant = ? AND model = 'Session' AND uid = ? AND (expires_at IS NULL OR expires_at > ?)",
    );
  }

  async find(tenant: number, model: string, by: 'id' | 'uid' | 'user_code', value: string, now: number): Promise<FoundPayload | undefined> {
    return this.finders[by].get({ tenant, model, value, now }) as FoundPayload | undefined;
  }

  async upsert(row: PayloadRow): Promise<void> {
    this.upsertQ.run(row);
  }

  async insertOnce(row: PayloadRow, now: number): Promise<boolean> {
    return this.insertOnceQ.run({ ...row, now }).changes > 0;
  }

  async consume(tenant: number, model: string, id: string, now: number): Promise<boolean> {
    return this.consumeQ.run({ tenant, model, id, now }).changes === 1;
  }

  async grantOf(tenant: number, model: string, id: string): Promise<string | undefined> {
    return (this.grantOfQ.get({ tenant, model, id }) as { grant_id: string | null } | undefined)?.grant_id ?? undefined;
  }

  async clientOf(tenant: number, model: string, id: string, now = Date.now()): Promise<string | undefined> {
    return (this.clientQ.get({ tenant, model, id, now }) as { client_id: string | null } | undefined)?.client_id ?? undefined;
  }

  async destroy(tenant: number, model: string, id: string): Promise<void> {
    this.destroyQ.run({ tenant, model, id });
  }

  async revokeGrant(tenant: number, grantId: string): Promise<void> {
    this.revokeGrantQ.run({ tenant, grant_id: grantId });
  }

  async accessToken(tenant: number, id: string): Promise<FoundPayload | undefined> {
    return this.tokenQ.get(tenant, id) as FoundPayload | undefined;
  }

  async sessionLive(tenant: number, uid: string, now: number): Promise<boolean> {
    return this.sessionQ.get(tenant, uid, now) !== undefined;
  }

  async purgeExpired(now = Date.now()): Promise<number> {
    return this.db.prepare('DELETE FROM oidc_payload WHERE expires_at IS NOT NULL AND expires_at <= ?').run(now).changes;
  }

  async purgeSandbox(tenant: number): Promise<void> {
    this.db.prepare('DELETE FROM oidc_payload WHERE tenant = ?').run(tenant);
  }
}
