/** Validation of written resources (structure, invariants, required bindings) and bad input → 4xx, never 500. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ALL, call, type Harness, harness, observation, patient } from './helpers.js';

describe('validation', () => {
  let h: Harness;
  let t: string;
  before(async () => {
    h = await harness();
    t = h.token(ALL);
  });
  after(() => h.close());

  const put = (url: string, body: unknown) => call(h, { method: 'PUT', url, token: t, body });

  test('required bindings Medplum does not check: Observation.status bogus, Patient.gender robot', async () => {
    const o = await put('Observation/v1', { ...observation('v1', 'p'), status: 'bogus' });
    assert.equal(o.statusCode, 400);
    const issue = o.json().issue[0];
    assert.equal(issue.code, 'code-invalid');
    assert.deepEqual(issue.expression, ['Observation.status']);
    const p = await put('Patient/v2', { ...patient('v2'), gender: 'robot' });
    assert.equal(p.statusCode, 400);
    assert.deepEqual(p.json().issue[0].expression, ['Patient.gender']);
    const nested = await put('Patient/v3', { ...patient('v3'), name: [{ use: 'nickname-ish', family: 'X' }] });
    assert.equal(nested.statusCode, 400);
    assert.deepEqual(nested.json().issue[0].expression, ['Patient.name[0].use']);
  });

  test('unknown elements, wrong JSON types and invalid primitives name the path', async () => {
    const unknown = await put('Patient/v4', { ...patient('v4'), favouriteColour: 'blue' });
    assert.equal(unknown.statusCode, 400);
    assert.ok(unknown.json().issue.some((i: any) => i.expression?.[0] === 'Patient.favouriteColour'));
    const date = await put('Patient/v5', { ...patient('v5'), birthDate: '1990-02-30' });
    assert.equal(date.statusCode, 400);
    assert.ok(date.json().issue.some((i: any) => i.expression?.[0] === 'Patient.birthDate'));
    const type = await put('Patient/v6', { ...patient('v6'), name: [{ given: 'notAnArray' }] });
    assert.equal(type.statusCode, 400);
  });

  test('invariants fire (obs-6: dataAbsentReason with a value)', async () => {
    const r = await put('Observation/v7', { ...observation('v7', 'p'), dataAbsentReason: { text: 'x' } });
    assert.equal(r.statusCode, 400);
    assert.equal(r.json().resourceType, 'OperationOutcome');
  });

  test('nothing is half-written: an invalid update leaves the previous version', async () => {
    await put('Patient/v8', patient('v8'));
    const bad = await put('Patient/v8', { ...patient('v8'), gender: 'robot' });
    assert.equal(bad.statusCode, 400);
    const r = (await call(h, { url: 'Patient/v8', token: t })).json();
    assert.equal(r.meta.versionId, '1');
    assert.equal(r.gender, 'female');
    const hist = (await call(h, { url: 'Patient/v8/_history', token: t })).json();
    assert.equal(hist.entry.length, 1);
  });

  test('garbage in bodies and URLs never gives a 500', async () => {
    const cases: Array<[string, string, unknown, string?]> = [
      ['POST', 'Patient', 'null'],
      ['POST', 'Patient', '"a string"'],
      ['POST', 'Patient', { resourceType: 'Patient', meta: 'not-an-object' }],
      ['POST', 'Patient', { resourceType: 'Patient', contained: [{ resourceType: 'Nope' }] }],
      ['PUT', 'Patient/x', { resourceType: 'Patient', id: 5 }],
      ['POST', '', { resourceType: 'Bundle', type: 'searchset' }],
      ['POST', '', { resourceType: 'Bundle', type: 'transaction', entry: 'x' }],
      ['POST', '', { resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'FLY', url: 'Patient' } }] }],
      ['GET', 'Patient?birthdate=notadate', undefined],
      ['GET', 'Patient?_count=-1', undefined],
      ['GET', 'Patient?_sort=nonsense', undefined],
      ['GET', 'Observation?value-quantity=abc', undefined],
      ['GET', 'Observation?code-value-quantity=x', undefined],
      ['GET', 'Patient/x/_history/abc', undefined],
      ['PATCH', 'Patient/nope', [{ op: 'remove', path: '/x' }], 'application/json-patch+json'],
      ['DELETE', 'Patient', undefined],
    ];
    for (const [method, url, body, ct] of cases) {
      const r = await call(h, { method: method as any, url, token: t, body, contentType: ct });
      assert.ok(r.statusCode >= 400 && r.statusCode < 500, `${method} ${url} → ${r.statusCode} ${r.body.slice(0, 200)}`);
      assert.equal(r.json().resourceType, 'OperationOutcome', `${method} ${url}`);
    }
  });
});
