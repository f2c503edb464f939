/** REST interactions at /{sandbox}/data and /{sandbox}/open (R4 §3.1.0), through real HTTP (inject). */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ALL, call, type Harness, harness, observation, patient } from './helpers.js';

describe('FHIR REST', () => {
  let h: Harness;
  let t: string;
  before(async () => {
    h = await harness();
    t = h.token(ALL);
  });
  after(() => h.close());

  test('unknown sandbox is a 404 OperationOutcome', async () => {
    const r = await call(h, { url: '/nope/data/Patient/x', token: t });
    assert.equal(r.statusCode, 404);
    assert.equal(r.json().resourceType, 'OperationOutcome');
  });

  test('create assigns an id and answers 201 with Location, ETag, Last-Modified', async () => {
    const r = await call(h, { method: 'POST', url: 'Patient', token: t, body: { ...patient('ignored'), id: 'client-id' } });
    assert.equal(r.statusCode, 201);
    const body = r.json();
    assert.notEqual(body.id, 'client-id');
    assert.equal(body.meta.versionId, '1');
    assert.equal(r.headers.etag, 'W/"1"');
    assert.equal(r.headers.location, `http://fhir.test/test/data/Patient/${body.id}/_history/1`);
    assert.ok(r.headers['last-modified']);
    const read = await call(h, { url: `Patient/${body.id}`, token: t });
    assert.equal(read.statusCode, 200);
    assert.equal(read.body, r.body, 'read returns the stored JSON text');
    assert.match(String(read.headers['content-type']), /application\/fhir\+json/);
  });

  test('update with a client id creates (201), then updates (200) with a new version; vread sees both', async () => {
    const c = await call(h, { method: 'PUT', url: 'Patient/pu-1', token: t, body: patient('pu-1') });
    assert.equal(c.statusCode, 201);
    const u = await call(h, { method: 'PUT', url: 'Patient/pu-1', token: t, body: patient('pu-1', 'Smith') });
    assert.equal(u.statusCode, 200);
    assert.equal(u.headers.etag, 'W/"2"');
    const v1 = await call(h, { url: 'Patient/pu-1/_history/1', token: t });
    assert.equal(v1.json().name[0].family, 'Doe');
    const v2 = await call(h, { url: 'Patient/pu-1/_history/2', token: t });
    assert.equal(v2.json().name[0].family, 'Smith');
    assert.equal((await call(h, { url: 'Patient/pu-1/_history/9', token: t })).statusCode, 404);
  });

  test('If-Match: matching version updates, stale version is 412', async () => {
    await call(h, { method: 'PUT', url: 'Patient/im-1', token: t, body: patient('im-1') });
    const stale = await call(h, { method: 'PUT', url: 'Patient/im-1', token: t, body: patient('im-1', 'X'), headers: { 'if-match': 'W/"7"' } });
    assert.equal(stale.statusCode, 412);
    const ok = await call(h, { method: 'PUT', url: 'Patient/im-1', token: t, body: patient('im-1', 'X'), headers: { 'if-match': 'W/"1"' } });
    assert.equal(ok.statusCode, 200);
  });

  test('If-None-Match on read answers 304', async () => {
    await call(h, { method: 'PUT', url: 'Patient/inm-1', token: t, body: patient('inm-1') });
    const r = await call(h, { url: 'Patient/inm-1', token: t, headers: { 'if-none-match': 'W/"1"' } });
    assert.equal(r.statusCode, 304);
  });

  test('id grammar, id mismatch and resourceType mismatch are 400', async () => {
    assert.equal((await call(h, { method: 'PUT', url: 'Patient/bad_id!', token: t, body: patient('bad_id!') })).statusCode, 400);
    assert.equal((await call(h, { method: 'PUT', url: `Patient/${'a'.repeat(65)}`, token: t, body: patient('a'.repeat(65)) })).statusCode, 400);
    assert.equal((await call(h, { method: 'PUT', url: 'Patient/a1', token: t, body: patient('a2') })).statusCode, 400);
    assert.equal((await call(h, { method: 'PUT', url: 'Patient/a1', token: t, body: { ...patient('a1'), id: undefined } })).statusCode, 400);
    const wrongType = await call(h, { method: 'POST', url: 'Patient', token: t, body: observation('o', 'p') });
    assert.equal(wrongType.statusCode, 400);
    assert.equal(wrongType.json().issue[0].expression[0], 'resourceType');
    assert.equal((await call(h, { method: 'POST', url: 'Patient', token: t, body: '{bad json' })).statusCode, 400);
    assert.equal((await call(h, { method: 'POST', url: 'Patient', token: t, body: [1, 2] })).statusCode, 400);
    assert.equal((await call(h, { method: 'POST', url: 'Unicorn', token: t, body: { resourceType: 'Unicorn' } })).statusCode, 404);
  });

  test('delete: 204, then read is 410, vread of the deletion is 410, history shows it', async () => {
    await call(h, { method: 'PUT', url: 'Patient/del-1', token: t, body: patient('del-1') });
    const d = await call(h, { method: 'DELETE', url: 'Patient/del-1', token: t });
    assert.equal(d.statusCode, 204);
    assert.equal((await call(h, { url: 'Patient/del-1', token: t })).statusCode, 410);
    assert.equal((await call(h, { url: 'Patient/del-1/_history/2', token: t })).statusCode, 410);
    assert.equal((await call(h, { method: 'DELETE', url: 'Patient/del-1', token: t })).statusCode, 204);
    assert.equal((await call(h, { method: 'DELETE', url: 'Patient/never-was', token: t })).statusCode, 404);
    const hist = (await call(h, { url: 'Patient/del-1/_history', token: t })).json();
    assert.equal(hist.type, 'history');
    assert.deepEqual(
      hist.entry.map((e: any) => e.request.method),
      ['DELETE', 'PUT'],
    );
    // Re-creating a deleted resource continues its version line.
    const again = await call(h, { method: 'PUT', url: 'Patient/del-1', token: t, body: patient('del-1') });
    assert.equal(again.statusCode, 201);
    assert.equal(again.json().meta.versionId, '3');
  });

  test('conditional create (If-None-Exist): creates once, then returns the match; multiple matches 412', async () => {
    const body = patient('x', 'Cond', { identifier: [{ system: 'urn:mrn', value: 'C-1' }] });
    const a = await call(h, { method: 'POST', url: 'Patient', token: t, body, headers: { 'if-none-exist': 'identifier=urn:mrn|C-1' } });
    assert.equal(a.statusCode, 201);
    const b = await call(h, { method: 'POST', url: 'Patient', token: t, body, headers: { 'if-none-exist': 'identifier=urn:mrn|C-1' } });
    assert.equal(b.statusCode, 200);
    assert.equal(b.json().id, a.json().id);
    await call(h, { method: 'POST', url: 'Patient', token: t, body });
    const c = await call(h, { method: 'POST', url: 'Patient', token: t, body, headers: { 'if-none-exist': 'identifier=urn:mrn|C-1' } });
    assert.equal(c.statusCode, 412);
  });

  test('conditional update and conditional delete', async () => {
    const body = patient('x', 'CU', { identifier: [{ system: 'urn:mrn', value: 'CU-1' }] });
    const { id: _id, ...noId } = body;
    const a = await call(h, { method: 'PUT', url: 'Patient?identifier=urn:mrn|CU-1', token: t, body: noId });
    assert.equal(a.statusCode, 201);
    const id = a.json().id;
    const b = await call(h, { method: 'PUT', url: 'Patient?identifier=urn:mrn|CU-1', token: t, body: { ...noId, gender: 'male' } });
    assert.equal(b.statusCode, 200);
    assert.equal(b.json().id, id);
    assert.equal((await call(h, { method: 'PUT', url: 'Patient?bogus-param=1', token: t, body: noId })).statusCode, 400);
    const d = await call(h, { method: 'DELETE', url: 'Patient?identifier=urn:mrn|CU-1', token: t });
    assert.equal(d.statusCode, 204);
    assert.equal((await call(h, { url: `Patient/${id}`, token: t })).statusCode, 410);
  });

  test('PATCH with JSON Patch; wrong media type 415; failed test op 422; bad ops 400', async () => {
    await call(h, { method: 'PUT', url: 'Patient/pa-1', token: t, body: patient('pa-1') });
    const ops = [{ op: 'replace', path: '/gender', value: 'male' }];
    const p = await call(h, { method: 'PATCH', url: 'Patient/pa-1', token: t, body: ops, contentType: 'application/json-patch+json' });
    assert.equal(p.statusCode, 200);
    assert.equal(p.json().gender, 'male');
    assert.equal(p.json().meta.versionId, '2');
    assert.equal((await call(h, { method: 'PATCH', url: 'Patient/pa-1', token: t, body: ops })).statusCode, 415);
    const test422 = await call(h, { method: 'PATCH', url: 'Patient/pa-1', token: t, body: [{ op: 'test', path: '/gender', value: 'female' }], contentType: 'application/json-patch+json' });
    assert.equal(test422.statusCode, 422);
    assert.equal((await call(h, { method: 'PATCH', url: 'Patient/pa-1', token: t, body: { op: 'x' }, contentType: 'application/json-patch+json' })).statusCode, 400);
    const invalid = await call(h, { method: 'PATCH', url: 'Patient/pa-1', token: t, body: [{ op: 'replace', path: '/gender', value: 'robot' }], contentType: 'application/json-patch+json' });
    assert.equal(invalid.statusCode, 400, 'the patched resource is validated');
    assert.equal((await call(h, { method: 'PATCH', url: 'Patient/pa-1', token: t, body: [{ op: 'replace', path: '/id', value: 'zz' }], contentType: 'application/json-patch+json' })).statusCode, 400);
    assert.equal((await call(h, { method: 'PATCH', url: 'Patient/pa-1', token: t, body: ops, contentType: 'application/json-patch+json', headers: { 'if-match': 'W/"1"' } })).statusCode, 412);
  });

  test('Prefer return=minimal / OperationOutcome', async () => {
    const m = await call(h, { method: 'PUT', url: 'Patient/pr-1', token: t, body: patient('pr-1'), headers: { prefer: 'return=minimal' } });
    assert.equal(m.statusCode, 201);
    assert.equal(m.body, '');
    assert.ok(m.headers.location);
    const o = await call(h, { method: 'PUT', url: 'Patient/pr-1', token: t, body: patient('pr-1'), headers: { prefer: 'return=OperationOutcome' } });
    assert.equal(o.json().resourceType, 'OperationOutcome');
  });

  test('JSON only: XML via _format or Accept is 406; XML body is 415', async () => {
    await call(h, { method: 'PUT', url: 'Patient/fmt-1', token: t, body: patient('fmt-1') });
    assert.equal((await call(h, { url: 'Patient/fmt-1?_format=xml', token: t })).statusCode, 406);
    assert.equal((await call(h, { url: 'Patient/fmt-1', token: t, headers: { accept: 'application/fhir+xml' } })).statusCode, 406);
    assert.equal((await call(h, { url: 'Patient/fmt-1?_format=json', token: t })).statusCode, 200);
    assert.equal((await call(h, { url: 'Patient/fmt-1?_format=application/fhir%2Bjson', token: t })).statusCode, 200);
    assert.equal((await call(h, { url: 'Patient/fmt-1', token: t, headers: { accept: 'text/html,*/*;q=0.8' } })).statusCode, 200);
    const xml = await call(h, { method: 'POST', url: 'Patient', token: t, body: '<Patient/>', contentType: 'application/fhir+xml' });
    assert.equal(xml.statusCode, 415);
  });

  test('CORS on responses and preflight: origin reflected with credentials, requested headers allowed', async () => {
    const r = await call(h, { url: 'Patient/nope', token: t, headers: { origin: 'http://app.example' } });
    assert.equal(r.headers['access-control-allow-origin'], 'http://app.example');
    assert.equal(r.headers['access-control-allow-credentials'], 'true');
    assert.match(String(r.headers['access-control-expose-headers']), /Location/);
    assert.match(String(r.headers.vary), /Origin/);
    const p = await call(h, {
      method: 'OPTIONS',
      url: 'Patient',
      headers: { origin: 'http://app.example', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'authorization, if-none-exist, x-request-id' },
    });
    assert.equal(p.statusCode, 204);
    assert.equal(p.headers['access-control-allow-headers'], 'authorization, if-none-exist, x-request-id');
    assert.match(String(p.headers['access-control-allow-methods']), /PUT/);
    assert.equal(p.headers['access-control-allow-credentials'], 'true');
    const noOrigin = await call(h, { url: 'metadata' });
    assert.equal(noOrigin.headers['access-control-allow-origin'], undefined, 'no Origin, no CORS answer');
  });

  test('CapabilityStatement: public, SMART oauth-uris, search params', async () => {
    const r = await call(h, { url: 'metadata' });
    assert.equal(r.statusCode, 200);
    const cs = r.json();
    assert.equal(cs.resourceType, 'CapabilityStatement');
    assert.equal(cs.fhirVersion, '4.0.1');
    const sec = cs.rest[0].security;
    assert.equal(sec.service[0].coding[0].code, 'SMART-on-FHIR');
    const uris = Object.fromEntries(sec.extension[0].extension.map((e: any) => [e.url, e.valueUri]));
    assert.equal(uris.authorize, 'http://fhir.test/test/auth/authorize');
    assert.equal(uris.token, 'http://fhir.test/test/auth/token');
    assert.equal(uris['launch-registration'], 'http://fhir.test/test/data/_services/smart/Launch');
    for (const k of ['introspect', 'revoke', 'register']) assert.ok(uris[k]);
    const obs = cs.rest[0].resource.find((x: any) => x.type === 'Observation');
    const names = obs.searchParam.map((s: any) => s.name);
    for (const n of ['patient', 'subject', 'code', 'date', 'code-value-quantity']) assert.ok(names.includes(n), n);
    assert.ok(!names.includes('_project'));
    assert.ok(cs.rest[0].interaction.some((i: any) => i.code === 'transaction'));
  });

  test('history: type and system level, _since and _count', async () => {
    const start = new Date().toISOString();
    await call(h, { method: 'PUT', url: 'Patient/hi-1', token: t, body: patient('hi-1') });
    await call(h, { method: 'PUT', url: 'Patient/hi-1', token: t, body: patient('hi-1', 'Two') });
    await call(h, { method: 'PUT', url: 'Observation/hi-o', token: t, body: observation('hi-o', 'hi-1') });
    const typ = (await call(h, { url: `Patient/_history?_since=${encodeURIComponent(start)}`, token: t })).json();
    assert.equal(typ.entry.length, 2);
    const sys = (await call(h, { url: `_history?_since=${encodeURIComponent(start)}`, token: t })).json();
    assert.equal(sys.entry.length, 3);
    assert.equal(sys.entry[0].resource.resourceType, 'Observation', 'newest first');
    const page = (await call(h, { url: `_history?_since=${encodeURIComponent(start)}&_count=2`, token: t })).json();
    assert.equal(page.entry.length, 2);
    const next = page.link.find((l: any) => l.relation === 'next');
    assert.ok(next);
    const rest = (await call(h, { url: next.url.replace('http://fhir.test', ''), token: t })).json();
    assert.equal(rest.entry.length, 1);
    assert.equal((await call(h, { url: '_history?_since=yesterday', token: t })).statusCode, 400);
  });

  test('Patient/$everything: compartment plus referenced resources, _type, _since', async () => {
    await call(h, { method: 'PUT', url: 'Practitioner/ev-doc', token: t, body: { resourceType: 'Practitioner', id: 'ev-doc', name: [{ family: 'Who' }] } });
    await call(h, { method: 'PUT', url: 'Patient/ev-1', token: t, body: patient('ev-1', 'Ever', { generalPractitioner: [{ reference: 'Practitioner/ev-doc' }] }) });
    await call(h, { method: 'PUT', url: 'Observation/ev-o1', token: t, body: observation('ev-o1', 'ev-1') });
    await call(h, { method: 'PUT', url: 'Observation/ev-other', token: t, body: observation('ev-other', 'someone-else') });
    const all = (await call(h, { url: 'Patient/ev-1/$everything', token: t })).json();
    const ids = all.entry.map((e: any) => `${e.resource.resourceType}/${e.resource.id}`).sort();
    assert.deepEqual(ids, ['Observation/ev-o1', 'Patient/ev-1', 'Practitioner/ev-doc']);
    const onlyObs = (await call(h, { url: 'Patient/ev-1/$everything?_type=Observation', token: t })).json();
    assert.deepEqual(
      onlyObs.entry.map((e: any) => e.resource.id),
      ['ev-o1'],
    );
    const future = (await call(h, { url: `Patient/ev-1/$everything?_since=${encodeURIComponent('2999-01-01T00:00:00Z')}`, token: t })).json();
    assert.equal(future.total, 0);
    const paged = (await call(h, { url: 'Patient/ev-1/$everything?_count=2', token: t })).json();
    assert.equal(paged.entry.length, 2);
    assert.ok(paged.link.some((l: any) => l.relation === 'next'));
  });

  test('compartment search Patient/{id}/Observation', async () => {
    await call(h, { method: 'PUT', url: 'Patient/cs-1', token: t, body: patient('cs-1') });
    await call(h, { method: 'PUT', url: 'Observation/cs-o1', token: t, body: observation('cs-o1', 'cs-1') });
    await call(h, { method: 'PUT', url: 'Observation/cs-o2', token: t, body: observation('cs-o2', 'cs-2') });
    const b = (await call(h, { url: 'Patient/cs-1/Observation', token: t })).json();
    assert.deepEqual(
      b.entry.map((e: any) => e.resource.id),
      ['cs-o1'],
    );
  });
});

