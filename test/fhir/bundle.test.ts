/** Batch and transaction Bundles (R4 §3.1.0.11–12). */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ALL, call, collect, type Harness, harness, observation, patient } from './helpers.js';

describe('batch and transaction', () => {
  let h: Harness;
  let t: string;
  before(async () => {
    h = await harness();
    t = h.token(ALL);
  });
  after(() => h.close());

  const post = (body: unknown, headers?: Record<string, string>) => call(h, { method: 'POST', url: '/test/data', token: t, body, headers });

  test('transaction: urn:uuid fullUrls become ids and references are rewritten', async () => {
    const pUrl = 'urn:uuid:11111111-1111-1111-1111-111111111111';
    const r = await post({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: 'urn:uuid:22222222-2222-2222-2222-222222222222', resource: { ...observation('x', 'x'), id: undefined, subject: { reference: pUrl } }, request: { method: 'POST', url: 'Observation' } },
        { fullUrl: pUrl, resource: { ...patient('x', 'Tx', { identifier: [{ system: 'urn:mrn', value: 'TX-1' }] }), id: undefined }, request: { method: 'POST', url: 'Patient' } },
      ],
    });
    assert.equal(r.statusCode, 200, r.body);
    const b = r.json();
    assert.equal(b.type, 'transaction-response');
    assert.equal(b.entry.length, 2);
    assert.equal(b.entry[0].response.status, '201 Created');
    const obs = b.entry[0].resource;
    const pat = b.entry[1].resource;
    assert.equal(obs.subject.reference, `Patient/${pat.id}`);
    assert.match(b.entry[1].response.location, new RegExp(`^Patient/${pat.id}/_history/1$`));
    const s = (await call(h, { url: `Observation?patient=${pat.id}`, token: t })).json();
    assert.equal(s.total, 1);
  });

  test('transaction: conditional references and conditional create (ifNoneExist)', async () => {
    await call(h, { method: 'PUT', url: 'Patient/cr-1', token: t, body: patient('cr-1', 'Cr', { identifier: [{ system: 'urn:mrn', value: 'CR-1' }] }) });
    const r = await post({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: { ...observation('x', 'x'), id: undefined, subject: { reference: 'Patient?identifier=urn:mrn|CR-1' } }, request: { method: 'POST', url: 'Observation' } },
        {
          fullUrl: 'urn:uuid:33333333-3333-3333-3333-333333333333',
          resource: { ...patient('x', 'Cr'), id: undefined },
          request: { method: 'POST', url: 'Patient', ifNoneExist: 'identifier=urn:mrn|CR-1' },
        },
      ],
    });
    assert.equal(r.statusCode, 200, r.body);
    const b = r.json();
    assert.equal(b.entry[0].resource.subject.reference, 'Patient/cr-1');
    assert.equal(b.entry[1].response.status, '200 OK');
    assert.equal(b.entry[1].resource.id, 'cr-1');
  });

  test('transaction is all-or-nothing: one invalid entry rolls back every write', async () => {
    const r = await post({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: patient('atom-1'), request: { method: 'PUT', url: 'Patient/atom-1' } },
        { resource: { ...patient('atom-2'), gender: 'robot' }, request: { method: 'PUT', url: 'Patient/atom-2' } },
      ],
    });
    assert.equal(r.statusCode, 400);
    assert.match(r.json().issue[0].diagnostics, /^entry\[1\]/);
    assert.equal((await call(h, { url: 'Patient/atom-1', token: t })).statusCode, 404);
  });

  test('transaction: unresolvable urn:uuid reference fails; spec order DELETE before POST before PUT before GET', async () => {
    const bad = await post({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ resource: { ...observation('x', 'x'), id: undefined, subject: { reference: 'urn:uuid:99999999-0000-0000-0000-000000000000' } }, request: { method: 'POST', url: 'Observation' } }],
    });
    assert.equal(bad.statusCode, 400);
    await call(h, { method: 'PUT', url: 'Patient/ord-1', token: t, body: patient('ord-1') });
    const r = await post({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { request: { method: 'GET', url: 'Patient?_id=ord-1,ord-2' } },
        { resource: patient('ord-2'), request: { method: 'PUT', url: 'Patient/ord-2' } },
        { request: { method: 'DELETE', url: 'Patient/ord-1' } },
      ],
    });
    assert.equal(r.statusCode, 200, r.body);
    const b = r.json();
    // GET ran last: it sees ord-2 (created) and not ord-1 (deleted).
    assert.deepEqual(
      b.entry[0].resource.entry.map((e: any) => e.resource.id),
      ['ord-2'],
    );
    assert.equal(b.entry[2].response.status, '204 No Content');
  });

  test('batch: per-entry outcomes, the good entries are kept', async () => {
    const r = await post({
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        { resource: patient('b-1'), request: { method: 'PUT', url: 'Patient/b-1' } },
        { resource: { ...patient('b-2'), gender: 'robot' }, request: { method: 'PUT', url: 'Patient/b-2' } },
        { request: { method: 'GET', url: 'Patient/b-1' } },
        { request: { method: 'GET', url: 'Patient/never' } },
        { request: { method: 'NOPE', url: 'x' } },
      ],
    });
    assert.equal(r.statusCode, 200, r.body);
    const b = r.json();
    assert.equal(b.type, 'batch-response');
    assert.equal(b.entry[0].response.status, '201 Created');
    assert.equal(b.entry[1].response.status, '400');
    assert.equal(b.entry[1].response.outcome.resourceType, 'OperationOutcome');
    assert.equal(b.entry[2].resource.id, 'b-1');
    assert.equal(b.entry[3].response.status, '404');
    assert.equal(b.entry[4].response.status, '400');
    assert.equal((await call(h, { url: 'Patient/b-1', token: t })).statusCode, 200);
  });

  test('PATCH entries carry a JSON Patch in a Binary; Prefer return=minimal omits resources', async () => {
    await call(h, { method: 'PUT', url: 'Patient/bp-1', token: t, body: patient('bp-1') });
    const data = Buffer.from(JSON.stringify([{ op: 'replace', path: '/gender', value: 'other' }])).toString('base64');
    const r = await post(
      { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { resourceType: 'Binary', contentType: 'application/json-patch+json', data }, request: { method: 'PATCH', url: 'Patient/bp-1' } }] },
      { prefer: 'return=minimal' },
    );
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json().entry[0].resource, undefined);
    assert.equal((await call(h, { url: 'Patient/bp-1', token: t })).json().gender, 'other');
  });

  test('privileged FhirService.transaction, bulkLoad, exportAll and purgeSandbox', async () => {
    const out = (await h.fhir.transaction(h.sandbox.key, {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ resource: patient('svc-1') as any, request: { method: 'PUT', url: 'Patient/svc-1' } }],
    }));
    assert.equal(out.type, 'transaction-response');
    assert.equal((await h.fhir.read(h.sandbox.key, 'Patient', 'svc-1'))?.id, 'svc-1');
    const n = (await h.fhir.bulkLoad(h.sandbox.key, [patient('bulk-1') as any, observation('bulk-o', 'bulk-1') as any]));
    assert.equal(n, 2);
    assert.equal((await h.fhir.search(h.sandbox.key, 'Observation', new URLSearchParams({ patient: 'bulk-1' })))[0]?.id, 'bulk-o');
    await assert.rejects(async () => (await h.fhir.bulkLoad(h.sandbox.key, [{ resourceType: 'Patient' } as any])), /invalid id/);
    const other = (await h.tenants.create('other-sb'));
    (await h.fhir.bulkLoad(other.key, [patient('elsewhere') as any]));
    const exported = (await collect(h.fhir.exportAll(h.sandbox.key))).map((r) => `${r.resourceType}/${r.id}`);
    assert.ok(exported.includes('Observation/bulk-o'));
    assert.ok(!exported.includes('Patient/elsewhere'));
    (await h.fhir.purgeSandbox(h.sandbox.key));
    assert.equal((await collect(h.fhir.exportAll(h.sandbox.key))).length, 0);
    assert.equal((await h.fhir.read(other.key, 'Patient', 'elsewhere'))?.id, 'elsewhere');
  });
});
