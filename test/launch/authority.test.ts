/**
 * Who may register which launch, and who may redeem it (docs/architecture.md §5, issue 11), over real HTTP:
 * the attacks of issue 11 each refused, for a Patient and a RelatedPerson persona.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Resource } from '@medplum/fhirtypes';
import { resolveConfig } from '../../src/config/config.js';
import { type RunningServer, startServer } from '../../src/main.js';
import { ScriptedBrowser } from '../helpers/browser.js';
import { authorizeRedirect, authorizeUrl, clientCredentials, tokenRequest } from '../helpers/oauth.js';
import { tempDir } from '../helpers/server.js';

const APP_REDIRECT = 'http://127.0.0.1:9/cds/redirect';
const APP_LAUNCH = 'http://127.0.0.1:9/cds/launch.html';
const OTHER_REDIRECT = 'http://127.0.0.1:9/other/cb';
const OTHER_LAUNCH = 'http://127.0.0.1:9/other/launch';
const USER_SCOPE = 'patient/*.* user/*.* launch openid profile online_access';

const RESOURCES = [
  { resourceType: 'Patient', id: 'ATTACKED', name: [{ given: ['Ann'], family: 'Attacked' }] },
  { resourceType: 'RelatedPerson', id: 'MOTHER', patient: { reference: 'Patient/BILIBABY' }, name: [{ given: ['Mia'], family: 'Bili' }] },
  { resourceType: 'Encounter', id: 'ENC-ATTACKED', status: 'finished', class: { code: 'AMB' }, subject: { reference: 'Patient/ATTACKED' } },
  { resourceType: 'Encounter', id: 'ENC-BILI', status: 'finished', class: { code: 'AMB' }, subject: { reference: 'Patient/BILIBABY' } },
] as Resource[];

/** A Patient persona and a RelatedPerson persona, both of BILIBABY. */
const PERSONAS = [
  { label: 'Patient', username: 'pt-bili', password: 'pt-bili-pass', resource: 'Patient/BILIBABY' },
  { label: 'RelatedPerson', username: 'rp-mother', password: 'rp-mother-pass', resource: 'RelatedPerson/MOTHER' },
];

