/**
 * Launch parameters named like Object.prototype members (found by the fuzz suite): a launch the
 * registration service accepted must deliver every parameter at the top level of the token response
 * (SMART App Launch 2.2 §"Launch context arrives with your access_token"). A `k in body` check once
 * dropped `hasOwnProperty`, `toString`, `valueOf`, … silently, because `in` sees inherited members.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { resolveConfig } from '../../src/config/config.js';
import { type RunningServer, startServer } from '../../src/main.js';
import { ScriptedBrowser } from '../helpers/browser.js';
import { authorizeUrl, clientCredentials, tokenRequest } from '../helpers/oauth.js';
import { tempDir } from '../helpers/server.js';

describe('launch context keys that are Object.prototype member names', () => {
  const tmp = tempDir('ss-ctxkeys-');
  let server: RunningServer;
  let iss: string;
  let issuer: string;
  let redirect: string;
  let orchestrator: string;
  let persona: string;

  before(async () => {
    server = await startServer(resolveConfig({ dataDir: tmp.dir, port: 0, logLevel: 'silent' }), () => {});
    const base = server.config.publicUrl;
    iss = `${base}/demo/data`;
    issuer = `${base}/demo/auth`;
    redirect = `${base}/apps/bilirubin-chart/index.html`;
    const demo = (await server.services.tenants.get('demo'))!;
    await server.services.auth.clients.add(demo.key, { clientId: 'launcher', secret: 'launcher-secret-0123456789', grantTypes: ['client_credentials'], scope: 'smart/orchestrate_launch' });
    orchestrator = await clientCredentials(issuer, 'launcher', 'launcher-secret-0123456789', 'smart/orchestrate_launch');
    persona = (await server.services.auth.personas.list(demo.key)).find((p) => p.resource.startsWith('Practitioner/'))!.username;
  });
  after(async () => {
    await server?.close();
    tmp.remove();
  });

  test('hasOwnProperty, toString, valueOf, isPrototypeOf, propertyIsEnumerable and toLocaleString reach the token response', async () => {
    const parameters = {
      patient: 'BILIBABY',
      hasOwnProperty: { role: true },
      toString: 'x',
      valueOf: 1,
      isPrototypeOf: true,
      propertyIsEnumerable: [1, 2],
      toLocaleString: null,
    };
    const reg = await fetch(`${iss}/_services/smart/Launch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${orchestrator}`, 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: 'bilirubin_chart', username: persona, parameters }),
    });
    const launch = await reg.json();
    assert.equal(reg.status, 200, JSON.stringify(launch));
    assert.deepEqual(launch.parameters, parameters);

    const a = authorizeUrl({ issuer, aud: iss, clientId: 'bilirubin_chart', redirectUri: redirect, scope: 'launch openid fhirUser patient/Patient.read', launch: launch.launch_id });
    const back = new URL(await new ScriptedBrowser().run(a.url, redirect, {}));
    const code = back.searchParams.get('code');
    assert.ok(code, back.search);
    const tok = await tokenRequest(issuer, { grant_type: 'authorization_code', code, redirect_uri: redirect, client_id: 'bilirubin_chart', code_verifier: a.verifier });
    assert.equal(tok.status, 200, JSON.stringify(tok.body));
    for (const [k, v] of Object.entries(parameters)) {
      assert.ok(Object.hasOwn(tok.body, k), `${k} is missing from the token response`);
      assert.deepEqual(tok.body[k], v, k);
    }
  });
});
