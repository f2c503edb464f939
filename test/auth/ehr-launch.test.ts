/** EHR launch (SMART 2.2 §"EHR launch"; docs/architecture.md §5): T6 and sandbox single sign-on launches. */
import assert from 'node:assert/strict';
import { hashLaunchId } from '../../src/launch/model.js';
import { after, before, describe, test } from 'node:test';
import { bilirubinAppUrls } from '../../src/config/urls.js';
import { DOC, PAT, REDIRECT, authorize, exchange, seedBasics } from './helpers/flows.js';
import { Browser, type Harness, authorizeUrl, pkcePair, postForm, startHarness } from './helpers/harness.js';

describe('EHR launch', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    await seedBasics(h);
  });
  after(() => h.close());

  const params = {
    patient: 'BILIBABY',
    encounter: 'ENC1',
    need_patient_banner: false,
    smart_style_url: 'https://ehr.example/style.json',
    fhirContext: [{ reference: 'Appointment/123' }, { canonical: 'http://example.org/Questionnaire/q|1', type: 'Questionnaire' }],
    intent: 'reconcile-medications',
    tenant: 'org-1',
    __darkMode: true,
    appContext: { a: [1, 2] },
  };

  test('T6 launch with login: every context key at top level with its JSON type, also on refresh and introspection', async () => {
    const launch = await h.launch({ parameters: params, clientIds: ['app'] });
    const r = await authorize(h, { clientId: 'app', scope: 'launch openid fhirUser offline_access user/*.rs patient/*.rs', launch, login: DOC });
    const t = await exchange(h, r.url.searchParams.get('code') as string, r.verifier, { client_id: 'app' });
    assert.equal(t.status, 200);
    for (const [k, v] of Object.entries(params)) assert.deepEqual(t.body[k], v, k);
    assert.match(String(t.body.scope), /\blaunch\b/);
    const rf = await postForm(h.urls.token, { grant_type: 'refresh_token', refresh_token: String(t.body.refresh_token), client_id: 'app' });
    for (const [k, v] of Object.entries(params)) assert.deepEqual(rf.body[k], v, `refresh ${k}`);
    const g = await h.auth.verifier.verify(h.sandbox, String(rf.body.access_token));
    assert.equal(g?.patient, 'BILIBABY');
    assert.equal(g?.encounter, 'ENC1');
    assert.deepEqual(g?.context.fhirContext, params.fhirContext);
  });

  test('T6 defaults: need_patient_banner true and the server style URL when the launch names none; string booleans converted', async () => {
    const launch = await h.launch({ parameters: { patient: 'OTHER', need_patient_banner: 'false' } });
    const r = await authorize(h, { clientId: 'app', scope: 'launch patient/*.rs', launch, login: DOC });
    const t = await exchange(h, r.url.searchParams.get('code') as string, r.verifier, { client_id: 'app' });
    assert.equal(t.body.patient, 'OTHER');
    assert.equal(t.body.need_patient_banner, false);
    assert.equal(t.body.smart_style_url, `${h.config.publicUrl}/smart-style.json`);
    const l2 = await h.launch({ parameters: { patient: 'OTHER' } });
    const r2 = await authorize(h, { clientId: 'app', scope: 'launch patient/*.rs', launch: l2, login: DOC });
    const t2 = await exchange(h, r2.url.searchParams.get('code') as string, r2.verifier, { client_id: 'app' });
    assert.equal(t2.body.need_patient_banner, true);
  });

  test('the launch scope without a launch parameter is not granted (standalone apps that also ask for launch proceed)', async () => {
    const r = await authorize(h, { clientId: 'app', scope: 'launch launch/patient patient/*.rs', login: DOC, patient: 'BILIBABY' });
    const t = await exchange(h, r.url.searchParams.get('code') as string, r.verifier, { client_id: 'app' });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    assert.equal(t.body.patient, 'BILIBABY');
    const granted = String(t.body.scope).split(' ');
    assert.ok(!granted.includes('launch'), `launch not granted: ${t.body.scope}`);
    assert.ok(granted.includes('launch/patient'), `launch/patient granted: ${t.body.scope}`);
  });

  test('SSO launch (username): no login, no consent; reusable in its session, password-less only once; no reusable browser session', async () => {
    const launch = await h.launch({ parameters: { patient: 'BILIBABY' }, clientIds: ['app'], username: 'doc' });
    const b = new Browser();
    const { verifier, challenge } = pkcePair();
    const url = authorizeUrl(h, { client_id: 'app', redirect_uri: REDIRECT, scope: 'launch openid fhirUser patient/*.rs', launch, code_challenge: challenge, code_challenge_method: 'S256', state: 'sso' });
    const back = await b.go(url, REDIRECT);
    assert.ok(back, `expected a direct redirect, got page ${b.page.slice(0, 300)}`);
    assert.equal(back.searchParams.get('state'), 'sso');
    const t = await exchange(h, back.searchParams.get('code') as string, verifier, { client_id: 'app' });
    assert.equal(t.status, 200);
    assert.equal(t.body.patient, 'BILIBABY');
    assert.equal((await h.launches.find(h.sandbox.key, hashLaunchId(launch), Date.now()))?.consumedAt !== undefined, true, 'its password-less sign-in is spent');

    // Second use of the same launch in the session it signed in: the context is reusable.
    const { challenge: c2 } = pkcePair();
    const again = await b.go(authorizeUrl(h, { client_id: 'app', redirect_uri: REDIRECT, scope: 'launch patient/*.rs', launch, code_challenge: c2, code_challenge_method: 'S256', state: 'again' }), REDIRECT);
    assert.ok(again?.searchParams.get('code'), `reused in its session: ${b.page.slice(0, 300)}`);
    // In another browser it needs the persona's password now (the username is fixed).
    const other = new Browser();
    const { challenge: c4 } = pkcePair();
    assert.equal(await other.go(authorizeUrl(h, { client_id: 'app', redirect_uri: REDIRECT, scope: 'launch patient/*.rs', launch, code_challenge: c4, code_challenge_method: 'S256' }), REDIRECT), undefined);
    assert.match(other.page, /name="username" required readonly value="doc"/);

    // The same browser starting a standalone launch must sign in: the SSO session is not reusable.
    const { challenge: c3 } = pkcePair();
    const next = await b.go(authorizeUrl(h, { client_id: 'app', redirect_uri: REDIRECT, scope: 'user/*.rs', code_challenge: c3, code_challenge_method: 'S256' }), REDIRECT);
    assert.equal(next, undefined);
    assert.match(b.page, /name="step" value="login"/);
    // …and signing in as another persona in that browser works (account switch without a script page).
    await b.submit(h.config.publicUrl, REDIRECT, DOC);
    const done = await b.submit(h.config.publicUrl, REDIRECT, { decision: 'approve' });
    assert.ok(done?.searchParams.get('code'), b.page.slice(-400));
  });

  test("past the 2-minute window an orchestrator's launch no longer signs in without a password; the login is for its persona only", async () => {
    const launch = await h.launch({ parameters: { patient: 'BILIBABY' }, clientIds: ['app'], username: 'doc' });
    h.advance(3 * 60_000);
    const url = () => {
      const { challenge } = pkcePair();
      return authorizeUrl(h, { client_id: 'app', redirect_uri: REDIRECT, scope: 'launch patient/*.rs', launch, code_challenge: challenge, code_challenge_method: 'S256' });
    };
    const b = new Browser();
    assert.equal(await b.go(url(), REDIRECT), undefined);
    assert.match(b.page, /name="username" required readonly value="doc"/);
    const back = await b.submit(h.config.publicUrl, REDIRECT, DOC);
    assert.ok(back?.searchParams.get('code'), b.page.slice(0, 300));

    const someoneElse = new Browser();
    await someoneElse.go(url(), REDIRECT);
    const refused = await someoneElse.submit(h.config.publicUrl, REDIRECT, PAT);
    assert.equal(refused?.searchParams.get('error'), 'access_denied');

    h.advance(60 * 60_000);
    const gone = await new Browser().request(url());
    assert.match(new URL(gone.headers.get('location') as string).searchParams.get('error_description') ?? '', /unknown or has expired/);
  });

  test('SSO launch asks before it replaces an existing session of another persona', async () => {
    const r = await authorize(h, { clientId: 'app', scope: 'user/*.rs', login: DOC });
    const launch = await h.launch({ parameters: { patient: 'BILIBABY' }, username: 'pat' });
    const { verifier, challenge } = pkcePair();
    const asked = await r.browser.go(
      authorizeUrl(h, { client_id: 'app', redirect_uri: REDIRECT, scope: 'launch openid fhirUser patient/*.rs', launch, code_challenge: challenge, code_challenge_method: 'S256' }),
      REDIRECT,
    );
    assert.equal(asked, undefined);
    assert.match(r.browser.page, /Switch persona\?/);
    const back = await r.browser.submit(h.config.publicUrl, REDIRECT, { decision: 'switch' });
    assert.ok(back, r.browser.page.slice(0, 3000));
    const t = await exchange(h, back.searchParams.get('code') as string, verifier, { client_id: 'app' });
    const g = await h.auth.verifier.verify(h.sandbox, String(t.body.access_token));
    assert.equal(g?.sub, 'pat');
    assert.equal(g?.fhirUser, 'Patient/BILIBABY');
  });

  test('seedDemo: bilirubin_chart (public, consent skipped, PKCE) and two personas with generated passwords, idempotent', async () => {
    const creds = (await h.auth.seedDemo(h.sandbox, { practitioner: 'DOC1', patient: 'BILIBABY' }));
    assert.equal(creds.length, 2);
    for (const c of creds) assert.ok(c.password.length >= 16);
    assert.deepEqual(
      creds.map((c) => c.resource),
      ['Practitioner/DOC1', 'Patient/BILIBABY'],
    );
    const again = (await h.auth.seedDemo(h.sandbox, { practitioner: 'DOC1', patient: 'BILIBABY' }));
    assert.deepEqual(again, creds);
    const listed = (await h.auth.personas.list(h.sandbox.key)).filter((p) => p.demoPassword);
    assert.equal(listed.length, 2);
    assert.equal((await h.auth.personas.list(h.sandbox.key)).find((p) => p.username === 'doc')?.demoPassword, undefined);
    const app = (await h.auth.clients.getClient(h.sandbox.key, 'bilirubin_chart'));
    const urls = bilirubinAppUrls(h.config.publicUrl);
    assert.equal(app?.authMethod, 'none');
    assert.equal(app?.consent, 'skip');
    assert.equal(app?.pkce, 'required');
    assert.equal(app?.launchUri, urls.launch);
    assert.deepEqual(app?.redirectUris, [urls.redirect]);

    // The demo app end to end through an EHR launch with the seeded practitioner.
    const launch = await h.launch({ parameters: { patient: 'BILIBABY' }, clientIds: ['bilirubin_chart'] });
    const b = new Browser();
    const { verifier, challenge } = pkcePair();
    await b.go(authorizeUrl(h, { client_id: 'bilirubin_chart', redirect_uri: urls.redirect, scope: 'launch openid fhirUser patient/Observation.read patient/Patient.read online_access', launch, code_challenge: challenge, code_challenge_method: 'S256' }), urls.redirect);
    const back = await b.submit(h.config.publicUrl, urls.redirect, { username: creds[0].username, password: creds[0].password });
    assert.ok(back, 'consent is skipped');
    const t = await postForm(h.urls.token, { grant_type: 'authorization_code', code: back.searchParams.get('code') as string, redirect_uri: urls.redirect, client_id: 'bilirubin_chart', code_verifier: verifier });
    assert.equal(t.status, 200);
    assert.equal(t.body.patient, 'BILIBABY');
    assert.equal(typeof t.body.refresh_token, 'string');
  });
});
