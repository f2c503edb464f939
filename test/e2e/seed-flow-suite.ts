/**
 * Issue #5 "Done when": the seed flow with real processes and real HTTP. Start the server, add a
 * launcher client through the CLI, get its token, POST the exact HSPC seed payload, check every field,
 * launch bilirubin_chart with the real fhirclient, and check the context and the compartment.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ScriptedBrowser } from '../helpers/browser.js';
import { AppSession } from '../helpers/fhirclient.js';
import { cliJson, type ServerProcess, startServe, tempDir } from '../helpers/server.js';

const SEED = '{"client_id":"bilirubin_chart","parameters":{"patient":"BILIBABY","need_patient_banner":false}}';
const SCOPE = 'launch patient/Patient.read patient/Observation.read patient/Observation.write openid fhirUser online_access';

/**
 * The suite, on the storage `env` selects: SQLite in a temp dir by default; `DATABASE_URL` puts the
 * server and every CLI command on PostgreSQL instead (seed-flow-postgres.test.ts).
 */
export function seedFlowSuite(name: string, storage: () => Promise<{ env: Record<string, string>; drop?: () => Promise<void> }>, skip: string | false = false): void {
describe(name, { skip }, () => {
  const tmp = tempDir();
  let env: Record<string, string> = {};
  let drop: (() => Promise<void>) | undefined;
  let server: ServerProcess;
  let iss: string;
  let token: string;
  let practitioner: { username: string; demoPassword: string; resource: string };

  before(async () => {
    ({ env, drop } = await storage());
    server = await startServe(tmp.dir, [], env);
    iss = `${server.url}/demo/data`;
    const launcher = cliJson(tmp.dir, ['client', 'add', 'demo', 'launcher', '--grant', 'client_credentials', '--scope', 'smart/orchestrate_launch'], env);
    assert.ok(launcher.client_secret, 'a secret is generated for a confidential client');
    const r = await fetch(`${server.url}/demo/auth/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`launcher:${launcher.client_secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials&scope=smart%2Forchestrate_launch',
    });
    const body = await r.json();
    assert.equal(r.status, 200, JSON.stringify(body));
    token = body.access_token;
    const personas = cliJson(tmp.dir, ['persona', 'list', 'demo', '--json'], env);
    practitioner = personas.find((p: { resource: string }) => p.resource.startsWith('Practitioner/'));
    assert.ok(practitioner?.demoPassword, 'the demo practitioner persona has a generated password');
  });

  after(async () => {
    await server?.stop();
    await drop?.();
    tmp.remove();
  });

  test('POST the exact seed payload, launch with fhirclient, and stay inside BILIBABY', async () => {
    const t0 = Date.now();
    const reg = await fetch(`${iss}/_services/smart/Launch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: SEED,
    });
    const launch = await reg.json();
    assert.equal(reg.status, 200, JSON.stringify(launch));
    assert.match(launch.launch_id, /^[A-Za-z0-9_-]{43}$/, '256-bit URL-safe launch id');
    assert.ok(Math.abs(Date.parse(launch.created_at) - t0) < 60_000, 'created_at is now, ISO 8601');
    assert.match(launch.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(launch.created_by, 'launcher');
    assert.deepEqual(launch.parameters, { patient: 'BILIBABY', need_patient_banner: false });
    assert.equal(launch.username, 'none');
    const lifetime = Date.parse(launch.expires_at) - Date.parse(launch.created_at);
    assert.equal(lifetime, 60 * 60 * 1000, 'default lifetime 60 minutes');
    const launchUrl = new URL(launch.launch_url);
    assert.equal(`${launchUrl.origin}${launchUrl.pathname}`, `${server.url}/apps/bilirubin-chart/launch.html`);
    assert.equal(launchUrl.searchParams.get('iss'), iss);
    assert.equal(launchUrl.searchParams.get('launch'), launch.launch_id);

    // The app: real fhirclient, EHR launch from launch_url.
    const app = new AppSession(server.url);
    const redirectUri = `${server.url}/apps/bilirubin-chart/index.html`;
    const authorizeUrl = await app.authorize(`${launchUrl.pathname}${launchUrl.search}`, { clientId: 'bilirubin_chart', scope: SCOPE, redirectUri, pkceMode: 'required' });
    assert.ok(authorizeUrl.startsWith(`${server.url}/demo/auth/authorize?`), authorizeUrl);
    const callback = await new ScriptedBrowser().run(authorizeUrl, redirectUri, { username: practitioner.username, password: practitioner.demoPassword });
    const client = await app.ready(callback);

    const tr = client.state.tokenResponse as Record<string, unknown>;
    assert.equal(tr.patient, 'BILIBABY');
    assert.equal(tr.need_patient_banner, false, 'need_patient_banner is the JSON boolean false');
    assert.equal(typeof tr.smart_style_url, 'string');
    assert.equal(client.patient.id, 'BILIBABY');

    const bundle = (await client.request('Observation?code=58941-6&patient=BILIBABY')) as { entry?: { resource: { subject: { reference: string } } }[] };
    assert.equal(bundle.entry?.length, 8, 'the 8 bilirubin observations');
    for (const e of bundle.entry ?? []) assert.equal(e.resource.subject.reference, 'Patient/BILIBABY');

    // The same token sees nothing of any other patient, by any route.
    const at = tr.access_token as string;
    const get = (path: string) => fetch(`${iss}/${path}`, { headers: { authorization: `Bearer ${at}`, accept: 'application/fhir+json' } });
    const other = 'SMART-1288992';
    const read = await get(`Patient/${other}`);
    assert.equal(read.status, 404, 'another patient reads as not found');
    assert.doesNotMatch(await read.text(), new RegExp(other), 'the id is not echoed');
    const search = await (await get(`Observation?patient=${other}`)).json();
    assert.equal((search.entry ?? []).filter((e: { resource?: { resourceType: string } }) => e.resource?.resourceType === 'Observation').length, 0);
    const all = await (await get('Observation?_count=200')).json();
    assert.ok((all.entry ?? []).length > 0);
    for (const e of all.entry ?? []) if (e.resource?.resourceType === 'Observation') assert.equal(e.resource.subject.reference, 'Patient/BILIBABY');
    const patients = await (await get('Patient')).json();
    assert.deepEqual(
      (patients.entry ?? []).filter((e: { resource?: { resourceType: string } }) => e.resource?.resourceType === 'Patient').map((e: { resource: { id: string } }) => e.resource.id),
      ['BILIBABY'],
    );
    const everything = await get(`Patient/${other}/$everything`);
    assert.ok(everything.status === 404 || everything.status === 403, `$everything of another patient: ${everything.status}`);
  });
});
}
