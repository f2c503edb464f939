/**
 * Simulated errors (issue #6, as smart-launcher-v2 offers): a launch registered with
 * `simulate_error` fails for real at /authorize, /token or the FHIR API.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { resolveConfig } from '../../src/config/config.js';
import { SIMULATED_ERRORS } from '../../src/launch/model.js';
import { type RunningServer, startServer } from '../../src/main.js';
import { ScriptedBrowser } from '../helpers/browser.js';
import { authorizeUrl, tokenRequest } from '../helpers/oauth.js';
import { dropTestDatabaseFor, testDatabaseUrlFor } from '../helpers/postgres.js';
import { runCli, tempDir } from '../helpers/server.js';

describe('simulated errors', () => {
  const tmp = tempDir('ss-sim-');
  let server: RunningServer;
  let iss: string;
  let issuer: string;
  let databaseUrl: string | undefined;
  const REDIRECT = 'http://127.0.0.1:9/sim/cb';
  const SCOPE = 'launch patient/*.rs offline_access';

  before(async () => {
    // On PostgreSQL runs (SMART_SANDBOX_TEST_BACKEND=postgres) the data dir has its own database.
    databaseUrl = await testDatabaseUrlFor(tmp.dir);
    server = await startServer(resolveConfig({ dataDir: tmp.dir, databaseUrl, port: 0, logLevel: 'silent' }), () => {});
    iss = `${server.config.publicUrl}/demo/data`;
    issuer = `${server.config.publicUrl}/demo/auth`;
    const demo = (await server.services.tenants.get('demo'))!;
    await server.services.auth.clients.add(demo.key, { clientId: 'sim-app', public: true, redirectUris: [REDIRECT], launchUri: 'http://127.0.0.1:9/sim/launch', scope: SCOPE, consent: 'skip', grantTypes: ['authorization_code', 'refresh_token'] });
  });
  after(async () => {
    await server?.close();
    await dropTestDatabaseFor(tmp.dir);
    tmp.remove();
  });

  /** Registers an SSO launch (no login page) with the simulated error and runs /authorize. */
  async function launch(simulate?: string): Promise<{ callback: URL; verifier: string; state: string }> {
    const demo = (await server.services.tenants.get('demo'))!;
    const body: Record<string, unknown> = { client_id: 'sim-app', username: 'practitioner', parameters: { patient: 'BILIBABY' } };
    if (simulate) body.simulate_error = simulate;
    const l = await server.services.launch.register(demo, { kind: 'admin', name: 'test' }, body);
    if (simulate) assert.equal(l.simulate_error, simulate);
    const a = authorizeUrl({ issuer, aud: iss, clientId: 'sim-app', redirectUri: REDIRECT, scope: SCOPE, launch: l.launch_id });
    return { callback: new URL(await new ScriptedBrowser().run(a.url, REDIRECT)), verifier: a.verifier, state: a.state };
  }
  const exchange = (code: string, verifier: string) =>
    tokenRequest(issuer, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: 'sim-app', code_verifier: verifier });
  const read = (token: string) => fetch(`${iss}/Patient/BILIBABY`, { headers: { authorization: `Bearer ${token}` } });

  test('an unknown simulated error is refused at registration', async () => {
    const r = await fetch(`${iss}/_services/smart/Launch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"client_id":"sim-app","simulate_error":"nope"}' });
    assert.equal(r.status, 401, 'no token first');
    const demo = (await server.services.tenants.get('demo'))!;
    await assert.rejects(() => server.services.launch.register(demo, { kind: 'admin', name: 'test' }, { client_id: 'sim-app', simulate_error: 'nope' }), new RegExp(`simulate_error must be one of ${SIMULATED_ERRORS[0]}`));
  });

  test('without a simulated error the same flow works (control)', async () => {
    const { callback, verifier } = await launch();
    const t = await exchange(callback.searchParams.get('code')!, verifier);
    assert.equal(t.status, 200);
    assert.equal((await read(t.body.access_token)).status, 200);
  });

  for (const [error, oauth] of [
    ['auth_invalid_scope', 'invalid_scope'],
    ['auth_access_denied', 'access_denied'],
  ] as const) {
    test(`${error}: /authorize answers ${oauth} with state`, async () => {
      const { callback, state } = await launch(error);
      assert.equal(callback.searchParams.get('error'), oauth);
      assert.equal(callback.searchParams.get('state'), state);
      assert.equal(callback.searchParams.get('code'), null);
    });
  }

  test('token_invalid_grant: the code exchange is refused and nothing it issued works', async () => {
    const { callback, verifier } = await launch('token_invalid_grant');
    const t = await exchange(callback.searchParams.get('code')!, verifier);
    assert.equal(t.status, 400);
    assert.equal(t.body.error, 'invalid_grant');
    assert.equal(t.body.access_token, undefined);
  });

  test('token_expired_refresh_token: the first token works, every refresh is refused', async () => {
    const { callback, verifier } = await launch('token_expired_refresh_token');
    const t = await exchange(callback.searchParams.get('code')!, verifier);
    assert.equal(t.status, 200);
    assert.equal((await read(t.body.access_token)).status, 200);
    const r = await tokenRequest(issuer, { grant_type: 'refresh_token', refresh_token: t.body.refresh_token, client_id: 'sim-app' });
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'invalid_grant');
    assert.equal((await read(t.body.access_token)).status, 401, 'the grant is revoked with it');
  });

  test('request_invalid_token: the FHIR API refuses the token with 401 invalid_token', async () => {
    const { callback, verifier } = await launch('request_invalid_token');
    const t = await exchange(callback.searchParams.get('code')!, verifier);
    assert.equal(t.status, 200);
    assert.equal(t.body.smart_simulate_error, undefined, 'internal keys never reach the app');
    const r = await read(t.body.access_token);
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate') ?? '', /invalid_token/);
  });

  test('request_expired_token: the FHIR API refuses the token once it is a second old', async () => {
    const { callback, verifier } = await launch('request_expired_token');
    const t = await exchange(callback.searchParams.get('code')!, verifier);
    assert.equal(t.status, 200);
    await new Promise((r) => setTimeout(r, 2100));
    assert.equal((await read(t.body.access_token)).status, 401);
  });

  test('the CLI registers a launch with --simulate-error', () => {
    const r = runCli(tmp.dir, ['launch', 'demo', '--client', 'sim-app', '--simulate-error', 'request_invalid_token'], databaseUrl ? { DATABASE_URL: databaseUrl } : {});
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).simulate_error, 'request_invalid_token');
  });
});
