/**
 * oidc-provider storage adapter on SQLite (auth-library.md §4.4): one `oidc_payload` table for every
 * model of every sandbox, keyed by tenant + model + id. The adapter of one provider only ever sees
 * its own tenant's rows.
 *
 * - `consume()` is a conditional UPDATE: of two concurrent redemptions of a code or refresh token
 *   (possibly on two processes) exactly one succeeds; the loser revokes the whole grant (OAuth 2.0
 *   Security BCP §4.13 / SMART best practice: reuse ends the authorization) and gets `invalid_grant`.
 * - `ReplayDetection` (client assertion `jti`) is an INSERT that fails on a live duplicate, so a
 *   replayed assertion is refused across processes too.
 * - Clients are not stored here: the `Client` model is served from the client store.
 */
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { errors } from 'oidc-provider';
import type { Sqlite } from './open.js';

export interface ClientSource {
  /** oidc-provider client metadata for a client id of this tenant, or undefined. */
  find(clientId: string): AdapterPayload | undefined;
  /** Dynamic client registration: store a client oidc-provider validated (client_secret in clear). */
  register?(metadata: AdapterPayload): void;
  remove?(clientId: string): void;
}

interface Row {
  payload: string;
  consumed_at: number | null;
}

/** Prepared statements shared by all adapters over one database. */
export class OidcPayloadTable {
  readonly find;
  readonly findByUid;
  readonly findByUserCode;
  readonly upsert;
  readonly insertOnce;
  readonly consume;
  readonly grantOf;
  private readonly clientQ;
  readonly destroy;
  readonly revokeGrant;
  constructor(readonly db: Sqlite) {
    const live = '(expires_at IS NULL OR expires_at > @now)';
    this.find = db.prepare(`SELECT payload, consumed_at FROM oidc_payload WHERE tenant = @tenant AND model = @model AND id = @id AND ${live}`);
    this.findByUid = db.prepare(`SELECT payload, consumed_at FROM oidc_payload WHERE tenant = @tenant AND model = @model AND uid = @uid AND ${live}`);
    this.findByUserCode = db.prepare(
      `SELECT payload, consumed_at FROM oidc_payload WHERE tenant = @tenant AND model = @model AND user_code = @user_code AND ${live}`,
    );
    const cols = '(tenant, model, id, payload, grant_id, uid, user_code, client_id, account_id, expires_at)';
    const vals = '(@tenant, @model, @id, @payload, @grant_id, @uid, @user_code, @client_id, @account_id, @expires_at)';
    this.upsert = db.prepare(
      `INSERT INTO oidc_payload ${cols} VALUES ${vals}
       ON CONFLICT (tenant, model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid,
         user_code = excluded.user_code, client_id = excluded.client_id, account_id = excluded.account_id, expires_at = excluded.expires_at`,
    );
    // A live row with the same id makes this a no-op (changes = 0); an expired one is replaced.
    this.insertOnce = db.prepare(
      `INSERT INTO oidc_payload ${cols} VALUES ${vals}
       ON CONFLICT (tenant, model, id) DO UPDATE SET payload = excluded.payload, expires_at = excluded.expires_at
       WHERE oidc_payload.expires_at IS NOT NULL AND oidc_payload.expires_at <= @now`,
    );
    this.consume = db.prepare(
      'UPDATE oidc_payload SET consumed_at = @now WHERE tenant = @tenant AND model = @model AND id = @id AND consumed_at IS NULL',
    );
    this.clientQ = db.prepare(`SELECT client_id FROM oidc_payload WHERE tenant = @tenant AND model = @model AND id = @id AND consumed_at IS NULL AND ${live}`);
    this.grantOf = db.prepare('SELECT grant_id FROM oidc_payload WHERE tenant = @tenant AND model = @model AND id = @id');
    this.destroy = db.prepare('DELETE FROM oidc_payload WHERE tenant = @tenant AND model = @model AND id = @id');
    this.revokeGrant = db.prepare('DELETE FROM oidc_payload WHERE tenant = @tenant AND grant_id = @grant_id');
  }

  /** The client a live token (e.g. a refresh token) was issued to, or undefined. */
  clientOf(tenant: number, model: string, id: string): string | undefined {
    const row = this.clientQ.get({ tenant, model, id, now: Date.now() }) as { client_id: string | null } | undefined;
    return row?.client_id ?? undefined;
  }

  purgeExpired(now = Date.now()): number {
    return this.db.prepare('DELETE FROM oidc_payload WHERE expires_at IS NOT NULL AND expires_at <= ?').run(now).changes;
  }

  purgeSandbox(tenant: number): void {
    this.db.prepare('DELETE FROM oidc_payload WHERE tenant = ?').run(tenant);
  }
}

const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);

function toPayload(r: Row | undefined): AdapterPayload | undefined {
  if (!r) return undefined;
  const p = JSON.parse(r.payload) as AdapterPayload;
  if (r.consumed_at !== null) p.consumed = Math.floor(r.consumed_at / 1000);
  return p;
}

/** The adapter class oidc-provider instantiates once per model name, bound to one tenant. */
export function sqliteOidcAdapter(table: OidcPayloadTable, tenant: number, clients: ClientSource): new (name: string) => Adapter {
  return class SqliteOidcAdapter implements Adapter {
    constructor(private readonly model: string) {}

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      if (this.model === 'Client') {
        if (!clients.register) throw new Error('clients are managed by the client store');
        clients.register(payload);
        return;
      }
      const now = Date.now();
      const row = {
        tenant,
        model: this.model,
        id,
        payload: JSON.stringify(payload),
        grant_id: str(payload.grantId),
        uid: str(payload.uid),
        user_code: str(payload.userCode),
        client_id: str(payload.clientId),
        account_id: str(payload.accountId),
        expires_at: expiresIn ? now + expiresIn * 1000 : null,
        now,
      };
      if (this.model === 'ReplayDetection') {
        // Atomic jti uniqueness (client-confidential-asymmetric §"Authenticating to the Token endpoint").
        if (table.insertOnce.run(row).changes === 0) throw new errors.InvalidClientAuth('client assertion tokens must only be used once');
        return;
      }
      table.upsert.run(row);
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (this.model === 'Client') return clients.find(id);
      return toPayload(table.find.get({ tenant, model: this.model, id, now: Date.now() }) as Row | undefined);
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return toPayload(table.findByUid.get({ tenant, model: this.model, uid, now: Date.now() }) as Row | undefined);
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return toPayload(table.findByUserCode.get({ tenant, model: this.model, user_code: userCode, now: Date.now() }) as Row | undefined);
    }

    async consume(id: string): Promise<void> {
      const key = { tenant, model: this.model, id };
      if (table.consume.run({ ...key, now: Date.now() }).changes === 1) return;
      // Lost the race (or replay): the grant is compromised, revoke everything issued under it.
      const g = table.grantOf.get(key) as { grant_id: string | null } | undefined;
      if (g?.grant_id) table.revokeGrant.run({ tenant, grant_id: g.grant_id });
      throw new errors.InvalidGrant('grant already used');
    }

    async destroy(id: string): Promise<void> {
      if (this.model === 'Client') {
        clients.remove?.(id);
        return;
      }
      table.destroy.run({ tenant, model: this.model, id });
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      table.revokeGrant.run({ tenant, grant_id: grantId });
    }
  };
}
