/**
 * SMART launch context per grant (docs/auth-server.md §3). oidc-provider's Grant, AuthorizationCode and
 * RefreshToken models drop unknown payload fields, so the context (patient, encounter, fhirContext,
 * need_patient_banner, smart_style_url, intent, tenant, custom launch parameters, fhirUser) lives
 * here, keyed by grantId. It survives refreshes because refresh tokens carry the grantId.
 */
import type { SmartContext, SmartContextStore } from '../auth-stores.js';
import type { Sqlite } from './open.js';

export type { SmartContext } from '../auth-stores.js';

export class SqliteSmartContextStore implements SmartContextStore {
  private readonly sel;
  private readonly put;
  constructor(private readonly db: Sqlite) {
    this.sel = db.prepare('SELECT context FROM smart_context WHERE tenant = ? AND grant_id = ? AND expires_at > ?');
    this.put = db.prepare(
      `INSERT INTO smart_context (tenant, grant_id, context, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (tenant, grant_id) DO UPDATE SET context = excluded.context, expires_at = excluded.expires_at`,
    );
  }

  async set(sandboxKey: number, grantId: string, context: SmartContext, expiresAt: number): Promise<void> {
    this.put.run(sandboxKey, grantId, JSON.stringify(context), expiresAt);
  }

  async get(sandboxKey: number, grantId: string): Promise<SmartContext | undefined> {
    const r = this.sel.get(sandboxKey, grantId, Date.now()) as { context: string } | undefined;
    return r ? (JSON.parse(r.context) as SmartContext) : undefined;
  }

  async purgeExpired(now = Date.now()): Promise<number> {
    return this.db.prepare('DELETE FROM smart_context WHERE expires_at <= ?').run(now).changes;
  }

  async purgeSandbox(sandboxKey: number): Promise<void> {
    this.db.prepare('DELETE FROM smart_context WHERE tenant = ?').run(sandboxKey);
  }
}
