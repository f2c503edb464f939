/**
 * $export against the demo sandbox's known data (issue 8): each kick-off form, `_type`, `_since`,
 * `_typeFilter`, `_elements`, `patient`, and scope confinement (system/Observation.rs?category=…,
 * a patient/ token from a real authorization-code flow). Files are compared with the store's content.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Resource } from '@medplum/fhirtypes';
import { ScriptedBrowser } from '../helpers/browser.js';
import { authorizeUrl, tokenRequest } from '../helpers/oauth.js';
import { type BulkServer, download, exportAll, kickOff, startBulkServer } from './helpers.js';

const LAB = 'http://terminology.hl7.org/CodeSystem/observation-category|laboratory';

describe('$export on the demo sandbox', () => {
  let s: BulkServer;
  let all: Resource[];
  let sys: string;
  const byType = (t: string) => all.filter((r) => r.resourceType === t);
  const ids = (rs: { id?: string }[]) => rs.map((r) => r.id).sort();
  const subjectOf = (r: any): string | undefined => (r.subject ?? r.patient)?.reference;

  before(async () => {
    s = await startBulkServer();
    all = [];
    for await (const r of s.services.fhir.exportAll(s.sandbox.key)) all.push(r);
    sys = await s.systemToken('exporter', 'system/*.rs');
  });
  after(() => s.close());

  test('system level (GET): every resource of every type, one NDJSON file per type', async () => {
    const { manifest } = await exportAll(`${s.urls.iss}/$export`, sys);
    assert.equal(manifest.requiresAccessToken, true);
    assert.equal(manifest.request, `${s.urls.iss}/$export`);
    assert.ok(!Number.isNaN(Date.parse(manifest.transactionTime)));
    assert.deepEqual(manifest.error, []);
    const files = await download(manifest, sys);
    const types = [...new Set(all.map((r) => r.resourceType))].sort();
    assert.deepEqual([...files.keys()].sort(), types);
    for (const t of types) {
      assert.deepEqual(ids(files.get(t)!), ids(byType(t)), t);
      assert.equal(manifest.output.find((o) => o.type === t)?.count, byType(t).length);
    }
    assert.equal(files.get('Patient')!.length, 25);
    // The files hold the stored resources unchanged.
    const bili = files.get('Patient')!.find((p) => p.id === 'BILIBABY');
    assert.deepEqual(bili, all.find((r) => r.resourceType === 'Patient' && r.id === 'BILIBABY'));
  });

  test('Group level: the demo-patients members’ compartments, e.g. all their Observations', async () => {
    const { manifest } = await exportAll(`${s.urls.iss}/Group/demo-patients/$export?_type=Patient,Observation`, sys);
    const files = await download(manifest, sys);
    assert.deepEqual([...files.keys()].sort(), ['Observation', 'Patient']);
    const group = all.find((r) => r.resourceType === 'Group') as any;
    const members = group.member.map((m: any) => m.entity.reference);
    assert.equal(members.length, 25);
    assert.deepEqual(ids(files.get('Patient')!), ids(byType('Patient')));
    const expected = byType('Observation').filter((o) => members.includes(subjectOf(o)));
    assert.deepEqual(ids(files.get('Observation')!), ids(expected));
  });

  test('Patient level (POST Parameters) with patient: only those patients’ data', async () => {
    const body = {
      resourceType: 'Parameters',
      parameter: [
        { name: '_type', valueString: 'Patient,Observation' },
        { name: 'patient', valueReference: { reference: 'Patient/BILIBABY' } },
        { name: 'patient', valueReference: { reference: 'Patient/SMART-1288992' } },
      ],
    };
    const { manifest } = await exportAll(`${s.urls.iss}/Patient/$export`, sys, { body });
    assert.equal(manifest.request, `${s.urls.iss}/Patient/$export`);
    const files = await download(manifest, sys);
    assert.deepEqual(ids(files.get('Patient')!), ['BILIBABY', 'SMART-1288992']);
    const want = ['Patient/BILIBABY', 'Patient/SMART-1288992'];
    const expected = byType('Observation').filter((c) => want.includes(subjectOf(c)!));
    assert.ok(expected.length > 0);
    assert.deepEqual(ids(files.get('Observation')!), ids(expected));
  });

  test('Group level (POST) with a patient outside the group → 400', async () => {
    const body = { resourceType: 'Parameters', parameter: [{ name: 'patient', valueReference: { reference: 'Patient/nobody' } }] };
    const r = await kickOff(`${s.urls.iss}/Group/demo-patients/$export`, sys, { body });
    assert.equal(r.status, 400);
    assert.equal((await r.json()).resourceType, 'OperationOutcome');
  });

  test('_typeFilter runs through the search engine: Observation?code=58941-6 (OR-ed with a second filter)', async () => {
    const q = new URLSearchParams({ _type: 'Observation' });
    q.append('_typeFilter', 'Observation?code=http://loinc.org|58941-6');
    const { manifest } = await exportAll(`${s.urls.iss}/$export?${q}`, sys);
    const files = await download(manifest, sys);
    const isBili = (o: any) => o.code.coding.some((c: any) => c.code === '58941-6');
    const expected = byType('Observation').filter(isBili);
    assert.ok(expected.length > 0 && expected.length < byType('Observation').length);
    assert.deepEqual(ids(files.get('Observation')!), ids(expected));

    q.append('_typeFilter', 'Observation?_id=BILIBABY-never,SMART-1288992-obs-1');
    const two = await exportAll(`${s.urls.iss}/$export?${q}`, sys);
    const got = ids((await download(two.manifest, sys)).get('Observation')!);
    const union = new Set([...ids(expected), ...byType('Observation').filter((o) => o.id === 'SMART-1288992-obs-1').map((o) => o.id!)]);
    assert.deepEqual(got, [...union].sort());
  });

  test('_since: only resources changed after it; _elements subsets with the SUBSETTED tag', async () => {
    const since = new Date(Date.now() + 5).toISOString();
    await new Promise((r) => setTimeout(r, 20));
    const p = structuredClone(all.find((r) => r.resourceType === 'Patient' && r.id === 'SMART-1288992')) as any;
    p.active = true;
    const put = await fetch(`${s.urls.iss}/Patient/SMART-1288992`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${await s.systemToken('writer', 'system/Patient.cruds')}`, 'content-type': 'application/fhir+json' },
      body: JSON.stringify(p),
    });
    assert.equal(put.status, 200);
    const { manifest } = await exportAll(`${s.urls.iss}/$export?_since=${encodeURIComponent(since)}&_elements=gender`, sys);
    assert.deepEqual(
      manifest.output.map((o) => [o.type, o.count]),
      [['Patient', 1]],
    );
    const [patient] = (await download(manifest, sys)).get('Patient')!;
    assert.equal(patient.id, 'SMART-1288992');
    assert.equal(patient.meta.versionId, '2');
    assert.ok(patient.gender);
    assert.equal(patient.name, undefined);
    assert.ok(patient.meta.tag.some((t: any) => t.code === 'SUBSETTED'));
  });

  test('system/Observation.rs?category=laboratory: only laboratory Observations; other types refused (403)', async () => {
    const scope = 'system/Observation.rs?category=laboratory';
    const tok = await s.systemToken('lab-exporter', scope);
    const { manifest } = await exportAll(`${s.urls.iss}/$export`, tok);
    const files = await download(manifest, tok);
    assert.deepEqual([...files.keys()], ['Observation']);
    const lab = byType('Observation').filter((o: any) => (o.category ?? []).some((c: any) => c.coding.some((x: any) => `${x.system}|${x.code}` === LAB)));
    assert.ok(lab.length > 0 && lab.length < byType('Observation').length);
    assert.deepEqual(ids(files.get('Observation')!), ids(lab));

    const r = await kickOff(`${s.urls.iss}/$export?_type=Patient`, tok);
    assert.equal(r.status, 403);
    assert.match(r.headers.get('www-authenticate') ?? '', /insufficient_scope/);
  });

  test('a patient/ token (authorization code flow) exports only its own compartment', async () => {
    const REDIRECT = 'http://127.0.0.1:9/cb';
    await s.services.auth.clients.add(s.sandbox.key, { clientId: 'pt-app', public: true, redirectUris: [REDIRECT], consent: 'skip' });
    await s.services.auth.personas.add(s.sandbox.key, { username: 'bili-mom', password: 'bili-pass-123', resource: 'Patient/BILIBABY' });
    const a = authorizeUrl({ issuer: s.urls.issuer, aud: s.urls.iss, clientId: 'pt-app', redirectUri: REDIRECT, scope: 'openid fhirUser launch/patient patient/*.rs' });
    const back = new URL(await new ScriptedBrowser().run(a.url, REDIRECT, { username: 'bili-mom', password: 'bili-pass-123', patient: 'BILIBABY' }));
    const t = await tokenRequest(s.urls.issuer, { grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: a.verifier, client_id: 'pt-app' });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    assert.equal(t.body.patient, 'BILIBABY');
    const tok = t.body.access_token as string;
    for (const url of [`${s.urls.iss}/Patient/$export`, `${s.urls.iss}/Group/demo-patients/$export`]) {
      const { manifest } = await exportAll(url, tok);
      const files = await download(manifest, tok);
      assert.deepEqual(ids(files.get('Patient')!), ['BILIBABY'], url);
      for (const [type, rs] of files) {
        if (type === 'Patient' || type === 'Group') continue;
        for (const r of rs) assert.equal(subjectOf(r), 'Patient/BILIBABY', `${type}/${r.id} outside the compartment`);
      }
      assert.deepEqual(ids(files.get('Observation')!), ids(byType('Observation').filter((o) => subjectOf(o) === 'Patient/BILIBABY')));
    }
  });
});
