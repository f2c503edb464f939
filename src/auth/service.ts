/**
 * The authorization capability as the rest of the system sees it (issue "SMART App Launch 2.2
 * authorization server"): one lazily built oidc-provider per sandbox generation, the client and
 * persona stores, the FHIR token verifier, the routes, demo seeding and tenant purge.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/config.js';
import { bilirubinAppUrls } from '../config/urls.js';
import type { TokenVerifier } from '../fhir/access/types.js';
import type { FhirDirectory } from '../fhir/directory.js';
import type { AuditLog } from '../launch/audit.js';
import type { LaunchStore } from '../launch/model.js';
import { SqliteAuthKeyStore } from '../storage/sqlite/auth-key-store.js';
import { SqliteClientStore } from '../storage/sqlite/client-store.js';
import { OidcPayloadTable } from '../storage/sqlite/oidc-adapter.js';
import type { Sqlite } from '../storage/sqlite/open.js';
import { SqlitePersonaStore } from '../storage/sqlite/persona-store.js';
import { SqliteSmartContextStore } from '../storage/sqlite/smart-context-store.js';
import type { Sandbox, TenantStore } from '../storage/types.js';
import { registerDiscoveryRoutes } from './discovery.js';
import { registrationToken, rotateSigningKeys } from './keys.js';
import { type AuthDeps, type SandboxProvider, createSandboxProvider } from './provider.js';
import { registerAuthRoutes } from './routes.js';
import type { ClientStore, PersonaStore } from './types.js';
import { SqliteTokenVerifier } from './verifier.js';

export interface AuthService {
  verifier: TokenVerifier;
  clients: ClientStore;
  personas: PersonaStore;
  /** Routes served by `--role auth|all`: `/{sandbox}/auth/*` (oidc-provider + our interaction pages: login, patient picker,
   *  encounter picker, consent) and `GET /smart-style.json`. */
  registerAuthRoutes(app: FastifyInstance): Promise<void>;
  /** Routes served by `--role api|all` under the FHIR base: `GET /{sandbox}/data/.well-known/smart-configuration` (CORS *). */
  registerDiscoveryRoutes(app: FastifyInstance): Promise<void>;
  /** Idempotent demo setup: the `bilirubin_chart` app and two personas with generated passwords. */
  seedDemo(sandbox: Sandbox, personas: { practitioner: string; patient: string }): { username: string; password: string; resource: string }[];
  /** Revokes everything of a tenant key (sandbox delete/reset): payloads, clients, personas. */
  purgeSandbox(sandboxKey: number): void;
  /** `keys rotate <sandbox>`: new signing and cookie keys; the previous signing key stays published. */
  rotateKeys(sandbox: Sandbox): void;
  /** The initial access token apps must present to `{issuer}/register` (RFC 7591 §3). */
  registrationToken(sandbox: Sandbox): string;
  close(): Promise<void>;
}

export const BILIRUBIN_CLIENT_ID = 'bilirubin_chart';
const BILIRUBIN_SCOPE =
  'launch launch/patient patient/Patient.read patient/Observation.read patient/Observation.write openid fhirUser online_access';

/** A built provider, with the version stamp of the signing keys it was built with. */
type CachedProvider = SandboxProvider & { handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>; keysStamp?: number };

