/**
 * Launch registration over real HTTP (issue #5 negative tests and docs/architecture.md §5 rules): who may
 * register, validation, binding, expiry, single use, CORS, inspect/revoke, legacy open registration.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { resolveConfig } from '../../src/config/config.js';
import { type RunningServer, startServer } from '../../src/main.js';
import { ScriptedBrowser } from '../helpers/browser.js';
import { authorizeRedirect, authorizeUrl, clientCredentials, tokenRequest } from '../helpers/oauth.js';
import { tempDir } from '../helpers/server.js';

const SEED = '{"client_id":"bilirubin_chart","parameters":{"patient":"BILIBABY","need_patient_banner":false}}';
const BILI_SCOPE = 'launch patient/Patient.read patient/Observation.read openid fhirUser';

describe('launch registration service', () => {
  const tmp = tempDir('ss-launch-');
  let server: RunningServer;
  let base: string;
  let iss: string;
  let issuer: string;
  let orchestrator: string;
  let biliRedirect: string;
  let persona: { username: string; password: string };

  const register = (body: string, headers: Record<string, string> = {}) =>
    fetch(`${iss}/_services/smart/Launch`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const registerAs = (token: string, body: string) => register(body, { authorization: `Bearer ${token}` });
  const outcomeText = async (r: Response) => {
    const body = await r.json();
    assert.equal(body.resourceType, 'OperationOutcome', JSON.stringify(body));
    return body.issue.map((i: { diagnostics?: string }) => i.diagnostics).join(' ');
  };

  before(async () => {
    server = await startServer(resolveConfig({ dataDir: tmp.dir, port: 0, logLevel: 'silent' }), () => {});
    base = server.config.publicUrl;
    iss = `${base}/demo/data`;
    issuer = `${base}/demo/auth`;
    biliRedirect = `${base}/apps/bilirubin-chart/index.html`;
    const { services } = server;
    const demo = (await services.tenants.get('demo'))!;
    (await services.auth.clients.add(demo.key, { clientId: 'launcher', secret: 'launcher-secret-0123456789', grantTypes: ['client_credentials'], scope: 'smart/orchestrate_launch' }));
    (await services.auth.clients.add(demo.key, { clientId: 'reader', secret: 'reader-secret-0123456789', grantTypes: ['client_credentials'], scope: 'system/*.rs' }));
    (await services.auth.clients.add(demo.key, { clientId: 'other-app', public: true, redirectUris: ['http://127.0.0.1:9/cb'], scope: 'launch patient/*.rs openid fhirUser', consent: 'skip' }));
    orchestrator = await clientCredentials(issuer, 'launcher', 'launcher-secret-0123456789', 'smart/orchestrate_launch');
    const listing = (await services.auth.personas.list(demo.key)).find((p) => p.resource.startsWith('Practitioner/'))!;
    persona = { username: listing.username, password: listing.demoPassword! };
  });

  after(async () => {
    await server?.close();
    tmp.remove();
  });

  test('L1 accepts the exact HSPC seed payload with an orchestration token', async () => {
    const r = await registerAs(orchestrator, SEED);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('access-control-allow-origin'), null, 'no Origin (not a browser): no CORS answer');
    const body = await r.json();
    assert.deepEqual(Object.keys(body).sort(), ['created_at', 'created_by', 'expires_at', 'launch_id', 'launch_url', 'parameters', 'username']);
    assert.deepEqual(body.parameters, { patient: 'BILIBABY', need_patient_banner: false });
  });

  test('numbers keep their type and smartStyleUrl becomes smart_style_url', async () => {
    const r = await registerAs(orchestrator, JSON.stringify({ client_id: 'bilirubin_chart', parameters: { patient: 'BILIBABY', weight: 3.5, count: 5, smartStyleUrl: `${base}/smart-style.json` } }));
    const body = await r.json();
    assert.equal(r.status, 200, JSON.stringify(body));
    assert.deepEqual(body.parameters, { patient: 'BILIBABY', weight: 3.5, count: 5, smart_style_url: `${base}/smart-style.json` });
  });

  test('401 without a token, with a malformed header, and with a token of another sandbox', async () => {
    const none = await register(SEED);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer error="invalid_token"/);
    assert.match(await outcomeText(none), /bearer token is required/);

    const junk = await register(SEED, { authorization: 'Bearer not-a-token' });
    assert.equal(junk.status, 401);
    assert.match(junk.headers.get('www-authenticate') ?? '', /invalid_token/);

    const basic = await register(SEED, { authorization: 'Basic abc' });
    assert.equal(basic.status, 401);

    const { services } = server;
    const other = (await services.tenants.create('other'));
    (await services.auth.clients.add(other.key, { clientId: 'launcher', secret: 'other-secret-0123456789abc', grantTypes: ['client_credentials'], scope: 'smart/orchestrate_launch' }));
    const foreign = await clientCredentials(`${base}/other/auth`, 'launcher', 'other-secret-0123456789abc', 'smart/orchestrate_launch');
    const r = await registerAs(foreign, SEED);
    assert.equal(r.status, 401, 'a token of sandbox "other" is not valid on "demo"');
    assert.match(r.headers.get('www-authenticate') ?? '', /invalid_token/);
  });

  test('403 insufficient_scope for a valid token without the right', async () => {
    const reader = await clientCredentials(issuer, 'reader', 'reader-secret-0123456789', 'system/*.rs');
    const r = await registerAs(reader, SEED);
    assert.equal(r.status, 403);
    assert.match(r.headers.get('www-authenticate') ?? '', /error="insufficient_scope"/);
    assert.match(await outcomeText(r), /smart\/orchestrate_launch/);
  });

  test('400 for bad JSON, reserved keys, unknown client, patient, encounter and persona', async () => {
    const cases: [string, RegExp][] = [
      ['{"client_id":', /not valid JSON/],
      ['[]', /JSON object/],
      ['{"client_id":"bilirubin_chart","parameters":{"access_token":"x"}}', /reserved parameter key\(s\) not allowed: access_token/],
      ['{"client_id":"bilirubin_chart","parameters":{"launch_id":"x"}}', /reserved parameter key\(s\) not allowed: launch_id/],
      ['{"client_id":"nope","parameters":{}}', /client_id nope is not an app of sandbox demo/],
      ['{"client_id":"bilirubin_chart","parameters":{"patient":"NOPE"}}', /patient NOPE does not exist in sandbox demo/],
      ['{"client_id":"bilirubin_chart","parameters":{"encounter":"NOPE"}}', /encounter NOPE does not exist/],
      ['{"client_id":"bilirubin_chart","username":"ghost","parameters":{}}', /username ghost is not a persona/],
      ['{"username":"x","parameters":{}}', /username needs client_id/],
    ];
    for (const [body, pattern] of cases) {
      const r = await registerAs(orchestrator, body);
      assert.equal(r.status, 400, body);
      assert.match(await outcomeText(r), pattern, body);
    }
  });

  test('413 for an oversized body, 415 for a body that is not JSON, 404 for an unknown sandbox', async () => {
    const big = JSON.stringify({ client_id: 'bilirubin_chart', parameters: { blob: 'x'.repeat(70 * 1024) } });
    const r413 = await registerAs(orchestrator, big);
    assert.equal(r413.status, 413);
    await outcomeText(r413);
    const r415 = await fetch(`${iss}/_services/smart/Launch`, { method: 'POST', headers: { authorization: `Bearer ${orchestrator}`, 'content-type': 'text/plain' }, body: SEED });
    assert.equal(r415.status, 415);
    await outcomeText(r415);
    const r404 = await fetch(`${base}/nosuch/data/_services/smart/Launch`, { method: 'POST', headers: { authorization: `Bearer ${orchestrator}`, 'content-type': 'application/json' }, body: SEED });
    assert.equal(r404.status, 404);
    assert.match(await outcomeText(r404), /sandbox nosuch does not exist/);
  });

  test('CORS preflight, the HSPC probe GET, and no Launch endpoint on the open base', async () => {
    const pre = await fetch(`${iss}/_services/smart/Launch`, {
      method: 'OPTIONS',
      headers: { origin: 'https://sandbox.cds-hooks.org', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'https://sandbox.cds-hooks.org');
    assert.match(pre.headers.get('access-control-allow-headers') ?? '', /Authorization/i);
    assert.match(pre.headers.get('access-control-allow-methods') ?? '', /POST/);
    const probe = await fetch(`${iss}/_services/smart/Launch`);
    assert.equal(probe.status, 200);
    assert.match(await probe.text(), /Welcome to the SMART Launch endpoint/);
    const open = await fetch(`${base}/demo/open/_services/smart/Launch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: SEED });
    assert.notEqual(open.status, 200);
  });

  test('GET and DELETE a launch; a revoked launch is unknown at /authorize', async () => {
    const { launch_id } = await (await registerAs(orchestrator, SEED)).json();
    const got = await fetch(`${iss}/_services/smart/Launch/${launch_id}`, { headers: { authorization: `Bearer ${orchestrator}` } });
    assert.equal(got.status, 200);
    assert.equal((await got.json()).launch_id, launch_id);
    const anon = await fetch(`${iss}/_services/smart/Launch/${launch_id}`);
    assert.equal(anon.status, 401);
    const del = await fetch(`${iss}/_services/smart/Launch/${launch_id}`, { method: 'DELETE', headers: { authorization: `Bearer ${orchestrator}` } });
    assert.equal(del.status, 204);
    const again = await fetch(`${iss}/_services/smart/Launch/${launch_id}`, { headers: { authorization: `Bearer ${orchestrator}` } });
    assert.equal(again.status, 404);
    const a = authorizeUrl({ issuer, aud: iss, clientId: 'bilirubin_chart', redirectUri: biliRedirect, scope: BILI_SCOPE, launch: launch_id });
    const r = await authorizeRedirect(a.url);
    assert.equal(r.location?.searchParams.get('error'), 'invalid_request');
    assert.equal(r.location?.searchParams.get('state'), a.state);
  });

  test('an unknown launch at /authorize is an OAuth error redirect with state, not a 500', async () => {
    const a = authorizeUrl({ issuer, aud: iss, clientId: 'bilirubin_chart', redirectUri: biliRedirect, scope: BILI_SCOPE, launch: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
    const r = await authorizeRedirect(a.url);
    assert.ok(r.status === 302 || r.status === 303, `status ${r.status}`);
    assert.equal(`${r.location!.origin}${r.location!.pathname}`, biliRedirect);
    assert.equal(r.location!.searchParams.get('error'), 'invalid_request');
    assert.equal(r.location!.searchParams.get('state'), a.state);
    assert.match(r.location!.searchParams.get('error_description') ?? '', /launch/);
  });

  test('an expired launch is refused at /authorize', async () => {
    const { launch_id } = await (await registerAs(orchestrator, JSON.stringify({ client_id: 'bilirubin_chart', expires_in: 1, parameters: { patient: 'BILIBABY' } }))).json();
    await new Promise((r) => setTimeout(r, 1100));
    const a = authorizeUrl({ issuer, aud: iss, clientId: 'bilirubin_chart', redirectUri: biliRedirect, scope: BILI_SCOPE, launch: launch_id });
    const r = await authorizeRedirect(a.url);
    assert.equal(r.location?.searchParams.get('error'), 'invalid_request');
    assert.match(r.location?.searchParams.get('error_description') ?? '', /unknown or has expired/);
  });

  test('a launch bound to bilirubin_chart cannot be used by another client', async () => {
    const { launch_id } = await (await registerAs(orchestrator, SEED)).json();
    const a = authorizeUrl({ issuer, aud: iss, clientId: 'other-app', redirectUri: 'http://127.0.0.1:9/cb', scope: 'launch patient/*.rs', launch: launch_id });
    const r = await authorizeRedirect(a.url);
    assert.equal(r.location?.searchParams.get('error'), 'invalid_request');
    assert.match(r.location?.searchParams.get('error_description') ?? '', /another app/);
  });

  test('a single sign-on launch needs no login and carries the persona; once spent, another browser logs in as that persona', async () => {
    const body = JSON.stringify({ client_id: 'bilirubin_chart', username: persona.username, parameters: { patient: 'BILIBABY' } });
    const reg = await (await registerAs(orchestrator, body)).json();
    assert.equal(reg.username, persona.username);
    const life = Date.parse(reg.expires_at) - Date.parse(reg.created_at);
    assert.equal(life, 60 * 60 * 1000, 'launches naming a persona live 60 minutes by default too');

    const a = authorizeUrl({ issuer, aud: iss, clientId: 'bilirubin_chart', redirectUri: biliRedirect, scope: BILI_SCOPE, launch: reg.launch_id });
    const browser = new ScriptedBrowser();
    const callback = new URL(await browser.run(a.url, biliRedirect, {}));
    assert.ok(!browser.visited.some((u) => u.includes('/interaction/') && u.includes('login')), 'no login page');
    const code = callback.searchParams.get('code');
    assert.ok(code, `a code is issued: ${callback}`);
    const t = await tokenRequest(issuer, { grant_type: 'authorization_code', code: code!, redirect_uri: biliRedirect, client_id: 'bilirubin_chart', code_verifier: a.verifier });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    assert.equal(t.body.patient, 'BILIBABY');

    // The launch is reusable, but its password-less sign-in was spent: a fresh browser must log in.
    const again = authorizeUrl({ issuer, aud: iss, clientId: 'bilirubin_chart', redirectUri: biliRedirect, scope: BILI_SCOPE, launch: reg.launch_id });
    const fresh = new ScriptedBrowser();
    const second = new URL(await fresh.run(again.url, biliRedirect, { username: persona.username, password: persona.password }));
    assert.ok(second.searchParams.get('code'), `reused with a login: ${second}`);
    assert.ok(fresh.visited.length > browser.visited.length, 'the fresh browser went through the login page');
  });

  test('expires_in is capped at 24 h, also for launches naming a persona', async () => {
    const long = await (await registerAs(orchestrator, JSON.stringify({ client_id: 'bilirubin_chart', expires_in: 10 ** 7, parameters: {} }))).json();
    assert.equal(Date.parse(long.expires_at) - Date.parse(long.created_at), 24 * 3600 * 1000);
    const sso = await (await registerAs(orchestrator, JSON.stringify({ client_id: 'bilirubin_chart', username: persona.username, expires_in: 3600, parameters: {} }))).json();
    assert.equal(Date.parse(sso.expires_at) - Date.parse(sso.created_at), 3600 * 1000);
    const ssoLong = await (await registerAs(orchestrator, JSON.stringify({ client_id: 'bilirubin_chart', username: persona.username, expires_in: 10 ** 7, parameters: {} }))).json();
    assert.equal(Date.parse(ssoLong.expires_at) - Date.parse(ssoLong.created_at), 24 * 3600 * 1000);
  });

  test("an app's own default launch lifetime (client setting) applies when expires_in is absent", async () => {
    const demo = (await server.services.tenants.get('demo'))!;
    await server.services.auth.clients.add(demo.key, { clientId: 'short-lived', public: true, redirectUris: ['http://127.0.0.1:9/s'], launchTtl: 600 });
    const own = await (await registerAs(orchestrator, JSON.stringify({ client_id: 'short-lived', parameters: {} }))).json();
    assert.equal(Date.parse(own.expires_at) - Date.parse(own.created_at), 600 * 1000);
    const asked = await (await registerAs(orchestrator, JSON.stringify({ client_id: 'short-lived', expires_in: 120, parameters: {} }))).json();
    assert.equal(Date.parse(asked.expires_at) - Date.parse(asked.created_at), 120 * 1000);
    await assert.rejects(server.services.auth.clients.add(demo.key, { clientId: 'too-long', public: true, redirectUris: ['http://127.0.0.1:9/s'], launchTtl: 86401 }), /at most|24 hours/);
  });

  test('legacy open registration: off by default; when on, anonymous with client_id, no username, rate-limited', async () => {
    const { services } = server;
    (await services.tenants.create('legacy', { openRegistration: true }));
    const legacy = (await services.tenants.get('legacy'))!;
    (await services.auth.clients.add(legacy.key, { clientId: 'app', public: true, redirectUris: ['http://127.0.0.1:9/cb'], launchUri: 'http://127.0.0.1:9/launch', scope: 'launch' }));
    const url = `${base}/legacy/data/_services/smart/Launch`;
    const post = (body: string) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const ok = await post('{"client_id":"app","parameters":{}}');
    const okBody = await ok.json();
    assert.equal(ok.status, 200, JSON.stringify(okBody));
    assert.equal(okBody.created_by, 'anonymous');
    assert.match(okBody.launch_url, /^http:\/\/127\.0\.0\.1:9\/launch\?iss=/);
    assert.match(await outcomeText(await post('{"parameters":{}}')), /requires client_id/);
    assert.match(await outcomeText(await post('{"client_id":"app","username":"x","parameters":{}}')), /cannot name a username/);
    let limited = 0;
    for (let i = 0; i < 40; i++) if ((await post('{"client_id":"app","parameters":{}}')).status === 429) limited++;
    assert.ok(limited > 0, 'open registration is rate-limited');
  });

  test('the audit trail records registration, authorize and token uses and failures, with hashed launch ids', async () => {
    const { services } = server;
    const demo = (await services.tenants.get('demo'))!;
    const body = JSON.stringify({ client_id: 'bilirubin_chart', username: persona.username, parameters: { patient: 'BILIBABY' } });
    const reg = await (await registerAs(orchestrator, body)).json();
    const a = authorizeUrl({ issuer, aud: iss, clientId: 'bilirubin_chart', redirectUri: biliRedirect, scope: BILI_SCOPE, launch: reg.launch_id });
    const code = new URL(await new ScriptedBrowser().run(a.url, biliRedirect, {})).searchParams.get('code')!;
    const t = await tokenRequest(issuer, { grant_type: 'authorization_code', code, redirect_uri: biliRedirect, client_id: 'bilirubin_chart', code_verifier: a.verifier });
    assert.equal(t.status, 200);
    const foreign = authorizeUrl({ issuer, aud: iss, clientId: 'other-app', redirectUri: 'http://127.0.0.1:9/cb', scope: 'launch patient/*.rs', launch: reg.launch_id });
    await authorizeRedirect(foreign.url);

    const { hashLaunchId } = await import('../../src/launch/model.js');
    const records = (await services.audit.query(demo.key, { launchHash: hashLaunchId(reg.launch_id) }));
    const seen = records.map((r) => `${r.action}:${r.outcome}`).sort();
    assert.deepEqual(seen, ['authorize:failure', 'authorize:success', 'register:success', 'token:success']);
    const authorized = records.find((r) => r.action === 'authorize' && r.outcome === 'success')!;
    assert.equal(authorized.username, persona.username);
    assert.equal(authorized.patient, 'BILIBABY');
    assert.equal(records.find((r) => r.action === 'authorize' && r.outcome === 'failure')?.detail, 'the launch was registered for another app');
    const raw = (server.services.backend as unknown as { db: import('better-sqlite3').Database }).db.prepare('SELECT count(*) AS n FROM audit_event WHERE launch_hash = ? OR detail LIKE ?').get(reg.launch_id, `%${reg.launch_id}%`) as { n: number };
    assert.equal(raw.n, 0, 'the launch id itself is never stored');
  });
});
