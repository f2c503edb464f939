/**
 * The one bearer-token check (src/fhir/access/bearer.ts) on every resource route, over real HTTP: the
 * FHIR API, bulk export (kick-off and status) and `_services` refuse a missing, malformed, unknown,
 * revoked, foreign-sandbox or simulated-invalid token alike, with 401, `WWW-Authenticate: Bearer
 * error="invalid_token"` and an OperationOutcome; expiry and the sandbox generation hold whatever
 * verifier is plugged in.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { resolveConfig } from '../../src/config/config.js';
import { FhirError } from '../../src/errors/errors.js';
import { requireBearerGrant } from '../../src/fhir/access/bearer.js';
import type { TokenGrant } from '../../src/fhir/access/types.js';
import { type RunningServer, startServer } from '../../src/main.js';
import { createSandbox } from '../../src/sandbox/lifecycle.js';
import type { Sandbox } from '../../src/storage/types.js';
import { ScriptedBrowser } from '../helpers/browser.js';
import { authorizeUrl, clientCredentials, tokenRequest } from '../helpers/oauth.js';
import { MapVerifier } from '../fhir/helpers.js';
import { tempDir } from '../helpers/server.js';

const SECRET = 'bearer-secret-0123456789abcdef';
const SCOPE = 'system/*.cruds smart/orchestrate_launch';
const REDIRECT = 'http://127.0.0.1:9/sim/cb';

describe('one bearer-token check for FHIR, bulk export and _services', () => {
  const tmp = tempDir('ss-bearer-');
  let server: RunningServer;
  let iss: string;
  let issuer: string;
  const tokens: Record<string, string> = {};

  /** One request per resource route, with the given Authorization header. */
  const routes: Record<string, (authorization?: string) => Promise<Response>> = {
    'FHIR read': (a) => fetch(`${iss}/Patient/BILIBABY`, { headers: a ? { authorization: a } : {} }),
    'FHIR search': (a) => fetch(`${iss}/Observation?patient=BILIBABY`, { headers: a ? { authorization: a } : {} }),
    'bulk kick-off': (a) => fetch(`${iss}/$export?_type=Patient`, { headers: { accept: 'application/fhir+json', prefer: 'respond-async', ...(a ? { authorization: a } : {}) } }),
    'bulk status': (a) => fetch(`${iss}/$export-status/0123456789abcdef`, { headers: a ? { authorization: a } : {} }),
    '_services register': (a) =>
      fetch(`${iss}/_services/smart/Launch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(a ? { authorization: a } : {}) },
        body: JSON.stringify({ client_id: 'bilirubin_chart', parameters: { patient: 'BILIBABY' } }),
      }),
  };

  before(async () => {
    server = await startServer(resolveConfig({ dataDir: tmp.dir, port: 0, logLevel: 'silent' }), () => {});
    iss = `${server.config.publicUrl}/demo/data`;
    issuer = `${server.config.publicUrl}/demo/auth`;
    const { services } = server;
    const demo = (await services.tenants.get('demo'))!;
    await services.auth.clients.add(demo.key, { clientId: 'svc', secret: SECRET, grantTypes: ['client_credentials'], scope: SCOPE });
    tokens.valid = await clientCredentials(issuer, 'svc', SECRET, SCOPE);
    tokens.revoked = await clientCredentials(issuer, 'svc', SECRET, SCOPE);
    const rv = await fetch(`${issuer}/revoke`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`svc:${SECRET}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: tokens.revoked }),
    });
    assert.equal(rv.status, 200);

    // The same client id and scope in another sandbox: its token is no token here.
    const other = await createSandbox(services, 'other', { data: { kind: 'empty' } });
    await services.auth.clients.add(other.sandbox.key, { clientId: 'svc', secret: SECRET, grantTypes: ['client_credentials'], scope: SCOPE });
    tokens.foreign = await clientCredentials(`${server.config.publicUrl}/other/auth`, 'svc', SECRET, SCOPE);

    // A token of a launch registered to fail at the resource server (simulate_error=request_invalid_token).
    await services.auth.clients.add(demo.key, { clientId: 'sim-app', public: true, redirectUris: [REDIRECT], scope: 'launch patient/*.rs', consent: 'skip' });
    const l = await services.launch.register(demo, { kind: 'admin', name: 'test' }, { client_id: 'sim-app', username: 'practitioner', simulate_error: 'request_invalid_token', parameters: { patient: 'BILIBABY' } });
    const a = authorizeUrl({ issuer, aud: iss, clientId: 'sim-app', redirectUri: REDIRECT, scope: 'launch patient/*.rs', launch: l.launch_id });
    const code = new URL(await new ScriptedBrowser().run(a.url, REDIRECT)).searchParams.get('code')!;
    const t = await tokenRequest(issuer, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: 'sim-app', code_verifier: a.verifier });
    assert.equal(t.status, 200);
    tokens.simulated = t.body.access_token;
  });

  after(async () => {
    await server?.close();
    tmp.remove();
  });

  test('a valid token passes the check on every route (control)', async () => {
    for (const [name, call] of Object.entries(routes)) {
      const r = await call(`Bearer ${tokens.valid}`);
      assert.notEqual(r.status, 401, `${name}: ${r.status}`);
      assert.ok(r.status < 500, `${name}: ${r.status}`);
    }
  });

  const refused: [string, (t: Record<string, string>) => string | undefined][] = [
    ['no Authorization header', () => undefined],
    ['a Basic header', () => `Basic ${Buffer.from(`svc:${SECRET}`).toString('base64')}`],
    ['Bearer without a token', () => 'Bearer '],
    ['two tokens', (t) => `Bearer ${t.valid} ${t.valid}`],
    ['an unknown token', () => 'Bearer unknownunknownunknownunknown'],
    ['a revoked token', (t) => `Bearer ${t.revoked}`],
    ['a token of another sandbox', (t) => `Bearer ${t.foreign}`],
    ['a token of a launch simulating request_invalid_token', (t) => `Bearer ${t.simulated}`],
  ];
  for (const [what, header] of refused) {
    test(`${what}: 401 invalid_token on every route`, async () => {
      for (const [name, call] of Object.entries(routes)) {
        const r = await call(header(tokens));
        assert.equal(r.status, 401, `${name}`);
        assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer error="invalid_token", error_description="[^"]+"$/, name);
        const body = (await r.json()) as { resourceType: string; issue: { code: string }[] };
        assert.equal(body.resourceType, 'OperationOutcome', name);
        assert.equal(body.issue[0].code, 'login', name);
      }
    });
  }

  test('expiry is checked whatever the verifier returns, at the injectable clock', async () => {
    const sandbox = { key: 7, id: 's' } as Sandbox;
    const verifier = new MapVerifier();
    const grant: TokenGrant = { sandboxKey: 7, clientId: 'c', scope: 'system/*.rs', expiresAt: 1_000, context: {} };
    verifier.grants.set('good-token-aaaaaaaaaaaa', grant);
    assert.equal(await requireBearerGrant(verifier, sandbox, 'Bearer good-token-aaaaaaaaaaaa', 999_999), grant);
    assert.equal(await requireBearerGrant(verifier, sandbox, 'bearer  good-token-aaaaaaaaaaaa', 999_999), grant, 'the scheme is case-insensitive (RFC 7235 §2.1)');
    await assert.rejects(() => requireBearerGrant(verifier, sandbox, 'Bearer good-token-aaaaaaaaaaaa', 1_000_000), (e) => e instanceof FhirError && e.status === 401);
    await assert.rejects(() => requireBearerGrant(verifier, { key: 8, id: 's' } as Sandbox, 'Bearer good-token-aaaaaaaaaaaa', 0), (e) => e instanceof FhirError && e.status === 401);
  });
});
