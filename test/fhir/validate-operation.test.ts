/**
 * `$validate` (R4 Resource-validate), issue 12: type and instance level, Parameters or bare resource
 * in, OperationOutcome out (200 with issues), `mode` create/update/delete under the interaction's own
 * access rules, and validation against StructureDefinitions stored in the sandbox (`meta.profile` and
 * the `profile` parameter). Nothing is ever written.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { readDefinition } from '../../src/fhir/medplum.js';
import { ALL, call, type Harness, harness, observation, patient } from './helpers.js';

const PROFILE = 'http://example.org/fhir/StructureDefinition/patient-with-birthdate';

/** A real profile with a snapshot: base R4 Patient with birthDate and identifier made mandatory. */
function birthDateProfile(): any {
  const bundle = readDefinition<{ entry: { resource: any }[] }>('fhir/r4/profiles-resources.json');
  const base = structuredClone(bundle.entry.find((e) => e.resource.resourceType === 'StructureDefinition' && e.resource.id === 'Patient')!.resource);
  const { text: _t, extension: _e, ...rest } = base;
  return {
    ...rest,
    id: 'patient-with-birthdate',
    url: PROFILE,
    version: '1.0.0',
    name: 'PatientWithBirthDate',
    title: undefined,
    status: 'active',
    derivation: 'constraint',
    baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Patient',
    differential: { element: [{ id: 'Patient.birthDate', path: 'Patient.birthDate', min: 1 }, { id: 'Patient.identifier', path: 'Patient.identifier', min: 1 }] },
    snapshot: {
      element: base.snapshot.element.map((el: any) => (el.path === 'Patient.birthDate' || el.path === 'Patient.identifier' ? { ...el, min: 1 } : el)),
    },
  };
}

