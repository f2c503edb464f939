/**
 * Request limits of the FHIR API (src/config/limits.ts, README "Limits") and hostile input that must
 * get a 4xx, never a 5xx: each limit is refused with a 400 OperationOutcome naming it and the value
 * allowed, and the value at the limit itself still works.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LIMITS } from '../../src/config/limits.js';
import { ALL, call, type Harness, harness, observation, patient } from './helpers.js';

describe('FHIR request limits', () => {
  let h: Harness;
  let t: string;
  before(async () => {
    h = await harness();
    t = h.token(ALL);
    for (const p of [patient('p1'), patient('p2', 'Roe')]) assert.equal((await call(h, { method: 'PUT', url: `Patient/${p.id}`, token: t, body: p })).statusCode, 201);
    assert.equal((await call(h, { method: 'PUT', url: 'Observation/o1', token: t, body: observation('o1', 'p1') })).statusCode, 201);
  });
  after(() => h.close());

  /** Asserts a 400 OperationOutcome whose diagnostics name `limit` and its value. */
  const refused = (r: Awaited<ReturnType<typeof call>>, limit: string, allowed: number) => {
    assert.equal(r.statusCode, 400, r.body.slice(0, 300));
    const oo = r.json();
    assert.equal(oo.resourceType, 'OperationOutcome');
    assert.equal(oo.issue[0].code, 'too-costly');
    assert.match(oo.issue[0].diagnostics, new RegExp(`limit ${limit} \\(at most ${allowed}\\)`));
  };
  const ok = (r: Awaited<ReturnType<typeof call>>) => assert.equal(r.statusCode, 200, r.body.slice(0, 300));

  test('_sort keys: GET and POST _search (where no URL length limit applies)', async () => {
    const keys = (n: number) => Array.from({ length: n }, (_, i) => (i % 2 ? '-_id' : '_lastUpdated')).join(',');
    ok(await call(h, { url: `Patient?_sort=${keys(LIMITS.sortKeys)}`, token: t }));
    refused(await call(h, { url: `Patient?_sort=${keys(LIMITS.sortKeys + 1)}`, token: t }), 'sortKeys', LIMITS.sortKeys);
    refused(await call(h, { url: `Patient?_sort=_id&_sort=${keys(LIMITS.sortKeys)}`, token: t }), 'sortKeys', LIMITS.sortKeys);
    const form = new URLSearchParams({ _sort: keys(400) }).toString();
    refused(await call(h, { method: 'POST', url: 'Patient/_search', token: t, body: form, contentType: 'application/x-www-form-urlencoded' }), 'sortKeys', LIMITS.sortKeys);
  });

  test('values of one OR-list: ~1,000 values are a 400, not a 500', async () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `id${i}`).join(',');
    ok(await call(h, { url: `Patient?_id=${ids(LIMITS.orValues)}`, token: t }));
    refused(await call(h, { url: `Patient?_id=${ids(1000)}`, token: t }), 'orValues', LIMITS.orValues);
    refused(await call(h, { url: `Observation?code=${ids(1000)}`, token: t }), 'orValues', LIMITS.orValues);
    refused(await call(h, { url: `Observation?subject.name=${ids(1000)}`, token: t }), 'orValues', LIMITS.orValues);
  });

  test('chain depth: a chain of ~1,500 hops is a 400, not a 500', async () => {
    ok(await call(h, { url: 'Observation?subject:Patient.general-practitioner:Organization.partof.partof.name=x', token: t }));
    refused(await call(h, { url: `Observation?subject${'.organization'.repeat(1500)}=x`, token: t }), 'chainDepth', LIMITS.chainDepth);
    ok(await call(h, { url: `Observation?subject${'.partof'.repeat(LIMITS.chainDepth)}=x`, token: t }));
    refused(await call(h, { url: `Observation?subject${'.partof'.repeat(LIMITS.chainDepth + 1)}=x`, token: t }), 'chainDepth', LIMITS.chainDepth);
  });

  test('_has nesting', async () => {
    ok(await call(h, { url: 'Patient?_has:Observation:subject:code=58941-6', token: t }));
    const nested = (n: number) => `${'_has:Observation:subject:'.repeat(n)}code`;
    refused(await call(h, { url: `Patient?${nested(LIMITS.hasDepth + 1)}=x`, token: t }), 'hasDepth', LIMITS.hasDepth);
  });

  test('_include and _revinclude count', async () => {
    const inc = (n: number) => Array.from({ length: n }, (_, i) => (i % 2 ? '_include=Observation:subject' : '_revinclude=Provenance:target')).join('&');
    ok(await call(h, { url: `Observation?${inc(LIMITS.includes)}`, token: t }));
    refused(await call(h, { url: `Observation?${inc(LIMITS.includes + 1)}`, token: t }), 'includes', LIMITS.includes);
  });

  test('_count: at most the limit on search, history and $everything', async () => {
    ok(await call(h, { url: `Patient?_count=${LIMITS.count}`, token: t }));
    for (const url of ['Patient', 'Patient/_history', '_history', 'Patient/p1/$everything']) {
      refused(await call(h, { url: `${url}?_count=${LIMITS.count + 1}`, token: t }), 'count', LIMITS.count);
    }
  });

  test('_offset ≥ 2^63 on search, history and $everything is a 400, not a 500; 2^53 still works', async () => {
    const huge = '9223372036854775808';
    for (const url of ['Patient', 'Patient/_history', 'Patient/p1/_history', '_history', 'Patient/p1/$everything']) {
      refused(await call(h, { url: `${url}?_offset=${huge}`, token: t }), 'offset', LIMITS.offset);
      refused(await call(h, { url: `${url}?_offset=${'9'.repeat(400)}`, token: t }), 'offset', LIMITS.offset);
    }
    const edge = await call(h, { url: `Patient?_offset=${2 ** 53}`, token: t });
    ok(edge);
    assert.equal(edge.json().entry, undefined);
    ok(await call(h, { url: `Patient/_history?_offset=${2 ** 53}`, token: t }));
    refused(await call(h, { url: `Patient?_offset=${2 ** 53 + 2}`, token: t }), 'offset', LIMITS.offset);
  });

  test('$everything gathers more referenced resources than one OR-list may hold', async () => {
    const n = LIMITS.orValues + 50;
    const entry = Array.from({ length: n }, (_, i) => ({
      resource: { resourceType: 'Practitioner', id: `pr${i}`, name: [{ family: `P${i}` }] },
      request: { method: 'PUT', url: `Practitioner/pr${i}` },
    }));
    assert.equal((await call(h, { method: 'POST', url: '', token: t, body: { resourceType: 'Bundle', type: 'transaction', entry } })).statusCode, 200);
    const obs = observation('many-performers', 'p2', '58941-6', { performer: entry.map((e) => ({ reference: `Practitioner/${e.resource.id}` })) });
    assert.equal((await call(h, { method: 'PUT', url: 'Observation/many-performers', token: t, body: obs })).statusCode, 201);
    const all = await call(h, { url: 'Patient/p2/$everything?_count=1000', token: t });
    ok(all);
    const practitioners = all.json().entry.filter((e: { resource: { resourceType: string } }) => e.resource.resourceType === 'Practitioner');
    assert.equal(practitioners.length, n);
  });

  test('JSON nesting depth: a resource nested 50,000 levels is a 400, before parsing', async () => {
    const depth = 50_000;
    const body = `{"resourceType":"Patient","extension":${'[{"url":"http://x","extension":'.repeat(depth)}[]${'}]'.repeat(depth)}}`;
    refused(await call(h, { method: 'POST', url: 'Patient', token: t, body }), 'jsonDepth', LIMITS.jsonDepth);
    // Also inside a transaction Bundle, and in a JSON Patch body.
    const bundle = `{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"POST","url":"Patient"},"resource":${body}}]}`;
    refused(await call(h, { method: 'POST', url: '', token: t, body: bundle }), 'jsonDepth', LIMITS.jsonDepth);
    const patch = `[{"op":"add","path":"/extension","value":${'['.repeat(depth)}${']'.repeat(depth)}}]`;
    refused(await call(h, { method: 'PATCH', url: 'Patient/p1', token: t, body: patch, contentType: 'application/json-patch+json' }), 'jsonDepth', LIMITS.jsonDepth);
    // Brackets inside strings are text, not nesting.
    const text = patient('deep-text', 'Doe', { text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${'[{'.repeat(5000)}</div>` } });
    assert.equal((await call(h, { method: 'PUT', url: 'Patient/deep-text', token: t, body: text })).statusCode, 201);
  });

  test('JSON array length', async () => {
    const names = (n: number) => Array.from({ length: n }, () => ({ family: 'X' }));
    refused(await call(h, { method: 'POST', url: 'Patient', token: t, body: { resourceType: 'Patient', name: names(100_000) } }), 'jsonArrayLength', LIMITS.jsonArrayLength);
    refused(await call(h, { method: 'POST', url: 'Patient', token: t, body: { resourceType: 'Patient', name: names(LIMITS.jsonArrayLength + 1) } }), 'jsonArrayLength', LIMITS.jsonArrayLength);
  });

  test('search index entries of one resource, counted after validation (off the event loop when large)', async () => {
    const names = (n: number) => Array.from({ length: n }, (_, i) => ({ family: `F${i}`, given: [`A${i}`, `B${i}`] }));
    const many = await call(h, { method: 'POST', url: 'Patient', token: t, body: { resourceType: 'Patient', name: names(LIMITS.jsonArrayLength) } });
    refused(many, 'indexRows', LIMITS.indexRows);
    const small = await call(h, { method: 'POST', url: 'Patient', token: t, body: { resourceType: 'Patient', name: names(300) } });
    assert.equal(small.statusCode, 201, small.body.slice(0, 300));
    // Large enough to be prepared on the worker thread, and invalid: the validation error comes back.
    const invalid = { resourceType: 'Patient', gender: 'robot', name: names(1000) };
    const bad = await call(h, { method: 'POST', url: 'Patient', token: t, body: invalid });
    assert.ok(JSON.stringify(invalid).length > 32 * 1024);
    assert.equal(bad.statusCode, 400, bad.body.slice(0, 300));
    assert.match(bad.body, /gender/);
  });

  test('resource size per type: a large Patient is refused, a Binary or DocumentReference of that size is not', async () => {
    const big = 'A'.repeat(LIMITS.resourceBytes + 1000);
    const p = patient('big', 'Doe', { text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${big}</div>` } });
    refused(await call(h, { method: 'PUT', url: 'Patient/big', token: t, body: p }), 'resourceBytes', LIMITS.resourceBytes);
    const bin = await call(h, { method: 'POST', url: 'Binary', token: t, body: { resourceType: 'Binary', contentType: 'text/plain', data: big } });
    assert.equal(bin.statusCode, 201, bin.body.slice(0, 300));
    const doc = {
      resourceType: 'DocumentReference',
      status: 'current',
      subject: { reference: 'Patient/p1' },
      content: [{ attachment: { contentType: 'text/plain', data: big } }],
    };
    assert.equal((await call(h, { method: 'POST', url: 'DocumentReference', token: t, body: doc })).statusCode, 201);
  });

  test('authorization of a write comes before its validation: outside the compartment is 403, even when invalid or large', async () => {
    const pt = h.token('patient/Observation.cruds patient/DocumentReference.cruds', { patient: 'p1' });
    const invalid = observation('x', 'p2', '58941-6', { status: 'bogus', valueQuantity: { value: 'not a number' } });
    const r = await call(h, { method: 'POST', url: 'Observation', token: pt, body: invalid });
    assert.equal(r.statusCode, 403, r.body.slice(0, 300));
    assert.equal(r.json().issue[0].code, 'forbidden');
    // The same invalid resource in the token's own compartment is a validation error (400).
    assert.equal((await call(h, { method: 'POST', url: 'Observation', token: pt, body: { ...invalid, subject: { reference: 'Patient/p1' } } })).statusCode, 400);
    // A 1.8 MB write outside the compartment: 403, before size and validation.
    const large = 'A'.repeat(1_800_000);
    const doc = { resourceType: 'DocumentReference', status: 'current', subject: { reference: 'Patient/p2' }, content: [{ attachment: { data: large } }] };
    assert.equal((await call(h, { method: 'POST', url: 'DocumentReference', token: pt, body: doc })).statusCode, 403);
    const obs = observation('y', 'p2', '58941-6', { note: [{ text: large }] });
    assert.equal((await call(h, { method: 'POST', url: 'Observation', token: pt, body: obs })).statusCode, 403);
  });

  test('a transaction entry URL with malformed percent-encoding is a 400, not a 500', async () => {
    for (const type of ['transaction', 'batch']) {
      const bundle = { resourceType: 'Bundle', type, entry: [{ request: { method: 'GET', url: 'Patient/%E0%A4%A' } }] };
      const r = await call(h, { method: 'POST', url: '', token: t, body: bundle });
      assert.ok(r.statusCode < 500, `${type}: ${r.statusCode} ${r.body.slice(0, 300)}`);
      assert.match(r.body, /percent-encoding/);
    }
  });

  test('DELETE and GET with a Content-Type header and no body: the empty body is no body', async () => {
    const headers = { 'content-type': 'application/fhir+json' };
    assert.equal((await call(h, { method: 'PUT', url: 'Patient/gone', token: t, body: patient('gone') })).statusCode, 201);
    const del = await call(h, { method: 'DELETE', url: 'Patient/gone', token: t, headers });
    assert.equal(del.statusCode, 204, del.body);
    const get = await call(h, { url: 'Patient/p1', token: t, headers });
    assert.equal(get.statusCode, 200, get.body);
    const search = await call(h, { url: 'Patient?_id=p1', token: t, headers: { 'content-type': 'application/json' } });
    assert.equal(search.statusCode, 200, search.body);
    // A write that needs a body still says so.
    const post = await call(h, { method: 'POST', url: 'Patient', token: t, headers });
    assert.equal(post.statusCode, 400);
    assert.match(post.json().issue[0].diagnostics, /JSON object/);
  });
});
