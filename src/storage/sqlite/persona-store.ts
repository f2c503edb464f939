/**
 * Sandbox personas: the users one logs in as at the sandbox's authorization server (docs/architecture.md §4
 * `persona add|list|remove`). Passwords are stored hashed; only the passwords `seedDemo` generates
 * for the demo personas are also kept in clear (`demo_password`) so that `persona list` and the
 * console can show them, and they are flagged as such.
 */
import {
  AuthInputError,
  type Persona,
  type PersonaAddOptions,
  type PersonaListing,
  type PersonaStore,
} from '../../auth/types.js';
import { hashSecret, randomPassword, verifySecret } from '../../auth/secrets.js';
import type { FhirDirectory } from '../../fhir/directory.js';
import type { Sqlite } from './open.js';

export interface PersonaRow {
  tenant: number;
  username: string;
  name: string;
  resource: string;
  password_hash: string;
  demo_password: string | null;
  created_at: number;
}

export const toPersona = (r: PersonaRow): Persona => ({
  sandboxKey: r.tenant,
  username: r.username,
  name: r.name,
  resource: r.resource,
  createdAt: r.created_at,
});

export const USERNAME = /^[A-Za-z0-9._@-]{1,64}$/;
/** FHIR types a `fhirUser` may point at (SMART 2.2 §"fhirUser"). */
export const PERSONA_RESOURCE = /^(Practitioner|PractitionerRole|Patient|RelatedPerson|Person)\/([A-Za-z0-9.-]{1,64})$/;

/** A display name from a FHIR HumanName list, if any. */
function displayName(resource: unknown): string | undefined {
  const names = (resource as { name?: { text?: string; given?: string[]; family?: string; prefix?: string[] }[] })?.name;
  const n = Array.isArray(names) ? names[0] : undefined;
  if (!n) return undefined;
  if (n.text) return n.text;
  const parts = [...(n.prefix ?? []), ...(n.given ?? []), n.family].filter((x): x is string => typeof x === 'string' && x.length > 0);
  return parts.length ? parts.join(' ') : undefined;
}

/** Validates `persona add` options into a row (throws AuthInputError); shared by every backend. */
export async function personaRow(
  fhir: FhirDirectory,
  sandboxKey: number,
  o: PersonaAddOptions,
  flags: { demo?: boolean },
): Promise<{ row: PersonaRow; password: string }> {
  if (!USERNAME.test(o.username)) throw new AuthInputError(`username must match ${USERNAME.source}`, 'invalid');
  // Architecture §5: `none` is what launch registration answers for "no persona".
  if (o.username.toLowerCase() === 'none') throw new AuthInputError('a persona may not be named "none"', 'invalid');
  const m = PERSONA_RESOURCE.exec(o.resource);
  if (!m) throw new AuthInputError('resource must be Practitioner/ID, Patient/ID, PractitionerRole/ID, RelatedPerson/ID or Person/ID', 'invalid');
  const resource = await fhir.read(sandboxKey, m[1], m[2]);
  if (!resource) throw new AuthInputError(`${o.resource} does not exist in this sandbox`, 'invalid');
  if (o.password !== undefined && (o.password.length < 4 || o.password.length > 256))
    throw new AuthInputError('a password must have 4 to 256 characters', 'invalid');
  const password = o.password ?? randomPassword();
  const row: PersonaRow = {
    tenant: sandboxKey,
    username: o.username,
    name: (o.name ?? displayName(resource) ?? o.username).slice(0, 200),
    resource: o.resource,
    password_hash: hashSecret(password),
    demo_password: flags.demo && o.password === undefined ? password : null,
    created_at: Date.now(),
  };
  return { row, password };
}

export class SqlitePersonaStore implements PersonaStore {
  private readonly one;
  /** Verified against when the username is unknown, so both cases cost the same. */
  private readonly dummyHash = hashSecret('no such persona');
  constructor(
    private readonly db: Sqlite,
    private readonly fhir: FhirDirectory,
  ) {
    this.one = db.prepare('SELECT * FROM auth_persona WHERE tenant = ? AND username = ?');
  }

  async getPersona(sandboxKey: number, username: string): Promise<Persona | undefined> {
    const r = this.one.get(sandboxKey, username) as PersonaRow | undefined;
    return r && toPersona(r);
  }

  async add(sandboxKey: number, o: PersonaAddOptions, flags: { demo?: boolean } = {}): Promise<{ persona: Persona; generatedPassword?: string }> {
    const { row, password } = await personaRow(this.fhir, sandboxKey, o, flags);
    const insert = this.db.transaction(() => {
      if (this.one.get(sandboxKey, o.username)) throw new AuthInputError(`persona ${o.username} already exists`, 'exists');
      this.db
        .prepare(
          `INSERT INTO auth_persona (tenant, username, name, resource, password_hash, demo_password, created_at)
           VALUES (@tenant, @username, @name, @resource, @password_hash, @demo_password, @created_at)`,
        )
        .run(row);
    });
    insert.immediate();
    return { persona: toPersona(row), generatedPassword: o.password === undefined ? password : undefined };
  }

  async list(sandboxKey: number): Promise<PersonaListing[]> {
    return (this.db.prepare('SELECT * FROM auth_persona WHERE tenant = ? ORDER BY username').all(sandboxKey) as PersonaRow[]).map((r) => ({
      ...toPersona(r),
      ...(r.demo_password ? { demoPassword: r.demo_password } : {}),
    }));
  }

  /** The stored demo password of a persona created by `seedDemo`, if any. */
  async demoPassword(sandboxKey: number, username: string): Promise<string | undefined> {
    return (this.one.get(sandboxKey, username) as PersonaRow | undefined)?.demo_password ?? undefined;
  }

  async remove(sandboxKey: number, username: string): Promise<boolean> {
    const run = this.db.transaction(() => {
      const n = this.db.prepare('DELETE FROM auth_persona WHERE tenant = ? AND username = ?').run(sandboxKey, username).changes;
      // Architecture §4: removing a persona revokes its sessions, grants, codes and tokens.
      this.db.prepare('DELETE FROM oidc_payload WHERE tenant = ? AND account_id = ?').run(sandboxKey, username);
      return n === 1;
    });
    return run.immediate();
  }

  async checkPassword(sandboxKey: number, username: string, password: string): Promise<Persona | undefined> {
    const r = typeof username === 'string' ? (this.one.get(sandboxKey, username) as PersonaRow | undefined) : undefined;
    const ok = await verifySecret(r?.password_hash ?? this.dummyHash, password);
    return ok && r ? toPersona(r) : undefined;
  }

  async purgeSandbox(sandboxKey: number): Promise<void> {
    this.db.prepare('DELETE FROM auth_persona WHERE tenant = ?').run(sandboxKey);
  }
}