export async function createAuthService(opts: {
  config: Config;
  db: Sqlite;
  tenants: TenantStore;
  launches: LaunchStore;
  fhir: FhirDirectory;
  /** Launch audit trail: uses of launches at /authorize and /token are recorded here. */
  audit?: AuditLog;
}): Promise<AuthService> {
  const { config, db, tenants, launches, fhir, audit } = opts;
  const table = new OidcPayloadTable(db);
  const clients = new SqliteClientStore(db);
  const personas = new SqlitePersonaStore(db, fhir);
  const contexts = new SqliteSmartContextStore(db);
  const keys = new SqliteAuthKeyStore(db);
  const deps: AuthDeps = { config, table, clients, personas, contexts, keys, launches, fhir, audit };
  const verifier = new SqliteTokenVerifier(db, config.publicUrl);

  // One provider per sandbox generation (key): a re-created sandbox gets a new one and shares nothing.
  const providers = new Map<number, CachedProvider>();
  // A provider is rebuilt when its signing keys changed in the store, e.g. `smart-sandbox keys rotate`
  // run by the CLI (another process) while this server runs.
  const providerFor = (sandbox: Sandbox): CachedProvider => {
    let sp = providers.get(sandbox.key);
    const stamp = keys.stamp(sandbox.key, 'jwks');
    if (sp && stamp !== undefined && sp.keysStamp !== stamp) sp = undefined;
    if (!sp) {
      for (const [k, other] of providers) if (other.sandbox.id === sandbox.id) providers.delete(k);
      const created = createSandboxProvider(sandbox, deps);
      sp = { ...created, handler: created.provider.callback() as CachedProvider['handler'], keysStamp: keys.stamp(sandbox.key, 'jwks') };
      providers.set(sandbox.key, sp);
    }
    return sp;
  };

  const purge = () => {
    table.purgeExpired();
    contexts.purgeExpired();
  };
  const timer = setInterval(purge, 10 * 60 * 1000);
  timer.unref();

  return {
    verifier,
    clients,
    personas,
    registerAuthRoutes: (app) => registerAuthRoutes(app, { deps, tenants, providerFor }),
    registerDiscoveryRoutes: (app) => registerDiscoveryRoutes(app, { config, tenants }),

    seedDemo(sandbox, who) {
      const urls = bilirubinAppUrls(config.publicUrl);
      const existing = clients.getClient(sandbox.key, BILIRUBIN_CLIENT_ID);
      if (existing && (existing.launchUri !== urls.launch || !existing.redirectUris.includes(urls.redirect)))
        clients.updateUrls(sandbox.key, BILIRUBIN_CLIENT_ID, { launchUri: urls.launch, redirectUris: [urls.redirect] });
      if (!existing)
        clients.add(sandbox.key, {
          clientId: BILIRUBIN_CLIENT_ID,
          name: 'Bilirubin Chart',
          public: true,
          redirectUris: [urls.redirect],
          launchUri: urls.launch,
          scope: BILIRUBIN_SCOPE,
          grantTypes: ['authorization_code', 'refresh_token'],
          pkce: 'required',
          consent: 'skip',
        });
      const out: { username: string; password: string; resource: string }[] = [];
      const ref = (type: string, v: string) => (v.includes('/') ? v : `${type}/${v}`);
      for (const [username, resource] of [
        ['practitioner', ref('Practitioner', who.practitioner)],
        ['patient', ref('Patient', who.patient)],
      ] as const) {
        const found = personas.getPersona(sandbox.key, username);
        if (!found) {
          const { generatedPassword } = personas.add(sandbox.key, { username, resource }, { demo: true });
          out.push({ username, password: generatedPassword as string, resource });
        } else {
          const shown = personas.demoPassword(sandbox.key, username);
          if (shown) out.push({ username, password: shown, resource: found.resource });
        }
      }
      return out;
    },

    purgeSandbox(sandboxKey) {
      const run = db.transaction(() => {
        table.purgeSandbox(sandboxKey);
        contexts.purgeSandbox(sandboxKey);
        clients.purgeSandbox(sandboxKey);
        personas.purgeSandbox(sandboxKey);
        keys.purgeSandbox(sandboxKey);
      });
      run.immediate();
      providers.delete(sandboxKey);
    },

    rotateKeys(sandbox) {
      rotateSigningKeys(keys, sandbox.key);
      providers.delete(sandbox.key);
    },

    registrationToken: (sandbox) => registrationToken(keys, sandbox.key),

    async close() {
      clearInterval(timer);
      providers.clear();
    },
  };
}
