/**
 * The oidc-provider storage adapter (docs/auth-server.md §4) over an OidcPayloadStore (SQLite or
 * PostgreSQL). The adapter of one provider only ever sees its own tenant's rows.
 *
 * - `consume()` is atomic in the store: of two concurrent redemptions of a code or refresh token
 *   (possibly on two nodes) exactly one succeeds; the loser revokes the whole grant (OAuth 2.0
 *   Security BCP §4.13 / SMART best practice: reuse ends the authorization) and gets `invalid_grant`.
 * - `ReplayDetection` (client assertion `jti`) is an insert that fails on a live duplicate, so a
 *   replayed assertion is refused across nodes too.
 * - Clients are not stored here: the `Client` model is served from the client store.
 */
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { errors } from './oidc-provider.js';
import type { FoundPayload, OidcPayloadStore } from '../storage/auth-stores.js';

export interface ClientSource {
  /** oidc-provider client metadata for a client id of this tenant, or undefined. */
  find(clientId: string): Promise<AdapterPayload | undefined>;
  /** Dynamic client registration: store a client oidc-provider validated (client_secret in clear). */
  register?(metadata: AdapterPayload): Promise<void>;
  remove?(clientId: string): Promise<void>;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);

function toPayload(r: FoundPayload | undefined): AdapterPayload | undefined {
  if (!r) return undefined;
  const p = JSON.parse(r.payload) as AdapterPayload;
  if (r.consumed_at !== null) p.consumed = Math.floor(Number(r.consumed_at) / 1000);
  return p;
}

/** The adapter class oidc-provider instantiates once per model name, bound to one tenant. */
export function oidcAdapter(table: OidcPayloadStore, tenant: number, clients: ClientSource): new (name: string) => Adapter {
  return class OidcAdapter implements Adapter {
    constructor(private readonly model: string) {}

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      if (this.model === 'Client') {
        if (!clients.register) throw new Error('clients are managed by the client store');
        await clients.register(payload);
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
      };
      if (this.model === 'ReplayDetection') {
        // Atomic jti uniqueness (client-confidential-asymmetric §"Authenticating to the Token endpoint").
        if (!(await table.insertOnce(row, now))) throw new errors.InvalidClientAuth('client assertion tokens must only be used once');
        return;
      }
      await table.upsert(row);
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (this.model === 'Client') return clients.find(id);
      return toPayload(await table.find(tenant, this.model, 'id', id, Date.now()));
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return toPayload(await table.find(tenant, this.model, 'uid', uid, Date.now()));
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return toPayload(await table.find(tenant, this.model, 'user_code', userCode, Date.now()));
    }

    async consume(id: string): Promise<void> {
      if (await table.consume(tenant, this.model, id, Date.now())) return;
      // Lost the race (or replay): the grant is compromised, revoke everything issued under it.
      const grantId = await table.grantOf(tenant, this.model, id);
      if (grantId) await table.revokeGrant(tenant, grantId);
      throw new errors.InvalidGrant('grant already used');
    }

    async destroy(id: string): Promise<void> {
      if (this.model === 'Client') {
        await clients.remove?.(id);
        return;
      }
      await table.destroy(tenant, this.model, id);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await table.revokeGrant(tenant, grantId);
    }
  };
}
