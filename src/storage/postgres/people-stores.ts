/**
 * PostgreSQL client and persona stores. Validation is shared with SQLite (`clientRow`, `personaRow`);
 * removing a client or a persona deletes it and revokes its artifacts in one transaction.
 */
import type pg from 'pg';
import { verifySecret, hashSecret } from '../../auth/secrets.js';
import {
  AuthInputError,
  type ClientAddOptions,
  type ClientAddResult,
  type ClientStore,
  type Persona,
  type PersonaAddOptions,
  type PersonaListing,
  type PersonaStore,
  type SandboxClient,
} from '../../auth/types.js';
import type { FhirDirectory } from '../../fhir/directory.js';
import { type ClientRow, clientRow, httpUrl, toClient } from '../sqlite/client-store.js';
import { type PersonaRow, personaRow, toPersona } from '../sqlite/persona-store.js';
import { one, query, run, transaction } from './pool.js';

const CLIENT_COLS = [
  'tenant',
  'client_id',
  'name',
  'auth_method',
  'secret_hash',
  'jwks_uri',
  'jwks',
  'redirect_uris',
  'launch_uri',
  'scope',
  'grant_types',
  'pkce',
  'consent',
  'may_register_launches',
  'access_token_ttl',
  'refresh_token_ttl',
  'launch_ttl',
  'registered',
  'created_at',
] as const;

const INSERT_CLIENT = `INSERT INTO auth_client (${CLIENT_COLS.join(', ')}) VALUES (${CLIENT_COLS.map((_, i) => `$${i + 1}`).join(', ')})`;

export class PgClientStore implements ClientStore {
  constructor(private readonly pool: pg.Pool) {}

  private async row(sandboxKey: number, clientId: string): Promise<ClientRow | undefined> {
    return one<ClientRow>(this.pool, 'SELECT * FROM auth_client WHERE tenant = ? AND client_id = ?', [sandboxKey, clientId]);
  }

  async getClient(sandboxKey: number, clientId: string): Promise<SandboxClient | undefined> {
    const r = await this.row(sandboxKey, clientId);
    return r && toClient(r);
  }

  async secretHash(sandboxKey: number, clientId: string): Promise<string | undefined> {
    return (await this.row(sandboxKey, clientId))?.secret_hash ?? undefined;
  }

  async findByLaunchUri(sandboxKey: number, uri: string): Promise<SandboxClient | undefined> {
    const r = await one<ClientRow>(this.pool, 'SELECT * FROM auth_client WHERE tenant = ? AND launch_uri = ? ORDER BY created_at LIMIT 1', [sandboxKey, uri]);
    return r && toClient(r);
  }

  async add(sandboxKey: number, opts: ClientAddOptions, registered = false): Promise<ClientAddResult> {
    const { row, generatedSecret } = clientRow(sandboxKey, opts);
    const full = { ...row, registered: registered ? 1 : 0 } as Record<string, unknown>;
    try {
      await this.pool.query(
        INSERT_CLIENT,
        CLIENT_COLS.map((c) => full[c]),
      );
    } catch (e) {
      if ((e as { code?: string }).code === '23505') throw new AuthInputError(`client ${opts.clientId} already exists`, 'exists');
      throw e;
    }
    return { client: toClient(row), generatedSecret };
  }

  async replace(sandboxKey: number, opts: ClientAddOptions): Promise<ClientAddResult> {
    const { row, generatedSecret } = clientRow(sandboxKey, opts);
    const full = { ...row, registered: 0 } as Record<string, unknown>;
    await transaction(this.pool, async (c) => {
      await c.query('DELETE FROM auth_client WHERE tenant = $1 AND client_id = $2', [sandboxKey, opts.clientId]);
      await c.query('DELETE FROM oidc_payload WHERE tenant = $1 AND client_id = $2', [sandboxKey, opts.clientId]);
      await c.query(
        INSERT_CLIENT,
        CLIENT_COLS.map((col) => full[col]),
      );
    });
    return { client: toClient(row), generatedSecret };
  }