describe('open base', () => {
  test('closed sandbox: /open answers 403; open read-only refuses writes; open-write accepts them', async () => {
    const h = await harness();
    try {
      assert.equal((await call(h, { url: '/test/open/Patient' })).statusCode, 403);
      (await h.tenants.update('test', { openRead: true }));
      assert.equal((await call(h, { url: '/test/open/Patient' })).statusCode, 200);
      assert.equal((await call(h, { url: '/test/open/metadata' })).statusCode, 200);
      const w = await call(h, { method: 'PUT', url: '/test/open/Patient/o1', body: patient('o1') });
      assert.equal(w.statusCode, 403);
      assert.equal(w.json().resourceType, 'OperationOutcome');
      (await h.tenants.update('test', { openWrite: true }));
      assert.equal((await call(h, { method: 'PUT', url: '/test/open/Patient/o1', body: patient('o1') })).statusCode, 201);
      const r = await call(h, { url: '/test/open/Patient/o1' });
      assert.equal(r.statusCode, 200);
      // Links and Locations stay on the base that was used.
      const s = (await call(h, { url: '/test/open/Patient?_count=1' })).json();
      assert.ok(s.link[0].url.startsWith('http://fhir.test/test/open/Patient?'));
    } finally {
      await h.close();
    }
  });
});
