/**
 * The console's HTML pages over the real stack (issue 6): forms with CSRF fields, errors in words,
 * app registration from a manifest, personas, launch in a new tab or the simulated EHR frame,
 * scenarios with one-click relaunch, the inspector, and escaping of hostile data.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Bundle } from '@medplum/fhirtypes';
import { hashLaunchId } from '../../src/launch/model.js';
import { type Harness, startConsole } from './harness.js';

let h: Harness;
before(async () => {
  h = await startConsole();
});
after(() => h.close());

const get = (url: string) => h.browser({ method: 'GET', url });
const post = (url: string, payload: Record<string, string>) => h.browser({ method: 'POST', url, payload });

describe('console pages', () => {
  test('the home page lists sandboxes with their iss; the overview shows issuer and discovery links', async () => {
    const home = await get('/');
    assert.equal(home.statusCode, 200);
    assert.match(home.body, /http:\/\/127\.0\.0\.1:8080\/demo\/data/);
    assert.match(home.body, /<form method="post" action="\/console\/sandboxes"/);
    assert.match(home.body, new RegExp(`name="_csrf" value="${h.session.csrf}"`), 'forms carry the CSRF token');
    const ov = await get('/console/s/demo');
    assert.equal(ov.statusCode, 200);
    for (const u of ['/demo/auth', '/demo/data/.well-known/smart-configuration', '/demo/auth/.well-known/openid-configuration', '/demo/data/metadata'])
      assert.ok(ov.body.includes(`http://127.0.0.1:8080${u}`), u);
    assert.equal((await get('/console/s/nope')).statusCode, 404);
  });

  test('create a sandbox with a form, switch open access, reset and delete it', async () => {
    const created = await post('/console/sandboxes', { id: 'form-made', name: 'Made by a form', data: 'empty', open: 'yes' });
    assert.equal(created.statusCode, 303, created.body);
    assert.equal(created.headers.location, '/console/s/form-made?created=0');
    assert.equal((await h.services.tenants.get('form-made'))!.openRead, true);
    const off = await post('/console/s/form-made/update', { name: 'Made by a form' });
    assert.equal(off.statusCode, 200);
    assert.match(off.body, /Settings saved/);
    assert.equal((await h.services.tenants.get('form-made'))!.openRead, false);
    const reset = await post('/console/s/form-made/reset', { data: 'empty', confirm: 'yes' });
    assert.match(reset.body, /Sandbox reset/);
    const del = await post('/console/s/form-made/delete', { confirm: 'yes' });
    assert.equal(del.statusCode, 200);
    assert.match(del.body, /Sandbox form-made deleted/);
    assert.equal((await h.services.tenants.get('form-made')), undefined);
  });

  test('a refused form says why in words and keeps what was typed', async () => {
    const res = await post('/console/sandboxes', { id: 'Bad Id', name: 'kept <b>name</b>', data: 'empty' });
    assert.equal(res.statusCode, 400);
    assert.match(res.body, /role="alert">sandbox id &quot;Bad Id&quot; must match/);
    assert.match(res.body, /value="kept &lt;b&gt;name&lt;\/b&gt;"/);
  });

  test('patients list with search and a patient page with summary and raw JSON', async () => {
    const list = await get('/console/s/demo/patients?name=bili');
    assert.equal(list.statusCode, 200);
    assert.match(list.body, /href="\/console\/s\/demo\/patients\/BILIBABY"/);
    const p = await get('/console/s/demo/patients/BILIBABY');
    assert.equal(p.statusCode, 200);
    assert.match(p.body, /<h2>Observations<\/h2>/);
    assert.match(p.body, /mg\/dL/);
    assert.match(p.body, /<pre class="json">/);
    assert.match(p.body, /href="\/console\/s\/demo\/launch\?patient=BILIBABY"/);
  });

  test('hostile patient data is escaped and narratives are never rendered as HTML', async () => {
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          request: { method: 'PUT', url: 'Patient/evil' },
          resource: {
            resourceType: 'Patient',
            id: 'evil',
            text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml"><b>narrative</b> &lt;script&gt;alert(3)&lt;/script&gt;</div>' },
            name: [{ family: '<script>alert(1)</script>', given: ['<img src=x onerror=alert(2)>'] }],
            gender: 'unknown',
          },
        },
      ],
    };
    (await h.services.fhir.transaction((await h.services.tenants.get('demo'))!.key, bundle));
    for (const url of ['/console/s/demo/patients?name=script', '/console/s/demo/patients/evil', '/console/s/demo/launch?patient=evil']) {
      const res = await get(url);
      assert.equal(res.statusCode, 200, url);
      assert.doesNotMatch(res.body, /<script/i, url);
      assert.doesNotMatch(res.body, /<img/i, url);
      assert.doesNotMatch(res.body, /<b>narrative/, `${url} renders the narrative`);
    }
    const page = await get('/console/s/demo/patients/evil');
    assert.match(page.body, /&lt;img src=x onerror=alert\(2\)&gt; &lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  });

  test('register an app from a pasted manifest; the confidential secret is shown once; edit and delete', async () => {
    const manifest = JSON.stringify({ client_name: 'Form Manifest App', launch_url: 'http://localhost:4000/launch', redirect_uris: ['http://localhost:4000/'] });
    const res = await post('/console/s/demo/apps/manifest', { manifest, clientId: 'form_manifest' });
    assert.equal(res.statusCode, 200, res.body);
    const secret = /shown only this once: <code class="secret">([^<]+)<\/code>/.exec(res.body)?.[1];
    assert.ok(secret, 'secret shown');
    const again = await get('/console/s/demo/apps');
    assert.ok(!again.body.includes(secret!), 'never shown again');
    assert.match(again.body, /Form Manifest App/);
    const edit = await get('/console/s/demo/apps/form_manifest');
    assert.equal(edit.statusCode, 200);
    assert.match(edit.body, /value="http:\/\/localhost:4000\/launch"/);
    const saved = await post('/console/s/demo/apps/form_manifest', {
      name: 'Renamed',
      kind: 'public',
      redirectUris: 'http://localhost:4000/\nhttp://localhost:4000/other',
      launchUri: 'http://localhost:4000/launch',
      pkce: 'required',
      consent: 'prompt',
    });
    assert.equal(saved.statusCode, 200, saved.body);
    const c = (await h.services.auth.clients.getClient((await h.services.tenants.get('demo'))!.key, 'form_manifest'))!;
    assert.equal(c.name, 'Renamed');
    assert.equal(c.authMethod, 'none');
    assert.deepEqual(c.redirectUris, ['http://localhost:4000/', 'http://localhost:4000/other']);
    const badJson = await post('/console/s/demo/apps/manifest', { manifest: '{not json' });
    assert.equal(badJson.statusCode, 400);
    assert.match(badJson.body, /the manifest is not valid JSON/);
    const del = await post('/console/s/demo/apps/form_manifest/delete', { confirm: 'yes' });
    assert.match(del.body, /deleted; its tokens are revoked/);
  });

  test('add and delete a persona with the form', async () => {
    const res = await post('/console/s/demo/personas', { username: 'dr-form', resource: 'Practitioner/demo-practitioner-01' });
    assert.equal(res.statusCode, 200, res.body);
    assert.match(res.body, /Persona <code>dr-form<\/code> added. Its password, shown only this once/);
    const bad = await post('/console/s/demo/personas', { username: 'dr-x', resource: 'Practitioner/missing' });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.body, /Practitioner\/missing does not exist in this sandbox/);
    const del = await post('/console/s/demo/personas/dr-form/delete', { confirm: 'yes' });
    assert.match(del.body, /Persona <code>dr-form<\/code> deleted/);
  });

  test('launch in a new tab redirects to the app launch URL with iss and launch', async () => {
    const res = await post('/console/s/demo/launch', { client_id: 'bilirubin_chart', username: 'practitioner', patient: 'BILIBABY', need_patient_banner: 'yes', mode: 'tab' });
    assert.equal(res.statusCode, 303, res.body);
    const u = new URL(String(res.headers.location));
    assert.equal(u.origin + u.pathname, 'http://127.0.0.1:8080/apps/bilirubin-chart/launch.html');
    assert.equal(u.searchParams.get('iss'), 'http://127.0.0.1:8080/demo/data');
    const launch = (await h.services.launches.find((await h.services.tenants.get('demo'))!.key, hashLaunchId(u.searchParams.get('launch')!), Date.now()));
    assert.ok(launch);
    assert.equal(launch!.username, 'practitioner');
    assert.deepEqual(launch!.parameters, { patient: 'BILIBABY', need_patient_banner: true });
  });

  test('a launch from the form can simulate an error (offered in the form, stored on the launch)', async () => {
    const page = await get('/console/s/demo/launch');
    assert.match(page.body, /<select id="ln-sim" name="simulate_error"/);
    assert.match(page.body, /<option value="request_invalid_token">/);
    const res = await post('/console/s/demo/launch', { client_id: 'bilirubin_chart', patient: 'BILIBABY', simulate_error: 'auth_access_denied', mode: 'tab' });
    assert.equal(res.statusCode, 303, res.body);
    const launchId = new URL(String(res.headers.location)).searchParams.get('launch')!;
    assert.equal((await h.services.launches.find((await h.services.tenants.get('demo'))!.key, hashLaunchId(launchId), Date.now()))?.simulateError, 'auth_access_denied');
  });

  test('launch inside the simulated EHR frame: banner shown by the frame when need_patient_banner is false', async () => {
    const res = await post('/console/s/demo/launch', {
      client_id: 'bilirubin_chart',
      username: 'practitioner',
      patient: 'BILIBABY',
      intent: 'reconcile',
      fhirContext: '[{"reference":"Patient/BILIBABY"}]',
      custom: 'flag=true\nnote=hello world',
      mode: 'frame',
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers['content-security-policy']), /frame-ancestors 'self'/);
    assert.match(String(res.headers['content-security-policy']), /frame-src 'self'/);
    assert.match(res.body, /data-testid="ehr-patient-banner"/);
    const src = /<iframe class="ehr-app" title="Bilirubin Chart" src="([^"]+)"/.exec(res.body)?.[1];
    assert.ok(src, 'the app is framed');
    const u = new URL(src!.replace(/&amp;/g, '&'));
    const launch = (await h.services.launches.find((await h.services.tenants.get('demo'))!.key, hashLaunchId(u.searchParams.get('launch')!), Date.now()));
    assert.deepEqual(launch!.parameters, {
      patient: 'BILIBABY',
      intent: 'reconcile',
      need_patient_banner: false,
      fhirContext: [{ reference: 'Patient/BILIBABY' }],
      flag: true,
      note: 'hello world',
    });
    const withBanner = await post('/console/s/demo/launch', { client_id: 'bilirubin_chart', patient: 'BILIBABY', need_patient_banner: 'yes', mode: 'frame' });
    assert.doesNotMatch(withBanner.body, /ehr-patient-banner/, 'the app shows its own banner');
    const bad = await post('/console/s/demo/launch', { client_id: 'bilirubin_chart', patient: 'NOPE', mode: 'frame' });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.body, /patient NOPE does not exist in sandbox demo/);
    const badCustom = await post('/console/s/demo/launch', { client_id: 'bilirubin_chart', custom: 'scope=x', mode: 'frame' });
    assert.equal(badCustom.statusCode, 400);
    assert.match(badCustom.body, /reserved parameter key/);
  });

  test('save a scenario from the launch form, relaunch it in one click, see it in the inspector', async () => {
    const saved = await post('/console/s/demo/launch', { client_id: 'bilirubin_chart', username: 'practitioner', patient: 'BILIBABY', mode: 'save', name: 'Bili in EHR' });
    assert.equal(saved.statusCode, 200, saved.body);
    assert.match(saved.body, /Scenario <strong>Bili in EHR<\/strong> saved/);
    const demo = (await h.services.tenants.get('demo'))!;
    const sc = (await h.services.scenarios.list(demo.key)).find((x) => x.name === 'Bili in EHR')!;
    const page = await get('/console/s/demo/launch');
    assert.match(page.body, new RegExp(`action="/console/s/demo/scenarios/${sc.id}/launch"`));
    assert.match(page.body, /never/);
    const relaunch = await post(`/console/s/demo/scenarios/${sc.id}/launch`, { mode: 'tab' });
    assert.equal(relaunch.statusCode, 303);
    const launchId = new URL(String(relaunch.headers.location)).searchParams.get('launch')!;
    const after = await get('/console/s/demo/launch');
    assert.doesNotMatch(after.body, />never</);
    const inspector = await get('/console/s/demo/inspector');
    assert.equal(inspector.statusCode, 200);
    assert.ok(inspector.body.includes(hashLaunchId(launchId).slice(0, 10)), 'the relaunch is listed');
    assert.ok(!inspector.body.includes(launchId), 'launch ids are never shown');
    assert.match(inspector.body, /register success/);
    const del = await post(`/console/s/demo/scenarios/${sc.id}/delete`, { confirm: 'yes' });
    assert.match(del.body, /Scenario deleted/);
  });
});