  async updateUrls(sandboxKey: number, clientId: string, u: { launchUri?: string; redirectUris: string[] }): Promise<void> {
    const redirects = u.redirectUris.map((x) => httpUrl(x, 'redirect URI'));
    const launch = u.launchUri === undefined ? null : httpUrl(u.launchUri, 'launch URI');
    await run(this.pool, 'UPDATE auth_client SET redirect_uris = ?, launch_uri = ? WHERE tenant = ? AND client_id = ?', [JSON.stringify(redirects), launch, sandboxKey, clientId]);
  }

  async list(sandboxKey: number): Promise<SandboxClient[]> {
    return (await query<ClientRow>(this.pool, 'SELECT * FROM auth_client WHERE tenant = ? ORDER BY client_id', [sandboxKey])).map(toClient);
  }

  async remove(sandboxKey: number, clientId: string): Promise<boolean> {
    return transaction(this.pool, async (c) => {
      const n = (await c.query('DELETE FROM auth_client WHERE tenant = $1 AND client_id = $2', [sandboxKey, clientId])).rowCount ?? 0;
      // Architecture §4: removing a client revokes every grant and token that depends on it.
      await c.query('DELETE FROM oidc_payload WHERE tenant = $1 AND client_id = $2', [sandboxKey, clientId]);
      return n === 1;
    });
  }

  async purgeSandbox(sandboxKey: number): Promise<void> {
    await run(this.pool, 'DELETE FROM auth_client WHERE tenant = ?', [sandboxKey]);
  }
}

export class PgPersonaStore implements PersonaStore {
  /** Verified against when the username is unknown, so both cases cost the same. */
  private readonly dummyHash = hashSecret('no such persona');
  constructor(
    private readonly pool: pg.Pool,
    private readonly fhir: FhirDirectory,
  ) {}

  private async row(sandboxKey: number, username: string): Promise<PersonaRow | undefined> {
    return one<PersonaRow>(this.pool, 'SELECT * FROM auth_persona WHERE tenant = ? AND username = ?', [sandboxKey, username]);
  }

  async getPersona(sandboxKey: number, username: string): Promise<Persona | undefined> {
    const r = await this.row(sandboxKey, username);
    return r && toPersona(r);
  }

  async add(sandboxKey: number, o: PersonaAddOptions, flags: { demo?: boolean } = {}): Promise<{ persona: Persona; generatedPassword?: string }> {
    const { row, password } = await personaRow(this.fhir, sandboxKey, o, flags);
    try {
      await run(
        this.pool,
        'INSERT INTO auth_persona (tenant, username, name, resource, password_hash, demo_password, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [row.tenant, row.username, row.name, row.resource, row.password_hash, row.demo_password, row.created_at],
      );
    } catch (e) {
      if ((e as { code?: string }).code === '23505') throw new AuthInputError(`persona ${o.username} already exists`, 'exists');
      throw e;
    }
    return { persona: toPersona(row), generatedPassword: o.password === undefined ? password : undefined };
  }

  async list(sandboxKey: number): Promise<PersonaListing[]> {
    return (await query<PersonaRow>(this.pool, 'SELECT * FROM auth_persona WHERE tenant = ? ORDER BY username', [sandboxKey])).map((r) => ({
      ...toPersona(r),
      ...(r.demo_password ? { demoPassword: r.demo_password } : {}),
    }));
  }

  async demoPassword(sandboxKey: number, username: string): Promise<string | undefined> {
    return (await this.row(sandboxKey, username))?.demo_password ?? undefined;
  }

  async remove(sandboxKey: number, username: string): Promise<boolean> {
    return transaction(this.pool, async (c) => {
      const n = (await c.query('DELETE FROM auth_persona WHERE tenant = $1 AND username = $2', [sandboxKey, username])).rowCount ?? 0;
      // Architecture §4: removing a persona revokes its sessions, grants, codes and tokens.
      await c.query('DELETE FROM oidc_payload WHERE tenant = $1 AND account_id = $2', [sandboxKey, username]);
      return n === 1;
    });
  }

  async checkPassword(sandboxKey: number, username: string, password: string): Promise<Persona | undefined> {
    const r = typeof username === 'string' ? await this.row(sandboxKey, username) : undefined;
    const ok = await verifySecret(r?.password_hash ?? this.dummyHash, password);
    return ok && r ? toPersona(r) : undefined;
  }

  async purgeSandbox(sandboxKey: number): Promise<void> {
    await run(this.pool, 'DELETE FROM auth_persona WHERE tenant = ?', [sandboxKey]);
  }
}
