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
import { type Clock, systemClock } from '../config/clock.js';
import { LaunchLifecycle } from '../launch/lifecycle.js';
import type { LaunchStore } from '../launch/model.js';
import type { StorageBackend } from '../storage/backend.js';
import type { Sandbox, TenantStore } from '../storage/types.js';
import { registerDiscoveryRoutes } from './discovery.js';
import { cookieKeys, registrationToken, rotateSigningKeys, signingJwks } from './keys.js';
import { type AuthDeps, createSandboxProvider, type ProviderKeys, type SandboxProvider } from './provider.js';
import { registerAuthRoutes } from './routes.js';
import type { ClientStore, PersonaStore } from './types.js';
import { StoreTokenVerifier } from './verifier.js';

export interface AuthService {
  verifier: TokenVerifier;
  clients: ClientStore;
  personas: PersonaStore;
  /** The launch lifecycle (src/launch/lifecycle.ts) this authorization server asks about launches. */
  lifecycle: LaunchLifecycle;
  /** Routes served by `--role auth|all`: `/{sandbox}/auth/*` (oidc-provider + our interaction pages: login, patient picker,
   *  encounter picker, consent) and `GET /smart-style.json`. */
  registerAuthRoutes(app: FastifyInstance): Promise<void>;
  /** Routes served by `--role api|all` under the FHIR base: `GET /{sandbox}/data/.well-known/smart-configuration` (CORS *). */
  registerDiscoveryRoutes(app: FastifyInstance): Promise<void>;
  /** Idempotent demo setup: the `bilirubin_chart` app and two personas with generated passwords. */
  seedDemo(sandbox: Sandbox, personas: { practitioner: string; patient: string }): Promise<{ username: string; password: string; resource: string }[]>;
  /** Revokes everything of a tenant key (sandbox delete/reset): payloads, clients, personas. */
  purgeSandbox(sandboxKey: number): Promise<void>;
  /** `keys rotate <sandbox>`: new signing and cookie keys; the previous signing key stays published. */
  rotateKeys(sandbox: Sandbox): Promise<void>;
  /** The initial access token apps must present to `{issuer}/register` (RFC 7591 §3). */
  registrationToken(sandbox: Sandbox): Promise<string>;
  close(): Promise<void>;
}

export const BILIRUBIN_CLIENT_ID = 'bilirubin_chart';
const BILIRUBIN_SCOPE =
  'launch launch/patient patient/Patient.read patient/Observation.read patient/Observation.write openid fhirUser online_access';

/** A built provider, with the version stamp of the signing keys it was built with. */
type CachedProvider = SandboxProvider & { handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>; keysStamp?: number };

export async function createAuthService(opts: {
  config: Config;
  backend: StorageBackend;
  tenants: TenantStore;
  launches: LaunchStore;
  fhir: FhirDirectory;
  /** Launch audit trail: uses of launches at /authorize and /token are recorded here. */
  audit?: AuditLog;
  /** Time of the launch lifecycle (lifetimes, the single sign-on window); tests move it. */
  clock?: Clock;
}): Promise<AuthService> {
  const { config, backend, tenants, launches, fhir, audit } = opts;
  const table = backend.oidc;
  const clients = backend.clients;
  const personas = backend.personas(fhir);
  const contexts = backend.contexts;
  const keys = backend.keys;
  const lifecycle = new LaunchLifecycle({ launches, clients, personas, fhir, audit, clock: opts.clock ?? systemClock });
  const deps: AuthDeps = { config, table, clients, personas, contexts, keys, lifecycle, fhir };
  // No token cache: every FHIR request looks its token up, so a revocation on any node is seen at once.
  const verifier = new StoreTokenVerifier(table, config.publicUrl);

  const loadKeys = async (sandboxKey: number): Promise<ProviderKeys> => ({
    jwks: await signingJwks(keys, sandboxKey),
    cookieKeys: await cookieKeys(keys, sandboxKey),
    registrationToken: await registrationToken(keys, sandboxKey),
  });

  // One provider per sandbox generation (key): a re-created sandbox gets a new one and shares nothing.
  // Keys live in the database (shared by every node). A provider is rebuilt when its signing keys
  // changed in the store — `smart-sandbox keys rotate` run by the CLI (another process) or another node
  // — which one cheap read of the keys' version stamp tells on every request.
  const providers = new Map<number, CachedProvider>();
  const providerFor = async (sandbox: Sandbox): Promise<CachedProvider> => {
    let sp = providers.get(sandbox.key);
    const stamp = await keys.stamp(sandbox.key, 'jwks');
    if (sp && stamp !== undefined && sp.keysStamp !== stamp) sp = undefined;
    if (!sp) {
      for (const [k, other] of providers) if (other.sandbox.id === sandbox.id) providers.delete(k);
      const loaded = await loadKeys(sandbox.key);
      const created = createSandboxProvider(sandbox, deps, loaded);
      // The stamp read before loading: a rotation racing with the load only causes one more rebuild.
      const keysStamp = stamp ?? (await keys.stamp(sandbox.key, 'jwks'));
      sp = { ...created, handler: created.provider.callback() as CachedProvider['handler'], keysStamp };
      providers.set(sandbox.key, sp);
    }
    return sp;
  };

  const purge = () => {
    // Housekeeping only (expired rows are never served): a database outage must not crash the process.
    table.purgeExpired().catch(() => undefined);
    contexts.purgeExpired().catch(() => undefined);
  };
  const timer = setInterval(purge, 10 * 60 * 1000);
  timer.unref();

  return {
    verifier,
    clients,
    personas,
    lifecycle,
    registerAuthRoutes: (app) => registerAuthRoutes(app, { deps, tenants, providerFor, verifier }),
    registerDiscoveryRoutes: (app) => registerDiscoveryRoutes(app, { config, tenants }),

    async seedDemo(sandbox, who) {
      const urls = bilirubinAppUrls(config.publicUrl);
      const existing = await clients.getClient(sandbox.key, BILIRUBIN_CLIENT_ID);
      if (existing && (existing.launchUri !== urls.launch || !existing.redirectUris.includes(urls.redirect)))
        await clients.updateUrls(sandbox.key, BILIRUBIN_CLIENT_ID, { launchUri: urls.launch, redirectUris: [urls.redirect] });
      if (!existing)
        await clients.add(sandbox.key, {
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
        const found = await personas.getPersona(sandbox.key, username);
        if (!found) {
          const { generatedPassword } = await personas.add(sandbox.key, { username, resource }, { demo: true });
          out.push({ username, password: generatedPassword as string, resource });
        } else {
          const shown = await personas.demoPassword(sandbox.key, username);
          if (shown) out.push({ username, password: shown, resource: found.resource });
        }
      }
      return out;
    },

    async purgeSandbox(sandboxKey) {
      // The tenant key is already dead (sandbox deleted): nothing of it is served any more, so the
      // purge need not be one transaction; each step is idempotent.
      await table.purgeSandbox(sandboxKey);
      await contexts.purgeSandbox(sandboxKey);
      await clients.purgeSandbox(sandboxKey);
      await personas.purgeSandbox(sandboxKey);
      await keys.purgeSandbox(sandboxKey);
      providers.delete(sandboxKey);
    },

    async rotateKeys(sandbox) {
      await rotateSigningKeys(keys, sandbox.key);
      providers.delete(sandbox.key);
    },

    registrationToken: (sandbox) => registrationToken(keys, sandbox.key),

    async close() {
      clearInterval(timer);
      providers.clear();
    },
  };
}
