/**
 * Issue #4 "Done when" (checklist L2, D3): the real fhirclient (Node entry) drives a standalone launch
 * with the patient picker and an EHR launch from a stored launch context, for a public, a symmetric and
 * an asymmetric (ES384 and RS384) client, then reads through the token and refreshes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import crypto from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { resolveConfig } from '../../src/config/config.js';
import { type RunningServer, startServer } from '../../src/main.js';
import { ScriptedBrowser } from '../helpers/browser.js';
import { AppSession } from '../helpers/fhirclient.js';
import { tempDir } from '../helpers/server.js';

const APP = 'http://127.0.0.1:9311';
const REDIRECT = `${APP}/app/redirect`;

interface ClientCase {
  name: string;
  clientId: string;
  options: () => Record<string, unknown>;
  /**
   * fhirclient's refresh() authenticates symmetric clients (Basic) and sends nothing for public ones,
   * but cannot sign an assertion for asymmetric ones; for those the refresh is made with jose, as
   * SMART asks ("confidential clients authenticate as at code exchange").
   */
  assertion?: (tokenUrl: string) => Promise<string>;
}

describe('fhirclient end to end (L2)', () => {
  const tmp = tempDir('ss-fhirclient-');
  let server: RunningServer;
  let iss: string;
  let doc: { username: string; password: string };
  const cases: ClientCase[] = [];

  before(async () => {
    server = await startServer(resolveConfig({ dataDir: tmp.dir, port: 0, logLevel: 'silent' }), () => {});
    iss = `${server.config.publicUrl}/demo/data`;
    const { services } = server;
    const demo = (await services.tenants.get('demo'))!;
    const p = (await services.auth.personas.list(demo.key)).find((x) => x.resource.startsWith('Practitioner/'))!;
    doc = { username: p.username, password: p.demoPassword! };
    const scope = 'launch launch/patient openid fhirUser offline_access patient/*.rs';
    const common = { redirectUris: [REDIRECT], launchUri: `${APP}/launch`, scope, consent: 'skip' as const, grantTypes: ['authorization_code', 'refresh_token'] };
    await services.auth.clients.add(demo.key, { clientId: 'fc-public', public: true, ...common });
    cases.push({ name: 'public', clientId: 'fc-public', options: () => ({}) });
    await services.auth.clients.add(demo.key, { clientId: 'fc-secret', secret: 'fc-secret-value-0123456789abcdef', ...common });
    cases.push({ name: 'symmetric', clientId: 'fc-secret', options: () => ({ clientSecret: 'fc-secret-value-0123456789abcdef' }) });
    for (const alg of ['ES384', 'RS384'] as const) {
      const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
      const kid = `fc-${alg}`;
      const pub = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
      const priv = { ...(await exportJWK(privateKey)), kid, alg };
      await services.auth.clients.add(demo.key, { clientId: `fc-${alg}`, jwks: { keys: [pub] }, ...common });
      const assertion = (aud: string) =>
        new SignJWT({})
          .setProtectedHeader({ alg, kid, typ: 'JWT' })
          .setIssuer(`fc-${alg}`)
          .setSubject(`fc-${alg}`)
          .setAudience(aud)
          .setJti(crypto.randomUUID())
          .setIssuedAt()
          .setExpirationTime('2m')
          .sign(privateKey);
      cases.push({ name: `asymmetric ${alg}`, clientId: `fc-${alg}`, options: () => ({ clientPrivateJwk: priv }), assertion });
    }
  });

  after(async () => {
    await server?.close();
    tmp.remove();
  });

  async function readAndRefresh(client: Awaited<ReturnType<AppSession['ready']>>, c: ClientCase): Promise<void> {
    assert.equal(client.patient.id, 'BILIBABY');
    const patient = await client.patient.read();
    assert.equal(patient.id, 'BILIBABY');
    const bundle = await client.request(`Observation?code=58941-6&patient=${client.patient.id}`);
    assert.equal(bundle.entry.length, 8);
    assert.match(client.user.fhirUser ?? '', /^Practitioner\//);
    const before = client.state.tokenResponse!.access_token;
    let afterRefresh: Record<string, any>;
    if (c.assertion) {
      const tokenUrl = `${server.config.publicUrl}/demo/auth/token`;
      const r = await fetch(tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: client.state.tokenResponse!.refresh_token,
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: await c.assertion(tokenUrl),
        }),
      });
      afterRefresh = await r.json();
      assert.equal(r.status, 200, JSON.stringify(afterRefresh));
      const unauthenticated = await fetch(tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: afterRefresh.refresh_token }),
      });
      assert.ok(unauthenticated.status === 400 || unauthenticated.status === 401, 'a confidential client must authenticate to refresh');
      client.state.tokenResponse = afterRefresh;
    } else {
      await client.refresh();
      afterRefresh = client.state.tokenResponse!;
    }
    assert.notEqual(afterRefresh.access_token, before, 'a new access token');
    assert.equal(afterRefresh.patient, 'BILIBABY', 'the context survives refresh');
    const read = await fetch(`${iss}/Patient/BILIBABY`, { headers: { authorization: `Bearer ${afterRefresh.access_token}` } });
    assert.equal(read.status, 200, 'the new token reads');
  }

  test('standalone launch with the patient picker, for every client type', async () => {
    for (const c of cases) {
      const app = new AppSession(APP);
      const url = await app.authorize('/launch', { iss, clientId: c.clientId, scope: 'launch/patient openid fhirUser offline_access patient/*.rs', redirectUri: REDIRECT, ...c.options() });
      const browser = new ScriptedBrowser();
      const callback = await browser.run(url, REDIRECT, { ...doc, patient: 'BILIBABY' });
      assert.ok(browser.visited.length > 1, `${c.name}: went through the pages`);
      const client = await app.ready(callback);
      await readAndRefresh(client, c);
    }
  });

  test('EHR launch from a stored launch context, for every client type', async () => {
    const { services } = server;
    const demo = (await services.tenants.get('demo'))!;
    for (const c of cases) {
      const launch = await services.launch.register(demo, { kind: 'admin', name: 'test' }, { client_id: c.clientId, parameters: { patient: 'BILIBABY', need_patient_banner: false, intent: 'review' } });
      const launchUrl = new URL(launch.launch_url!);
      assert.equal(launchUrl.origin, APP);
      const app = new AppSession(APP);
      const url = await app.authorize(`${launchUrl.pathname}${launchUrl.search}`, { clientId: c.clientId, scope: 'launch openid fhirUser offline_access patient/*.rs', redirectUri: REDIRECT, ...c.options() });
      const client = await app.ready(await new ScriptedBrowser().run(url, REDIRECT, doc));
      assert.equal(client.state.tokenResponse!.need_patient_banner, false, c.name);
      assert.equal(client.state.tokenResponse!.intent, 'review', c.name);
      await readAndRefresh(client, c);
    }
  });

  test('D3 the CapabilityStatement oauth-uris equal the smart-configuration endpoints', async () => {
    const well = await (await fetch(`${iss}/.well-known/smart-configuration`)).json();
    const meta = await (await fetch(`${iss}/metadata`)).json();
    const ext = meta.rest[0].security.extension.find((e: { url: string }) => e.url === 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris');
    const uris = Object.fromEntries(ext.extension.map((e: { url: string; valueUri: string }) => [e.url, e.valueUri]));
    assert.equal(uris.authorize, well.authorization_endpoint);
    assert.equal(uris.token, well.token_endpoint);
    assert.equal(uris.introspect, well.introspection_endpoint);
    assert.equal(uris.revoke, well.revocation_endpoint);
    assert.equal(uris.register, well.registration_endpoint);
    assert.equal(uris['launch-registration'], `${iss}/_services/smart/Launch`);
    assert.deepEqual(meta.rest[0].security.service[0].coding[0].code, 'SMART-on-FHIR');
  });
});
