/**
 * CORS over real HTTP (src/http/cors.ts): browser apps get the request's origin reflected with
 * credentials, their requested headers allowed and the headers they must read exposed, on the FHIR
 * bases, bulk export, `_services` and the token, introspection and revocation endpoints; the
 * `/authorize` endpoint, the login and consent interactions, logout and the console send no CORS
 * header at all, whatever the request asks.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { resolveConfig } from '../../src/config/config.js';
import { type RunningServer, startServer } from '../../src/main.js';
import { authorizeUrl, clientCredentials } from '../helpers/oauth.js';
import { tempDir } from '../helpers/server.js';

const APP = 'https://app.example:8443';
const ADMIN = 'cors-test-admin-token-0123456789';
const SECRET = 'svc-secret-0123456789abcdef';

function corsOf(r: Response): Record<string, string> {
  const out: Record<string, string> = {};
  r.headers.forEach((v, k) => {
    if (k.startsWith('access-control-')) out[k] = v;
  });
  return out;
}

/** A credentialed answer to APP, with the headers browser apps must read exposed. */
function assertCredentialedCors(r: Response, what: string): void {
  assert.equal(r.headers.get('access-control-allow-origin'), APP, `${what}: origin reflected`);
  assert.equal(r.headers.get('access-control-allow-credentials'), 'true', `${what}: credentials allowed`);
  const exposed = (r.headers.get('access-control-expose-headers') ?? '').toLowerCase();
  for (const h of ['www-authenticate', 'location', 'etag', 'content-location']) assert.ok(exposed.includes(h), `${what}: ${h} exposed (${exposed})`);
  assert.match(r.headers.get('vary') ?? '', /origin/i, `${what}: Vary: Origin`);
}

async function preflight(url: string, method: string, headers = 'authorization, content-type, x-request-id'): Promise<Response> {
  return fetch(url, { method: 'OPTIONS', headers: { origin: APP, 'access-control-request-method': method, 'access-control-request-headers': headers } });
}

function assertPreflight(r: Response, method: string, what: string): void {
  assert.equal(r.status, 204, `${what}: preflight status`);
  assert.equal(r.headers.get('access-control-allow-origin'), APP, what);
  assert.equal(r.headers.get('access-control-allow-credentials'), 'true', what);
  assert.equal(r.headers.get('access-control-allow-headers'), 'authorization, content-type, x-request-id', `${what}: requested headers allowed`);
  assert.match(r.headers.get('access-control-allow-methods') ?? '', new RegExp(method), what);
  assert.ok(Number(r.headers.get('access-control-max-age')) >= 600, `${what}: preflight cached`);
}

