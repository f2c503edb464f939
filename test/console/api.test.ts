/**
 * The console's JSON admin API over the real stack (issue 6): sandboxes, patients, apps (manual and
 * from a SMART manifest, JSON or URL), personas, launches, scenarios and the inspector.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { hashLaunchId } from '../../src/launch/model.js';
import { type Harness, HOST, startConsole, TOKEN } from './harness.js';

let h: Harness;
before(async () => {
  h = await startConsole();
});
after(() => h.close());

const api = (method: string, url: string, payload?: unknown) =>
  h.app.inject({
    method: method as 'GET',
    url,
    headers: { host: HOST, authorization: `Bearer ${TOKEN}`, ...(payload !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(payload !== undefined ? { payload: JSON.stringify(payload) } : {}),
  });

describe('console API: sandboxes', () => {
  test('create, list, show, update, export, reset, delete', async () => {
    const created = await api('POST', '/api/sandboxes', { id: 'team-a', name: 'Team A', data: 'demo', open: true });
    assert.equal(created.statusCode, 201, created.body);
    const c = created.json();
    assert.equal(c.sandbox.iss, 'http://127.0.0.1:8080/team-a/data');
    assert.equal(c.sandbox.issuer, 'http://127.0.0.1:8080/team-a/auth');
    assert.equal(c.sandbox.smartConfiguration, 'http://127.0.0.1:8080/team-a/data/.well-known/smart-configuration');
    assert.equal(c.sandbox.openBase, 'http://127.0.0.1:8080/team-a/open');
    assert.ok(c.resources > 10);
    assert.ok(c.personas.length >= 2, 'demo personas with their generated passwords');

    const list = (await api('GET', '/api/sandboxes')).json().sandboxes.map((s: { id: string }) => s.id);
    assert.deepEqual(list, ['demo', 'team-a']);

    const upd = await api('PATCH', '/api/sandboxes/team-a', { open: false, name: 'Team A2' });
    assert.equal(upd.statusCode, 200);
    assert.equal(upd.json().open, false);
    assert.equal(upd.json().name, 'Team A2');
    assert.equal((await h.services.tenants.get('team-a'))!.openRead, false);

    const exp = await api('GET', '/api/sandboxes/team-a/export');
    assert.equal(exp.statusCode, 200);
    assert.match(String(exp.headers['content-disposition']), /attachment; filename="team-a.json"/);
    const bundle = exp.json();
    assert.equal(bundle.type, 'transaction');
    assert.ok(bundle.entry.some((e: { request: { url: string } }) => e.request.url === 'Patient/BILIBABY'));

    const keyBefore = (await h.services.tenants.get('team-a'))!.key;
    const reset = await api('POST', '/api/sandboxes/team-a/reset', { data: 'empty' });
    assert.equal(reset.statusCode, 200, reset.body);
    assert.equal(reset.json().resources, 0);
    assert.notEqual((await h.services.tenants.get('team-a'))!.key, keyBefore, 'a reset makes a new generation');
    assert.equal(reset.json().sandbox.name, 'Team A2', 'settings survive a reset');

    assert.equal((await api('DELETE', '/api/sandboxes/team-a')).statusCode, 204);
    assert.equal((await h.services.tenants.get('team-a')), undefined);
    assert.equal((await api('DELETE', '/api/sandboxes/team-a')).statusCode, 404);
  });

  test('bad input answers 4xx in words', async () => {
    const cases: [unknown, number, RegExp][] = [
      [{ id: 'API' }, 400, /must match/],
      [{ id: 'console' }, 400, /reserved/],
      [{ id: 'demo' }, 409, /already exists/],
      [{ id: 'x-ok', data: 'lots' }, 400, /data must be demo, empty or synthetic:N/],
      [{ id: 'x-ok', openWrite: true }, 400, /openWrite needs open/],
      [{ id: 'x-ok', open: 'yes' }, 400, /open must be true or false/],
      [[1, 2], 400, /JSON object/],
    ];
    for (const [body, status, msg] of cases) {
      const res = await api('POST', '/api/sandboxes', body);
      assert.equal(res.statusCode, status, JSON.stringify(body));
      assert.match(res.json().issue[0].diagnostics, msg);
    }
    assert.equal((await api('GET', '/api/sandboxes/nope')).statusCode, 404);
  });
});

describe('console API: patients', () => {
  test('name search with paging, and the patient summary', async () => {
    const all = await api('GET', '/api/sandboxes/demo/patients?count=2');
    assert.equal(all.statusCode, 200);
    const first = all.json();
    assert.equal(first.patients.length, 2);
    assert.equal(first.hasNext, true);
    const second = (await api('GET', '/api/sandboxes/demo/patients?count=2&page=2')).json();
    assert.notDeepEqual(
      second.patients.map((p: { id: string }) => p.id),
      first.patients.map((p: { id: string }) => p.id),
    );
    const bili = (await api('GET', '/api/sandboxes/demo/patients?name=bili')).json();
    assert.ok(bili.patients.some((p: { id: string }) => p.id === 'BILIBABY'), JSON.stringify(bili));
    const row = bili.patients.find((p: { id: string }) => p.id === 'BILIBABY');
    assert.ok(row.name && row.gender && row.birthDate);

    const summary = await api('GET', '/api/sandboxes/demo/patients/BILIBABY');
    assert.equal(summary.statusCode, 200);
    const s = summary.json();
    assert.equal(s.patient.id, 'BILIBABY');
    assert.ok(s.observations.length >= 8, 'the bilirubin measurements');
    for (const k of ['conditions', 'medications', 'encounters']) assert.ok(Array.isArray(s[k]));
    assert.equal((await api('GET', '/api/sandboxes/demo/patients/NOPE')).statusCode, 404);
    assert.equal((await api('GET', '/api/sandboxes/demo/patients?page=abc')).statusCode, 400);
  });
});

describe('console API: apps and personas', () => {
  test('add a public app, a confidential one (secret shown once), edit, list, remove', async () => {
    const pub = await api('POST', '/api/sandboxes/demo/apps', {
      clientId: 'my_app',
      name: 'My app',
      public: true,
      redirectUris: ['http://localhost:3000/cb'],
      launchUri: 'http://localhost:3000/launch',
      scope: 'launch patient/*.rs openid fhirUser',
    });
    assert.equal(pub.statusCode, 201, pub.body);
    assert.equal(pub.json().client.authMethod, 'none');
    assert.equal(pub.json().generatedSecret, undefined);

    const conf = await api('POST', '/api/sandboxes/demo/apps', { clientId: 'svc', grantTypes: ['client_credentials'], scope: 'system/*.rs' });
    assert.equal(conf.statusCode, 201, conf.body);
    const secret = conf.json().generatedSecret;
    assert.ok(typeof secret === 'string' && secret.length >= 16, 'generated secret returned once');
    const listed = (await api('GET', '/api/sandboxes/demo/apps')).json().apps;
    assert.ok(listed.some((c: { clientId: string }) => c.clientId === 'svc'));
    assert.ok(!JSON.stringify(listed).includes(secret), 'the secret is never listed');

    const edited = await api('PUT', '/api/sandboxes/demo/apps/my_app', {
      name: 'My app v2',
      public: true,
      redirectUris: ['http://localhost:3000/cb2'],
      launchUri: 'http://localhost:3000/launch',
    });
    assert.equal(edited.statusCode, 200, edited.body);
    assert.deepEqual((await h.services.auth.clients.getClient((await h.services.tenants.get('demo'))!.key, 'my_app'))!.redirectUris, ['http://localhost:3000/cb2']);
    const badEdit = await api('PUT', '/api/sandboxes/demo/apps/my_app', { public: true, redirectUris: ['not a url'] });
    assert.equal(badEdit.statusCode, 400);
    assert.equal((await h.services.auth.clients.getClient((await h.services.tenants.get('demo'))!.key, 'my_app'))!.name, 'My app v2', 'a refused edit keeps the app');

    assert.equal((await api('POST', '/api/sandboxes/demo/apps', { clientId: 'my_app', public: true, redirectUris: ['http://x/'] })).statusCode, 409);
    assert.equal((await api('POST', '/api/sandboxes/demo/apps', { clientId: 'bad id!', public: true })).statusCode, 400);
    assert.equal((await api('DELETE', '/api/sandboxes/demo/apps/svc')).statusCode, 204);
    assert.equal((await api('DELETE', '/api/sandboxes/demo/apps/svc')).statusCode, 404);
  });

  test('register from a SMART app manifest (JSON)', async () => {
    const manifest = {
      software_id: 'growth_chart',
      client_name: 'Growth Chart',
      launch_url: 'http://localhost:9000/launch.html',
      redirect_uris: ['http://localhost:9000/'],
      scope: 'launch patient/Patient.read patient/Observation.read',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      fhir_versions: ['4.0.1'],
    };
    const res = await api('POST', '/api/sandboxes/demo/apps/manifest', { manifest, consent: 'skip' });
    assert.equal(res.statusCode, 201, res.body);
    const c = res.json().client;
    assert.equal(c.clientId, 'growth_chart');
    assert.equal(c.name, 'Growth Chart');
    assert.equal(c.authMethod, 'none');
    assert.equal(c.launchUri, 'http://localhost:9000/launch.html');
    assert.equal(c.consent, 'skip');
    assert.deepEqual(c.redirectUris, ['http://localhost:9000/']);

    const conf = await api('POST', '/api/sandboxes/demo/apps/manifest', {
      manifest: { client_name: 'Confidential Thing', initiate_login_uri: 'http://localhost:9001/l', redirect_uris: ['http://localhost:9001/'] },
    });
    assert.equal(conf.statusCode, 201, conf.body);
    assert.equal(conf.json().client.clientId, 'confidential_thing');
    assert.equal(conf.json().client.authMethod, 'client_secret_basic', 'RFC 7591 default');
    assert.ok(conf.json().generatedSecret);

    const bad = await api('POST', '/api/sandboxes/demo/apps/manifest', { manifest: { client_name: 'X', token_endpoint_auth_method: 'tls_client_auth' } });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json().issue[0].diagnostics, /tls_client_auth is not supported/);
  });

  test('register from a manifest URL on loopback; private addresses and oversize answers refused', async () => {
    const big = 'x'.repeat(300 * 1024);
    const server = http.createServer((req, res) => {
      if (req.url === '/manifest.json') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ software_id: 'from_url', client_name: 'From URL', token_endpoint_auth_method: 'none', redirect_uris: ['http://localhost:7/'], launch_url: 'http://localhost:7/l' }));
      } else if (req.url === '/big.json') {
        res.setHeader('content-type', 'application/json');
        res.write('{"a":"');
        res.end(`${big}"}`);
      } else if (req.url === '/redirect') {
        res.statusCode = 302;
        res.setHeader('location', '/manifest.json');
        res.end();
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const ok = await api('POST', '/api/sandboxes/demo/apps/manifest', { manifest_url: `${base}/manifest.json` });
      assert.equal(ok.statusCode, 201, ok.body);
      assert.equal(ok.json().client.clientId, 'from_url');
      const refusals: [string, RegExp][] = [
        [`${base}/big.json`, /larger than 256 KiB/],
        [`${base}/redirect`, /could not be reached or redirected/],
        [`${base}/missing.json`, /HTTP 404/],
        ['http://169.254.169.254/latest/meta-data', /private, link-local or reserved/],
        ['http://10.1.2.3/manifest.json', /private, link-local or reserved/],
        ['file:///etc/passwd', /must be http\(s\)/],
      ];
      for (const [url, msg] of refusals) {
        const res = await api('POST', '/api/sandboxes/demo/apps/manifest', { manifest_url: url });
        assert.equal(res.statusCode, 400, url);
        assert.match(res.json().issue[0].diagnostics, msg, url);
      }
    } finally {
      server.close();
    }
  });

  test('personas: add (password shown once), list, refuse unknown resources, remove', async () => {
    const add = await api('POST', '/api/sandboxes/demo/personas', { username: 'nurse', resource: 'Practitioner/demo-practitioner-01', name: 'Nurse Joy' });
    assert.equal(add.statusCode, 201, add.body);
    assert.ok(add.json().generatedPassword);
    const list = (await api('GET', '/api/sandboxes/demo/personas')).json().personas;
    assert.ok(list.some((p: { username: string; name: string }) => p.username === 'nurse' && p.name === 'Nurse Joy'));
    const missing = await api('POST', '/api/sandboxes/demo/personas', { username: 'ghost', resource: 'Practitioner/does-not-exist' });
    assert.equal(missing.statusCode, 400);
    assert.match(missing.json().issue[0].diagnostics, /does not exist/);
    assert.equal((await api('POST', '/api/sandboxes/demo/personas', { username: 'nurse', resource: 'Practitioner/demo-practitioner-01' })).statusCode, 409);
    assert.equal((await api('DELETE', '/api/sandboxes/demo/personas/nurse')).statusCode, 204);
    assert.equal((await api('DELETE', '/api/sandboxes/demo/personas/nurse')).statusCode, 404);
  });
});

describe('console API: launches, scenarios, inspector', () => {
  test('register a launch through the launch service; it answers launch_url and shows in the inspector', async () => {
    const res = await api('POST', '/api/sandboxes/demo/launches', {
      client_id: 'bilirubin_chart',
      username: 'practitioner',
      parameters: { patient: 'BILIBABY', need_patient_banner: false, custom_flag: 7 },
    });
    assert.equal(res.statusCode, 201, res.body);
    const l = res.json();
    assert.equal(l.created_by, 'console');
    assert.equal(l.username, 'practitioner');
    assert.deepEqual(l.parameters, { patient: 'BILIBABY', need_patient_banner: false, custom_flag: 7 });
    const u = new URL(l.launch_url);
    assert.equal(u.pathname, '/apps/bilirubin-chart/launch.html');
    assert.equal(u.searchParams.get('iss'), 'http://127.0.0.1:8080/demo/data');
    assert.equal(u.searchParams.get('launch'), l.launch_id);

    const inspected = (await api('GET', '/api/sandboxes/demo/launches')).json().launches;
    const mine = inspected.find((x: { launchHash: string }) => x.launchHash === hashLaunchId(l.launch_id));
    assert.ok(mine, 'the launch is listed');
    assert.equal(mine.clientId, 'bilirubin_chart');
    assert.equal(mine.createdBy, 'console');
    assert.equal(mine.expired, false);
    assert.ok(mine.uses.some((x: { action: string; outcome: string }) => x.action === 'register' && x.outcome === 'success'), JSON.stringify(mine.uses));
    assert.ok(!JSON.stringify(inspected).includes(l.launch_id), 'the inspector never shows launch ids');

    const bad = await api('POST', '/api/sandboxes/demo/launches', { client_id: 'bilirubin_chart', parameters: { patient: 'NOPE' } });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json().issue[0].diagnostics, /patient NOPE does not exist/);
  });

  test('scenarios: create, list, relaunch (new launch each time, last-launched time), delete', async () => {
    const create = await api('POST', '/api/sandboxes/demo/scenarios', {
      name: 'Bili baby as practitioner',
      client_id: 'bilirubin_chart',
      username: 'practitioner',
      parameters: { patient: 'BILIBABY', need_patient_banner: 'false', fhirContext: [{ reference: 'Patient/BILIBABY' }] },
    });
    assert.equal(create.statusCode, 201, create.body);
    const sc = create.json();
    assert.equal(sc.parameters.need_patient_banner, false, 'normalised like a registration');
    assert.equal(sc.lastLaunchedAt, undefined);
    assert.equal((await api('POST', '/api/sandboxes/demo/scenarios', { name: 'Bili baby as practitioner', client_id: 'bilirubin_chart' })).statusCode, 409);
    assert.equal((await api('POST', '/api/sandboxes/demo/scenarios', { name: 'x', client_id: 'nope' })).statusCode, 400);
    assert.equal((await api('POST', '/api/sandboxes/demo/scenarios', { name: 'y', client_id: 'bilirubin_chart', parameters: { scope: 'x' } })).statusCode, 400);

    const one = await api('POST', `/api/sandboxes/demo/scenarios/${sc.id}/launch`);
    assert.equal(one.statusCode, 201, one.body);
    const two = await api('POST', `/api/sandboxes/demo/scenarios/${sc.id}/launch`);
    assert.notEqual(one.json().launch.launch_id, two.json().launch.launch_id, 'each relaunch is a new launch');
    assert.equal(two.json().launch.username, 'practitioner');
    assert.deepEqual(two.json().launch.parameters.fhirContext, [{ reference: 'Patient/BILIBABY' }]);
    const listed = (await api('GET', '/api/sandboxes/demo/scenarios')).json().scenarios.find((x: { id: number }) => x.id === sc.id);
    assert.ok(typeof listed.lastLaunchedAt === 'number' && listed.lastLaunchedAt >= sc.createdAt);

    assert.equal((await api('DELETE', `/api/sandboxes/demo/scenarios/${sc.id}`)).statusCode, 204);
    assert.equal((await api('POST', `/api/sandboxes/demo/scenarios/${sc.id}/launch`)).statusCode, 404);
    assert.equal((await api('DELETE', '/api/sandboxes/demo/scenarios/abc')).statusCode, 400);
  });
});