describe('$validate', () => {
  let h: Harness;
  let t: string;
  const validate = (url: string, body?: unknown, token = t, contentType?: string) => call(h, { method: 'POST', url, token, body, contentType });
  const issues = (r: { json: () => any }) => r.json().issue as any[];
  const errors = (r: { json: () => any }) => issues(r).filter((i) => i.severity === 'error' || i.severity === 'fatal');

  before(async () => {
    h = await harness();
    t = h.token(ALL);
    const put = async (r: any) => {
      const res = await call(h, { method: 'PUT', url: `${r.resourceType}/${r.id}`, token: t, body: r });
      assert.ok(res.statusCode < 300, res.body.slice(0, 500));
    };
    await put(patient('va'));
    await put(patient('vb', 'Other'));
    await put(observation('obs-vb', 'vb'));
    await put(birthDateProfile());
  });
  after(() => h.close());

  test('type level, bare resource or Parameters: 200 with an informational issue when valid', async () => {
    for (const body of [patient('new'), { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: patient('new') }] }]) {
      const r = await validate('Patient/$validate', body);
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(r.json().resourceType, 'OperationOutcome');
      assert.deepEqual(issues(r).map((i) => i.severity), ['information']);
    }
  });

  test('an invalid resource: 200 with error issues naming the paths (base R4, required bindings)', async () => {
    const r = await validate('Patient/$validate', { ...patient('bad'), gender: 'robot', favouriteColour: 'blue', birthDate: '1990-02-30' });
    assert.equal(r.statusCode, 200, r.body);
    const paths = errors(r).flatMap((i) => i.expression ?? []);
    for (const p of ['Patient.gender', 'Patient.favouriteColour', 'Patient.birthDate']) assert.ok(paths.includes(p), `${p} in ${JSON.stringify(issues(r))}`);
    const wrongType = await validate('Patient/$validate', observation('o', 'va'));
    assert.equal(wrongType.statusCode, 200);
    assert.match(errors(wrongType)[0].diagnostics, /resourceType must be Patient/);
    // Nothing was written.
    assert.equal((await call(h, { url: 'Patient/bad', token: t })).statusCode, 404);
    assert.equal((await call(h, { url: 'Patient?_count=0', token: t })).json().total, 2);
  });

  test('a stored profile claimed in meta.profile, or nominated with profile, is validated against', async () => {
    const claims = { ...patient('p1'), meta: { profile: [PROFILE] } };
    delete (claims as any).birthDate;
    const r = await validate('Patient/$validate', claims);
    assert.equal(r.statusCode, 200, r.body);
    const profileErrors = errors(r).filter((i) => i.diagnostics.includes(PROFILE));
    assert.ok(profileErrors.some((i) => /birthDate/.test(JSON.stringify(i))), JSON.stringify(issues(r)));
    assert.ok(profileErrors.some((i) => /identifier/.test(JSON.stringify(i))), JSON.stringify(issues(r)));
    // Base R4 alone accepts it.
    const base = await validate('Patient/$validate', { ...claims, meta: undefined });
    assert.deepEqual(errors(base), []);
    // Conforming: no errors. Nominated by parameter (URL or Parameters), with a version.
    const ok = { ...patient('p2'), identifier: [{ system: 'urn:x', value: '1' }] };
    assert.deepEqual(errors(await validate('Patient/$validate', { ...ok, meta: { profile: [PROFILE] } })), []);
    assert.deepEqual(errors(await validate(`Patient/$validate?profile=${encodeURIComponent(`${PROFILE}|1.0.0`)}`, ok)), []);
    const viaParam = await validate('Patient/$validate', {
      resourceType: 'Parameters',
      parameter: [
        { name: 'resource', resource: { ...ok, identifier: undefined } },
        { name: 'profile', valueUri: PROFILE },
      ],
    });
    assert.ok(errors(viaParam).some((i) => /identifier/.test(JSON.stringify(i))), JSON.stringify(issues(viaParam)));
    // Unknown profiles: nominated → error, merely claimed → warning; the base validation still runs.
    const unknown = 'http://example.org/fhir/StructureDefinition/nope';
    const nominated = await validate(`Patient/$validate?profile=${encodeURIComponent(unknown)}`, ok);
    assert.equal(nominated.statusCode, 200);
    assert.ok(errors(nominated).some((i) => i.code === 'not-found'));
    const claimed = await validate('Patient/$validate', { ...ok, meta: { profile: [unknown] } });
    assert.deepEqual(errors(claimed), []);
    assert.ok(issues(claimed).some((i) => i.severity === 'warning' && i.code === 'not-found'));
    // A profile of another type is an error.
    const mismatched = await validate('Observation/$validate', { ...observation('o2', 'va'), meta: { profile: [PROFILE] } });
    assert.ok(errors(mismatched).some((i) => /constrains Patient/.test(i.diagnostics)));
  });

  test('mode update (instance level): ids must agree; the resource must exist and be updatable', async () => {
    const ok = await validate('Patient/va/$validate?mode=update', patient('va', 'Changed'));
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual(errors(ok), []);
    const mismatch = await validate('Patient/va/$validate?mode=update', patient('vb'));
    assert.ok(errors(mismatch).some((i) => /does not match the URL id/.test(i.diagnostics)));
    assert.equal((await validate('Patient/nope/$validate?mode=update', patient('nope'))).statusCode, 404);
  });

  test('mode delete: 200 for a resource the grant may delete, 404 otherwise; mode create needs the create scope', async () => {
    const del = await validate('Patient/va/$validate', { resourceType: 'Parameters', parameter: [{ name: 'mode', valueCode: 'delete' }] });
    assert.equal(del.statusCode, 200, del.body);
    assert.equal((await call(h, { url: 'Patient/va', token: t })).statusCode, 200, 'not deleted');
    assert.equal((await validate('Patient/nope/$validate?mode=delete')).statusCode, 404);
    const reader = h.token('system/Patient.rs');
    assert.equal((await validate('Patient/$validate?mode=create', patient('x'), reader)).statusCode, 403);
    assert.equal((await validate('Patient/$validate', patient('x'), reader)).statusCode, 200, 'plain validation needs any access to the type');
    const none = h.token('system/Observation.rs');
    assert.equal((await validate('Patient/$validate', patient('x'), none)).statusCode, 403);
  });

  test('no existence oracle: update/delete modes answer 404 alike for an id outside the compartment and an absent one', async () => {
    const pat = h.token('patient/*.cruds', { patient: 'va' });
    for (const m of ['update', 'delete']) {
      const outside = await validate(`Observation/obs-vb/$validate?mode=${m}`, m === 'update' ? observation('obs-vb', 'va') : undefined, pat);
      const absent = await validate(`Observation/obs-none/$validate?mode=${m}`, m === 'update' ? observation('obs-none', 'va') : undefined, pat);
      assert.equal(outside.statusCode, 404);
      assert.equal(absent.statusCode, 404);
      assert.equal(outside.body, absent.body);
    }
  });

  test('mode create under a patient-confined grant reports a resource outside the compartment', async () => {
    const pat = h.token('patient/*.cruds', { patient: 'va' });
    const own = await validate('Observation/$validate?mode=create', observation('n1', 'va'), pat);
    assert.equal(own.statusCode, 200);
    assert.deepEqual(errors(own), []);
    const other = await validate('Observation/$validate?mode=create', observation('n2', 'vb'), pat);
    assert.equal(other.statusCode, 200);
    assert.ok(
      errors(other).some((i) => i.code === 'forbidden' && /compartment/.test(i.diagnostics)),
      JSON.stringify(issues(other)),
    );
    // Without mode, only the content is checked.
    assert.deepEqual(errors(await validate('Observation/$validate', observation('n3', 'vb'), pat)), []);
  });

  test('malformed requests are 4xx OperationOutcomes', async () => {
    const cases: Array<[string, unknown, number]> = [
      ['Patient/$validate', [1, 2], 400],
      ['Patient/$validate?mode=bogus', patient('x'), 400],
      ['Patient/$validate?mode=update', patient('x'), 400],
      ['Patient/va/$validate?mode=create', patient('va'), 400],
      ['Patient/$validate?nonsense=1', patient('x'), 400],
      ['Patient/$validate', { resourceType: 'Parameters', parameter: [{ name: 'what', valueString: 'x' }] }, 400],
      ['Patient/$validate', { resourceType: 'Parameters', parameter: [{ name: 'resource', valueString: 'x' }] }, 400],
      ['Patient/$validate', { resourceType: 'Parameters', parameter: [{ name: 'mode', valueCode: 'create' }, { name: 'mode', valueCode: 'update' }] }, 400],
      ['Patient/$validate', undefined, 400],
      ['Nope/$validate', patient('x'), 404],
    ];
    for (const [url, body, status] of cases) {
      const r = await validate(url, body);
      assert.equal(r.statusCode, status, `${url} ${JSON.stringify(body)} → ${r.statusCode} ${r.body.slice(0, 200)}`);
      assert.equal(r.json().resourceType, 'OperationOutcome');
    }
    const xml = await call(h, { method: 'POST', url: 'Patient/$validate', token: t, body: '<Patient/>', contentType: 'application/fhir+xml' });
    assert.equal(xml.statusCode, 415);
  });

  test('the CapabilityStatement lists $validate on the resource types', async () => {
    const cs = (await call(h, { url: 'metadata' })).json();
    for (const type of ['Patient', 'Observation', 'StructureDefinition']) {
      const entry = cs.rest[0].resource.find((r: any) => r.type === type);
      assert.ok(
        entry.operation.some((o: any) => o.name === 'validate' && o.definition === 'http://hl7.org/fhir/OperationDefinition/Resource-validate'),
        type,
      );
    }
  });
});