describe('CORS for browser apps, and none where a cookie decides', () => {
  const tmp = tempDir('ss-cors-');
  let server: RunningServer;
  let base: string;
  let iss: string;
  let issuer: string;
  let token: string;
  const basic = `Basic ${Buffer.from(`svc:${SECRET}`).toString('base64')}`;

  before(async () => {
    server = await startServer(resolveConfig({ dataDir: tmp.dir, port: 0, logLevel: 'silent', adminToken: ADMIN }), () => {});
    base = server.config.publicUrl;
    iss = `${base}/demo/data`;
    issuer = `${base}/demo/auth`;
    const demo = (await server.services.tenants.get('demo'))!;
    // A client with no redirect URI at APP: the token endpoint answers browsers of any origin all the same.
    await server.services.auth.clients.add(demo.key, { clientId: 'svc', secret: SECRET, grantTypes: ['client_credentials'], scope: 'system/*.cruds smart/orchestrate_launch' });
    token = await clientCredentials(issuer, 'svc', SECRET, 'system/*.cruds smart/orchestrate_launch');
  });

  after(async () => {
    await server?.close();
    tmp.remove();
  });

  test('FHIR /data: read, 401 and preflight; Location and ETag of a create readable', async () => {
    const read = await fetch(`${iss}/Patient/BILIBABY`, { headers: { origin: APP, authorization: `Bearer ${token}` } });
    assert.equal(read.status, 200);
    assertCredentialedCors(read, 'read');
    const denied = await fetch(`${iss}/Patient/BILIBABY`, { headers: { origin: APP } });
    assert.equal(denied.status, 401);
    assertCredentialedCors(denied, '401');
    assert.match(denied.headers.get('www-authenticate') ?? '', /^Bearer error="invalid_token"/);
    const created = await fetch(`${iss}/Patient`, {
      method: 'POST',
      headers: { origin: APP, authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Cors' }] }),
    });
    assert.equal(created.status, 201);
    assertCredentialedCors(created, 'create');
    assertPreflight(await preflight(`${iss}/Patient`, 'POST'), 'POST', 'FHIR type');
    assertPreflight(await preflight(`${iss}/Patient/BILIBABY`, 'PUT'), 'PUT', 'FHIR instance');
    assertPreflight(await preflight(iss, 'POST'), 'POST', 'FHIR base (transactions)');
  });

  test('FHIR /open and metadata: the same CORS, errors included', async () => {
    const open = await fetch(`${base}/demo/open/Patient/BILIBABY`, { headers: { origin: APP } });
    assertCredentialedCors(open, `/open (${open.status})`);
    assertPreflight(await preflight(`${base}/demo/open/Patient`, 'GET'), 'GET', '/open');
    const meta = await fetch(`${iss}/metadata`, { headers: { origin: APP } });
    assert.equal(meta.status, 200);
    assertCredentialedCors(meta, 'metadata');
    const noOrigin = await fetch(`${iss}/metadata`);
    assert.deepEqual(corsOf(noOrigin), {}, 'a request without Origin is not a browser app: no CORS answer');
  });

  test('bulk export: kick-off, status and preflights', async () => {
    const kick = await fetch(`${iss}/$export?_type=Patient`, {
      headers: { origin: APP, authorization: `Bearer ${token}`, accept: 'application/fhir+json', prefer: 'respond-async' },
    });
    assert.equal(kick.status, 202);
    assertCredentialedCors(kick, 'kick-off');
    const status = kick.headers.get('content-location')!;
    assert.ok(status.startsWith(`${iss}/$export-status/`));
    const poll = await fetch(status, { headers: { origin: APP, authorization: `Bearer ${token}` } });
    assert.ok([200, 202].includes(poll.status), String(poll.status));
    assertCredentialedCors(poll, 'status');
    assertPreflight(await preflight(`${iss}/$export`, 'GET'), 'GET', 'kick-off');
    assertPreflight(await preflight(status, 'DELETE'), 'DELETE', 'status');
  });

  test('_services launch registration: register and preflight', async () => {
    const url = `${iss}/_services/smart/Launch`;
    const r = await fetch(url, {
      method: 'POST',
      headers: { origin: APP, authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-request-id': 'r1' },
      body: JSON.stringify({ client_id: 'bilirubin_chart', parameters: { patient: 'BILIBABY' } }),
    });
    assert.equal(r.status, 200);
    assertCredentialedCors(r, 'register');
    const unauth = await fetch(url, { method: 'POST', headers: { origin: APP, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(unauth.status, 401);
    assertCredentialedCors(unauth, '_services 401');
    assertPreflight(await preflight(url, 'POST'), 'POST', '_services');
    assertPreflight(await preflight(`${url}/abc`, 'DELETE'), 'DELETE', '_services instance');
  });

  test('token, introspection and revocation endpoints: any origin, with credentials, errors included', async () => {
    for (const ep of ['token', 'introspect', 'revoke']) assertPreflight(await preflight(`${issuer}/${ep}`, 'POST'), 'POST', ep);
    const form = (body: Record<string, string>, auth = basic) =>
      ({ method: 'POST', headers: { origin: APP, authorization: auth, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body) }) as const;

    const t = await fetch(`${issuer}/token`, form({ grant_type: 'client_credentials', scope: 'system/*.rs' }));
    assert.equal(t.status, 200);
    assertCredentialedCors(t, 'token');
    const own = ((await t.json()) as { access_token: string }).access_token;

    const bad = await fetch(`${issuer}/token`, form({ grant_type: 'client_credentials', scope: 'system/*.rs' }, `Basic ${Buffer.from('svc:wrong-secret-000').toString('base64')}`));
    assert.equal(bad.status, 401);
    assertCredentialedCors(bad, 'token error');

    const i = await fetch(`${issuer}/introspect`, form({ token: own }));
    assert.equal(i.status, 200);
    assert.equal(((await i.json()) as { active: boolean }).active, true);
    assertCredentialedCors(i, 'introspect');
    const ib = await fetch(`${issuer}/introspect`, form({ token: own }, `Bearer ${own}`));
    assert.equal(ib.status, 200);
    assertCredentialedCors(ib, 'introspect with a bearer token');

    const rv = await fetch(`${issuer}/revoke`, form({ token: own }));
    assert.equal(rv.status, 200);
    assertCredentialedCors(rv, 'revoke');
    const gone = await fetch(`${iss}/Patient/BILIBABY`, { headers: { origin: APP, authorization: `Bearer ${own}` } });
    assert.equal(gone.status, 401, 'the revoked token is refused');
  });

  test('public discovery keeps *', async () => {
    const r = await fetch(`${iss}/.well-known/smart-configuration`, { headers: { origin: APP } });
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
    assert.equal(r.headers.get('access-control-allow-credentials'), null);
  });

  test('no CORS header on /authorize, the login and consent interactions, logout and the console', async () => {
    const demo = (await server.services.tenants.get('demo'))!;
    const bili = (await server.services.auth.clients.getClient(demo.key, 'bilirubin_chart'))!;
    const { url } = authorizeUrl({ issuer, aud: iss, clientId: 'bilirubin_chart', redirectUri: bili.redirectUris[0], scope: 'openid fhirUser launch/patient patient/*.rs' });
    const asked = { origin: APP, 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-request-id' };

    const authorize = await fetch(url, { redirect: 'manual', headers: { origin: APP } });
    assert.equal(authorize.status, 303);
    assert.deepEqual(corsOf(authorize), {}, '/authorize');
    assert.deepEqual(corsOf(await fetch(url, { method: 'OPTIONS', headers: asked })), {}, '/authorize preflight');
    const post = await fetch(`${issuer}/authorize`, { method: 'POST', redirect: 'manual', headers: { origin: APP, 'content-type': 'application/x-www-form-urlencoded' }, body: new URL(url).search.slice(1) });
    assert.deepEqual(corsOf(post), {}, 'POST /authorize');

    const interaction = new URL(authorize.headers.get('location')!, url);
    assert.match(interaction.pathname, /\/auth\/interaction\//);
    const cookie = authorize.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    const login = await fetch(interaction, { headers: { origin: APP, cookie } });
    assert.equal(login.status, 200);
    assert.deepEqual(corsOf(login), {}, 'login page');
    const submit = await fetch(interaction, { method: 'POST', redirect: 'manual', headers: { origin: APP, cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=x&password=y' });
    assert.ok(submit.status < 500, String(submit.status));
    assert.deepEqual(corsOf(submit), {}, 'login form post');
    assert.deepEqual(corsOf(await fetch(interaction, { method: 'OPTIONS', headers: asked })), {}, 'interaction preflight');

    for (const path of ['/demo/auth/logout', '/demo/auth/session/end']) {
      const r = await fetch(`${base}${path}`, { redirect: 'manual', headers: { origin: APP } });
      assert.deepEqual(corsOf(r), {}, `${path} (${r.status})`);
    }

    const home = await fetch(`${base}/?token=${ADMIN}`, { redirect: 'manual', headers: { origin: APP } });
    assert.deepEqual(corsOf(home), {}, 'console /');
    const api = await fetch(`${base}/api/sandboxes`, { headers: { origin: APP, authorization: `Bearer ${ADMIN}` } });
    assert.deepEqual(corsOf(api), {}, `console /api (${api.status})`);
    assert.deepEqual(corsOf(await fetch(`${base}/api/sandboxes`, { method: 'OPTIONS', headers: asked })), {}, 'console /api preflight');
  });

  test('a malformed Origin gets no CORS answer (fail closed)', async () => {
    for (const origin of ['https://app.example/path', 'not an origin', 'javascript:alert(1)']) {
      const r = await fetch(`${iss}/metadata`, { headers: { origin } });
      assert.equal(r.headers.get('access-control-allow-origin'), null, origin);
    }
  });
});