describe('launch authority (issue 11 attacks)', () => {
  const tmp = tempDir('ss-authority-');
  let server: RunningServer;
  let iss: string;
  let issuer: string;
  let biliRedirect: string;
  let orchestrator: string;
  let demoKey: number;

  const register = (token: string, body: unknown) =>
    fetch(`${iss}/_services/smart/Launch`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
  const diagnostics = async (r: Response) => ((await r.json()).issue ?? []).map((i: { diagnostics?: string }) => i.diagnostics).join(' ');

  /** A user token of the launch-registering app `cds`, after a login as `who`. */
  const userToken = async (who: { username: string; password: string }, scope = USER_SCOPE, patient?: string) => {
    const a = authorizeUrl({ issuer, aud: iss, clientId: 'cds', redirectUri: APP_REDIRECT, scope });
    const browser = new ScriptedBrowser();
    const back = new URL(await browser.run(a.url, APP_REDIRECT, { ...who, patient }));
    const t = await tokenRequest(issuer, { grant_type: 'authorization_code', code: back.searchParams.get('code') ?? '', redirect_uri: APP_REDIRECT, client_id: 'cds', code_verifier: a.verifier });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    return t.body.access_token as string;
  };

  before(async () => {
    server = await startServer(resolveConfig({ dataDir: tmp.dir, port: 0, logLevel: 'silent' }), () => {});
    const base = server.config.publicUrl;
    iss = `${base}/demo/data`;
    issuer = `${base}/demo/auth`;
    biliRedirect = `${base}/apps/bilirubin-chart/index.html`;
    const { services } = server;
    const demo = (await services.tenants.get('demo'))!;
    demoKey = demo.key;
    await services.fhir.bulkLoad(demo.key, RESOURCES);
    await services.auth.clients.add(demo.key, { clientId: 'launcher', secret: 'launcher-secret-0123456789', grantTypes: ['client_credentials'], scope: 'smart/orchestrate_launch' });
    await services.auth.clients.add(demo.key, {
      clientId: 'cds',
      public: true,
      redirectUris: [APP_REDIRECT],
      launchUri: APP_LAUNCH,
      scope: 'launch launch/patient patient/*.* user/*.* openid profile fhirUser online_access',
      consent: 'skip',
      mayRegisterLaunches: true,
    });
    await services.auth.clients.add(demo.key, { clientId: 'other-app', public: true, redirectUris: [OTHER_REDIRECT], launchUri: OTHER_LAUNCH, scope: 'launch launch/patient patient/*.rs openid fhirUser', consent: 'skip' });
    for (const p of PERSONAS) await services.auth.personas.add(demo.key, { username: p.username, password: p.password, resource: p.resource });
    orchestrator = await clientCredentials(issuer, 'launcher', 'launcher-secret-0123456789', 'smart/orchestrate_launch');
  });

  after(async () => {
    await server?.close();
    tmp.remove();
  });

  for (const persona of PERSONAS) {
    describe(`${persona.label} persona`, () => {
      let token: string;
      before(async () => {
        token = await userToken(persona);
      });

      test('registering a launch for another patient is 403; for its own patient the launch is its own', async () => {
        const attack = await register(token, { client_id: 'bilirubin_chart', parameters: { patient: 'ATTACKED' } });
        assert.equal(attack.status, 403);
        assert.match(await diagnostics(attack), /may not register a launch for patient ATTACKED/);
        await server.services.audit.flush();
        const audited = await server.services.audit.query(demoKey, { clientId: 'cds', outcome: 'failure' });
        assert.ok(audited.some((r) => r.action === 'register' && /patient ATTACKED/.test(r.detail ?? '')), 'the refusal is audited');
        const byEncounter = await register(token, { client_id: 'bilirubin_chart', parameters: { encounter: 'ENC-ATTACKED' } });
        assert.equal(byEncounter.status, 403, 'an encounter names its patient');
        const foreignEncounter = await register(token, { client_id: 'bilirubin_chart', parameters: { patient: 'BILIBABY', encounter: 'ENC-ATTACKED' } });
        assert.equal(foreignEncounter.status, 403, "another patient's encounter");
        const asSomeoneElse = await register(token, { client_id: 'bilirubin_chart', username: 'practitioner', parameters: { patient: 'BILIBABY' } });
        assert.equal(asSomeoneElse.status, 403);

        const own = await register(token, { client_id: 'bilirubin_chart', parameters: { patient: 'BILIBABY', encounter: 'ENC-BILI' } });
        const body = await own.json();
        assert.equal(own.status, 200, JSON.stringify(body));
        assert.equal(body.username, persona.username, "the launch's user is the token's user");
      });

      test('a launch without client_id is bound to the apps of its launchUrl, never unbound; no match is a 400 in the audit', async () => {
        const none = await register(token, { parameters: { patient: 'BILIBABY' } });
        assert.equal(none.status, 400);
        assert.match(await diagnostics(none), /must name its app/);

        const dead = await register(token, { launchUrl: 'http://127.0.0.1:9/nowhere/launch.html', parameters: { patient: 'BILIBABY' } });
        assert.equal(dead.status, 400);
        assert.match(await diagnostics(dead), /no app of sandbox demo has the launch URI http:\/\/127\.0\.0\.1:9\/nowhere\/launch\.html .*register the app with that launch URI/);
        await server.services.audit.flush();
        const refusals = await server.services.audit.query(demoKey, { clientId: 'cds', outcome: 'failure' });
        assert.ok(refusals.some((r) => r.action === 'register' && r.username === persona.username && /nowhere/.test(r.detail ?? '')), 'the refusal is in the launch audit');
        // …and the console's launch inspector shows it.
        const inspector = await fetch(`${server.config.publicUrl}/api/sandboxes/demo/launches`, { headers: { authorization: `Bearer ${server.config.adminToken}` } });
        const { refused: inspected } = await inspector.json();
        assert.ok(inspected.some((r: { detail?: string }) => /nowhere\/launch\.html/.test(r.detail ?? '')), JSON.stringify(inspected));

        // Same origin and path (host case, default port, query and fragment do not matter): bound to other-app.
        const card = await register(token, { launchUrl: 'HTTP://127.0.0.1:9/other/launch?lang=en#x', parameters: { patient: 'BILIBABY' } });
        const body = await card.json();
        assert.equal(card.status, 200, JSON.stringify(body));
        const cds = authorizeUrl({ issuer, aud: iss, clientId: 'cds', redirectUri: APP_REDIRECT, scope: 'launch patient/*.rs', launch: body.launch_id });
        const refused = await authorizeRedirect(cds.url);
        assert.equal(refused.location?.searchParams.get('error'), 'invalid_request', 'an app whose launch URI differs may not use it');
      });

      test("signing in to another patient's launch is access_denied (also through the standalone picker)", async () => {
        const reg = await (await register(orchestrator, { client_id: 'other-app', parameters: { patient: 'ATTACKED' } })).json();
        const a = authorizeUrl({ issuer, aud: iss, clientId: 'other-app', redirectUri: OTHER_REDIRECT, scope: 'launch patient/*.rs', launch: reg.launch_id });
        const back = new URL(await new ScriptedBrowser().run(a.url, OTHER_REDIRECT, persona));
        assert.equal(back.searchParams.get('error'), 'access_denied');
        assert.match(back.searchParams.get('error_description') ?? '', /may not open patient ATTACKED/);

        // Standalone: the picker offers (and accepts) only the persona's patient.
        const s = authorizeUrl({ issuer, aud: iss, clientId: 'other-app', redirectUri: OTHER_REDIRECT, scope: 'launch/patient patient/*.rs' });
        const done = new URL(await new ScriptedBrowser().run(s.url, OTHER_REDIRECT, persona));
        const t = await tokenRequest(issuer, { grant_type: 'authorization_code', code: done.searchParams.get('code') ?? '', redirect_uri: OTHER_REDIRECT, client_id: 'other-app', code_verifier: s.verifier });
        assert.equal(t.body.patient, 'BILIBABY');
      });

      test('its launch is refused to another app', async () => {
        const reg = await (await register(token, { client_id: 'bilirubin_chart', parameters: { patient: 'BILIBABY' } })).json();
        const a = authorizeUrl({ issuer, aud: iss, clientId: 'other-app', redirectUri: OTHER_REDIRECT, scope: 'launch patient/*.rs', launch: reg.launch_id });
        const r = await authorizeRedirect(a.url);
        assert.equal(r.location?.searchParams.get('error'), 'invalid_request');
        assert.match(r.location?.searchParams.get('error_description') ?? '', /another app/);
        // …and the app it is bound to may use it (bilirubin_chart is that app).
        const ok = authorizeUrl({ issuer, aud: iss, clientId: 'bilirubin_chart', redirectUri: biliRedirect, scope: 'launch patient/Patient.read', launch: reg.launch_id });
        const loc = (await authorizeRedirect(ok.url)).location;
        assert.equal(loc?.searchParams.get('error'), null, String(loc));
      });
    });
  }

  test('a launchUrl matching several apps binds the launch to each of them, and to no other', async () => {
    const { services } = server;
    for (const id of ['twin-a', 'twin-b'])
      await services.auth.clients.add(demoKey, { clientId: id, public: true, redirectUris: [`http://127.0.0.1:9/${id}/cb`], launchUri: `http://127.0.0.1:9/twin/launch?variant=${id}`, scope: 'launch patient/*.rs', consent: 'skip' });
    const doc = (await services.auth.personas.list(demoKey)).find((p) => p.resource.startsWith('Practitioner/'))!;
    const token = await userToken({ username: doc.username, password: doc.demoPassword! }, USER_SCOPE, 'BILIBABY');
    const reg = await register(token, { launchUrl: 'http://127.0.0.1:9/twin/launch', parameters: { patient: 'BILIBABY' } });
    const body = await reg.json();
    assert.equal(reg.status, 200, JSON.stringify(body));
    assert.match(body.launch_url, /^http:\/\/127\.0\.0\.1:9\/twin\/launch\?iss=/, 'launch_url is built from the launchUrl sent');
    for (const id of ['twin-a', 'twin-b']) {
      const a = authorizeUrl({ issuer, aud: iss, clientId: id, redirectUri: `http://127.0.0.1:9/${id}/cb`, scope: 'launch patient/*.rs', launch: body.launch_id });
      const loc = (await authorizeRedirect(a.url)).location;
      assert.equal(loc?.searchParams.get('error') ?? null, null, `${id} may use it: ${loc}`);
    }
    const other = authorizeUrl({ issuer, aud: iss, clientId: 'other-app', redirectUri: OTHER_REDIRECT, scope: 'launch patient/*.rs', launch: body.launch_id });
    assert.equal((await authorizeRedirect(other.url)).location?.searchParams.get('error'), 'invalid_request');
  });

  test('a token whose resource scopes are all patient/ may only name its context patient', async () => {
    const { services } = server;
    const doc = (await services.auth.personas.list(demoKey)).find((p) => p.resource.startsWith('Practitioner/'))!;
    const token = await userToken({ username: doc.username, password: doc.demoPassword! }, 'launch/patient patient/*.rs openid', 'BILIBABY');
    const other = await register(token, { client_id: 'bilirubin_chart', parameters: { patient: 'ATTACKED' } });
    assert.equal(other.status, 403);
    assert.match(await diagnostics(other), /only register launches for its own context patient BILIBABY/);
    assert.equal((await register(token, { client_id: 'bilirubin_chart', parameters: { patient: 'BILIBABY' } })).status, 200);
    // A Practitioner with user/ scopes may name any patient.
    const wide = await userToken({ username: doc.username, password: doc.demoPassword! }, USER_SCOPE, 'BILIBABY');
    assert.equal((await register(wide, { client_id: 'bilirubin_chart', parameters: { patient: 'ATTACKED', encounter: 'ENC-ATTACKED' } })).status, 200);
    const mismatch = await register(wide, { client_id: 'bilirubin_chart', parameters: { patient: 'BILIBABY', encounter: 'ENC-ATTACKED' } });
    assert.equal(mismatch.status, 403, 'an encounter must belong to the named patient');
    assert.match(await diagnostics(mismatch), /ENC-ATTACKED is not an encounter of patient BILIBABY/);
  });
});
