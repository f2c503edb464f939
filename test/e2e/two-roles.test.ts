/**
 * Issue #5: the launch context is synchronised between the API and the auth server through the one
 * store. `serve --role api` and `serve --role auth` run as two processes on one data dir with one
 * public URL; a launch registered on the API process is completed through the auth process at once.
 */
import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { ScriptedBrowser } from '../helpers/browser.js';
import { authorizeUrl, tokenRequest } from '../helpers/oauth.js';
import { cliJson, freePort, runCli, type ServerProcess, startServe, tempDir } from '../helpers/server.js';
import { roleProxy } from '../helpers/proxy.js';


describe('two processes, one store: --role api and --role auth', () => {
  const tmp = tempDir('ss-roles-');
  let api: ServerProcess;
  let auth: ServerProcess;
  let front: http.Server;
  let publicUrl: string;

  before(async () => {
    const port = await freePort();
    publicUrl = `http://127.0.0.1:${port}`;
    // The auth role seeds the demo sandbox on first start; the API role never seeds.
    auth = await startServe(tmp.dir, ['--role', 'auth', '--public-url', publicUrl]);
    api = await startServe(tmp.dir, ['--role', 'api', '--public-url', publicUrl]);
    front = roleProxy(port, [api.port], auth.port);
  });

  after(async () => {
    front?.close();
    await api?.stop();
    await auth?.stop();
    tmp.remove();
  });

  test('each role serves only its part', async () => {
    assert.equal((await fetch(`http://127.0.0.1:${api.port}/demo/data/metadata`)).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${auth.port}/demo/data/metadata`)).status, 404);
    assert.equal((await fetch(`http://127.0.0.1:${auth.port}/demo/auth/.well-known/openid-configuration`)).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${api.port}/demo/auth/.well-known/openid-configuration`)).status, 404);
  });

  test('register on the API process, authorize and redeem on the auth process, read on the API process', async () => {
    const iss = `${publicUrl}/demo/data`;
    const issuer = `${publicUrl}/demo/auth`;
    const launcher = cliJson(tmp.dir, ['client', 'add', 'demo', 'launcher', '--grant', 'client_credentials', '--scope', 'smart/orchestrate_launch']);
    const cc = await tokenRequest(issuer, { grant_type: 'client_credentials', scope: 'smart/orchestrate_launch' }, { id: 'launcher', secret: launcher.client_secret });
    assert.equal(cc.status, 200, JSON.stringify(cc.body));
    const personas = JSON.parse(runCli(tmp.dir, ['persona', 'list', 'demo', '--json']).stdout);
    const doc = personas.find((p: { resource: string }) => p.resource.startsWith('Practitioner/'));

    const reg = await fetch(`${iss}/_services/smart/Launch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${cc.body.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: 'bilirubin_chart', username: doc.username, parameters: { patient: 'BILIBABY', need_patient_banner: false } }),
    });
    const launch = await reg.json();
    assert.equal(reg.status, 200, JSON.stringify(launch));

    const redirectUri = `${publicUrl}/apps/bilirubin-chart/index.html`;
    const a = authorizeUrl({ issuer, aud: iss, clientId: 'bilirubin_chart', redirectUri, scope: 'launch patient/Observation.read patient/Patient.read', launch: launch.launch_id });
    const callback = new URL(await new ScriptedBrowser().run(a.url, redirectUri));
    const t = await tokenRequest(issuer, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: redirectUri, client_id: 'bilirubin_chart', code_verifier: a.verifier });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    assert.equal(t.body.patient, 'BILIBABY');
    assert.equal(t.body.need_patient_banner, false);

    const obs = await fetch(`http://127.0.0.1:${api.port}/demo/data/Observation?code=58941-6&patient=BILIBABY`, { headers: { authorization: `Bearer ${t.body.access_token}` } });
    const bundle = await obs.json();
    assert.equal(obs.status, 200, JSON.stringify(bundle));
    assert.equal(bundle.entry.filter((e: { resource: { resourceType: string } }) => e.resource.resourceType === 'Observation').length, 8);
  });
});
