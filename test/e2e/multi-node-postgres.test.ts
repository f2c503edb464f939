/**
 * Issue #7: several stateless nodes over one PostgreSQL database. Two `serve --role api` nodes and
 * one `serve --role auth` node share one `--public-url` behind a small reverse proxy started here
 * (FHIR bases round-robin to the API nodes, everything else to the auth node; docs/architecture.md §3).
 * A launch registered on API node 1 is authorized and redeemed on the auth node, read through both
 * API nodes, refreshed, and revoked — and the revocation holds on both API nodes at once.
 */
import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { ScriptedBrowser } from '../helpers/browser.js';
import { authorizeUrl, tokenRequest } from '../helpers/oauth.js';
import { createTestDatabase, postgresSkip, type TestDatabase } from '../helpers/postgres.js';
import { cliJson, freePort, runCli, type ServerProcess, startServe, tempDir } from '../helpers/server.js';
import { roleProxy } from '../helpers/proxy.js';


describe('multi-node on PostgreSQL: two API nodes and one auth node behind one public URL', { skip: await postgresSkip() }, () => {
  const tmp = tempDir('ss-multi-');
  let db: TestDatabase;
  let env: Record<string, string>;
  let auth: ServerProcess;
  const apis: ServerProcess[] = [];
  let front: http.Server;
  let publicUrl: string;

  before(async () => {
    db = await createTestDatabase();
    env = { DATABASE_URL: db.url };
    const port = await freePort();
    publicUrl = `http://127.0.0.1:${port}`;
    // The auth node seeds the demo sandbox; the API nodes start at once, racing on the migrations lock.
    auth = await startServe(tmp.dir, ['--role', 'auth', '--public-url', publicUrl], env);
    apis.push(...(await Promise.all([0, 1].map(() => startServe(tmp.dir, ['--role', 'api', '--public-url', publicUrl], env)))));
    front = roleProxy(
      port,
      apis.map((a) => a.port),
      auth.port,
    );
  });

  after(async () => {
    front?.close();
    for (const a of apis) await a.stop();
    await auth?.stop();
    await db?.drop();
    tmp.remove();
  });

  test('launch on API node 1, token from the auth node, reads on both API nodes, refresh, revoke seen by both at once', async () => {
    const iss = `${publicUrl}/demo/data`;
    const issuer = `${publicUrl}/demo/auth`;
    const launcher = cliJson(tmp.dir, ['client', 'add', 'demo', 'launcher', '--grant', 'client_credentials', '--scope', 'smart/orchestrate_launch'], env);
    const cc = await tokenRequest(issuer, { grant_type: 'client_credentials', scope: 'smart/orchestrate_launch' }, { id: 'launcher', secret: launcher.client_secret });
    assert.equal(cc.status, 200, JSON.stringify(cc.body));
    const personas = cliJson(tmp.dir, ['persona', 'list', 'demo', '--json'], env);
    const doc = personas.find((p: { resource: string }) => p.resource.startsWith('Practitioner/'));

    // Registered on API node 1 directly.
    const reg = await fetch(`http://127.0.0.1:${apis[0].port}/demo/data/_services/smart/Launch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${cc.body.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: 'bilirubin_chart', username: doc.username, parameters: { patient: 'BILIBABY', need_patient_banner: false } }),
    });
    const launch = await reg.json();
    assert.equal(reg.status, 200, JSON.stringify(launch));
    assert.ok(launch.launch_url.includes(encodeURIComponent(iss)), 'URLs follow the shared public URL');

    // Authorized and redeemed on the auth node (through the proxy).
    const redirectUri = `${publicUrl}/apps/bilirubin-chart/index.html`;
    const a = authorizeUrl({
      issuer,
      aud: iss,
      clientId: 'bilirubin_chart',
      redirectUri,
      scope: 'launch patient/Observation.read patient/Patient.read online_access',
      launch: launch.launch_id,
    });
    const callback = new URL(await new ScriptedBrowser().run(a.url, redirectUri));
    const t = await tokenRequest(issuer, {
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code')!,
      redirect_uri: redirectUri,
      client_id: 'bilirubin_chart',
      code_verifier: a.verifier,
    });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    assert.equal(t.body.patient, 'BILIBABY');
    assert.ok(t.body.refresh_token, 'online_access gives a refresh token');

    const read = (node: ServerProcess, token: string) =>
      fetch(`http://127.0.0.1:${node.port}/demo/data/Observation?code=58941-6&patient=BILIBABY`, { headers: { authorization: `Bearer ${token}` } });
    for (const node of apis) {
      const r = await read(node, t.body.access_token);
      assert.equal(r.status, 200, await r.clone().text());
      assert.equal((await r.json()).entry.length, 8);
    }
    // Through the proxy, round-robin: both nodes answer alike.
    for (let i = 0; i < 4; i++) assert.equal((await fetch(`${iss}/Patient/BILIBABY`, { headers: { authorization: `Bearer ${t.body.access_token}` } })).status, 200);

    // Refresh on the auth node: the new token works on both API nodes; the context survives.
    const r2 = await tokenRequest(issuer, { grant_type: 'refresh_token', refresh_token: t.body.refresh_token, client_id: 'bilirubin_chart' });
    assert.equal(r2.status, 200, JSON.stringify(r2.body));
    assert.equal(r2.body.patient, 'BILIBABY');
    for (const node of apis) assert.equal((await read(node, r2.body.access_token)).status, 200);

    // Revoke the new access token on the auth node: refused by both API nodes at once (no cache).
    const rev = await fetch(`${issuer}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: r2.body.access_token, token_type_hint: 'access_token', client_id: 'bilirubin_chart' }),
    });
    assert.equal(rev.status, 200, await rev.text());
    const after = await Promise.all(apis.map((node) => read(node, r2.body.access_token)));
    assert.deepEqual(
      after.map((r) => r.status),
      [401, 401],
    );
    // The reused (rotated) first refresh token is refused: a second node cannot replay it either.
    const replay = await tokenRequest(issuer, { grant_type: 'refresh_token', refresh_token: t.body.refresh_token, client_id: 'bilirubin_chart' });
    assert.equal(replay.status, 400);
    assert.equal(replay.body.error, 'invalid_grant');
  });

  test('keys rotated by the CLI on another machine are served by the running auth node at once', async () => {
    const jwks = async () => ((await (await fetch(`${publicUrl}/demo/auth/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    const before = await jwks();
    const r = runCli(tmp.dir, ['keys', 'rotate', 'demo'], env);
    assert.equal(r.status, 0, r.stderr);
    const after = await jwks();
    assert.equal(after.length, 2);
    assert.equal(after[1], before[0], 'the previous signing key stays published');
    assert.notEqual(after[0], before[0]);
  });
});
