/**
 * Adversarial access-control suite (docs/architecture.md §6): every interaction under a patient/ token must
 * stay inside the context patient's compartment, and everything else fails closed. Grants are built
 * here and served by a Map-backed TokenVerifier (the real auth server implements the same interface).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { call, type Harness, harness, observation, patient } from './helpers.js';

const A = 'pat-a';
const B = 'pat-b';

describe('access enforcement', () => {
  let h: Harness;
  let pat: string; // patient/*.cruds for A
  let patRead: string; // patient/*.rs for A
  const FORBIDDEN_IDS = new Set(['obs-b', B, 'tx-b', 'new-b', 'u-b']);
  /** No resource of B's compartment, and none of B's data, anywhere in a response. */
  const noB = (body: string) => {
    assert.ok(!body.includes('Bfamily') && !body.includes('secret of'), `leaked B data: ${body.slice(0, 400)}`);
    if (!body.startsWith('{') && !body.startsWith('[')) return;
    const walk = (x: any): void => {
      if (Array.isArray(x)) {
        for (const y of x) walk(y);
        return;
      }
      if (!x || typeof x !== 'object') return;
      if (typeof x.resourceType === 'string' && x.resourceType !== 'Bundle' && x.resourceType !== 'OperationOutcome') {
        assert.ok(!FORBIDDEN_IDS.has(x.id), `leaked ${x.resourceType}/${x.id}`);
        assert.ok(!(x.subject?.reference === `Patient/${B}`), `leaked a resource of B: ${x.resourceType}/${x.id}`);
      }
      for (const v of Object.values(x)) walk(v);
    };
    walk(JSON.parse(body));
  };

  before(async () => {
    h = await harness();
    const admin = h.token('system/*.cruds');
    const put = async (r: any) => {
      const res = await call(h, { method: 'PUT', url: `${r.resourceType}/${r.id}`, token: admin, body: r });
      assert.ok(res.statusCode < 300, res.body);
    };
    await put({ resourceType: 'Practitioner', id: 'doc', name: [{ family: 'Shared' }] });
    await put(patient(A, 'Afamily'));
    await put(patient(B, 'Bfamily'));
    await put(observation('obs-a', A, '1111-1', { performer: [{ reference: 'Practitioner/doc' }] }));
    await put(
      observation('obs-a-vital', A, '2222-2', {
        category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
      }),
    );
    // An A-compartment observation that points at B elsewhere (focus is not a compartment param).
    await put(observation('obs-a-focus', A, '3333-3', { focus: [{ reference: `Patient/${B}` }] }));
    await put(observation('obs-b', B, '9999-9', { performer: [{ reference: 'Practitioner/doc' }] }));
    // Moved from B to A: version 1 belonged to B.
    await put(observation('obs-moved', B, '4444-4', { note: [{ text: 'secret of Bfamily' }] }));
    await put(observation('obs-moved', A, '4444-4'));
    pat = h.token('launch/patient patient/*.cruds openid', { patient: A });
    patRead = h.token('patient/*.rs', { patient: A });
  });
  after(() => h.close());

  describe('authentication', () => {
    test('F1 no token, unknown token, other sandbox token, expired token → 401 invalid_token', async () => {
      const none = await call(h, { url: 'Patient' });
      assert.equal(none.statusCode, 401);
      assert.match(String(none.headers['www-authenticate']), /error="invalid_token"/);
      assert.equal((await call(h, { url: 'Patient', token: 'made-up' })).statusCode, 401);
      const other = (await h.tenants.create('elsewhere'));
      assert.equal((await call(h, { url: 'Patient', token: h.token('system/*.rs', {}, other) })).statusCode, 401);
      assert.equal((await call(h, { url: 'Patient', token: h.token('system/*.rs', { expiresAt: 1 }) })).statusCode, 401);
      assert.equal((await call(h, { url: 'Patient', headers: { authorization: 'Basic abc' } })).statusCode, 401);
    });

    test('metadata is public', async () => {
      assert.equal((await call(h, { url: 'metadata' })).statusCode, 200);
    });
  });

  describe('scopes', () => {
    test('F2 type not granted → 403 insufficient_scope; interaction not granted → 403', async () => {
      const obsOnly = h.token('system/Observation.rs');
      const r = await call(h, { url: `Patient/${A}`, token: obsOnly });
      assert.equal(r.statusCode, 403);
      assert.match(String(r.headers['www-authenticate']), /insufficient_scope/);
      assert.equal((await call(h, { url: 'Observation/obs-b', token: obsOnly })).statusCode, 200);
      const w = await call(h, { method: 'PUT', url: 'Observation/obs-b', token: obsOnly, body: observation('obs-b', B) });
      assert.equal(w.statusCode, 403);
      const v2read = h.token('system/Observation.r');
      assert.equal((await call(h, { url: 'Observation?code=9999-9', token: v2read })).statusCode, 403, 'r without s cannot search');
      assert.equal((await call(h, { url: 'Observation/obs-b', token: v2read })).statusCode, 200);
    });

    test('F4 v1 scopes: read → rs, write → cud', async () => {
      const v1 = h.token('patient/*.read', { patient: A });
      assert.equal((await call(h, { url: 'Observation/obs-a', token: v1 })).statusCode, 200);
      assert.equal((await call(h, { url: 'Observation?code=1111-1', token: v1 })).json().total, 1);
      assert.equal((await call(h, { method: 'PUT', url: 'Observation/obs-a', token: v1, body: observation('obs-a', A) })).statusCode, 403);
      const v1w = h.token('patient/Observation.write', { patient: A });
      const created = await call(h, { method: 'POST', url: 'Observation', token: v1w, body: observation('obs-a-w', A) });
      assert.equal(created.statusCode, 201, created.body);
      assert.equal((await call(h, { url: `Observation/${created.json().id}`, token: v1w })).statusCode, 403);
      // Update-as-create is not available to confined grants (existence oracle, issue 12).
      assert.equal((await call(h, { method: 'PUT', url: 'Observation/obs-a-w', token: v1w, body: observation('obs-a-w', A) })).statusCode, 404);
    });

    test('a patient/ scope without a patient in context is refused', async () => {
      const t = h.token('patient/*.rs');
      const r = await call(h, { url: 'Observation', token: t });
      assert.equal(r.statusCode, 403);
    });

    test('F3 ?category= restriction filters searches and refuses other reads/writes', async () => {
      const lab = h.token('patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory', { patient: A });
      const s = (await call(h, { url: 'Observation', token: lab })).json();
      const ids = s.entry.map((e: any) => e.resource.id);
      assert.ok(ids.includes('obs-a'));
      assert.ok(!ids.includes('obs-a-vital'));
      assert.equal((await call(h, { url: 'Observation/obs-a-vital', token: lab })).statusCode, 404);
      assert.equal((await call(h, { url: 'Observation/obs-a', token: lab })).statusCode, 200);
      const labW = h.token('patient/Observation.cu?category=laboratory', { patient: A });
      const vital = observation('obs-a-new-vital', A, '5', {
        category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
      });
      assert.equal((await call(h, { method: 'POST', url: 'Observation', token: labW, body: vital })).statusCode, 403);
      assert.equal((await call(h, { method: 'POST', url: 'Observation', token: labW, body: observation('obs-a-new-lab', A, '6') })).statusCode, 201);
      // The vital-signs Observation exists but is outside the grant: updating it is 404, as for an absent id.
      assert.equal((await call(h, { method: 'PUT', url: 'Observation/obs-a-vital', token: labW, body: { ...vital, id: 'obs-a-vital' } })).statusCode, 404);
    });

    test('system/ scopes see the whole tenant for granted types', async () => {
      const sys = h.token('system/Observation.rs');
      const s = (await call(h, { url: 'Observation?_count=100', token: sys })).json();
      assert.ok(s.entry.some((e: any) => e.resource.id === 'obs-b'));
    });

    test('user/ scopes: a Practitioner persona sees all, a Patient persona only its compartment', async () => {
      const doc = h.token('user/*.rs', { fhirUser: 'Practitioner/doc' });
      assert.equal((await call(h, { url: 'Observation/obs-b', token: doc })).statusCode, 200);
      const me = h.token('user/*.cruds', { fhirUser: `Patient/${A}` });
      assert.equal((await call(h, { url: 'Observation/obs-b', token: me })).statusCode, 404);
      assert.equal((await call(h, { url: 'Observation/obs-a', token: me })).statusCode, 200);
      const s = await call(h, { url: 'Observation?_count=100', token: me });
      noB(s.body);
      assert.equal((await call(h, { method: 'POST', url: 'Observation', token: me, body: observation('u-b', B) })).statusCode, 403);
    });
  });

  describe('patient/ confinement: every interaction, escape attempts find nothing', () => {
    test('F2 read and vread outside the compartment → 404, echoing nothing', async () => {
      for (const url of ['Observation/obs-b', `Patient/${B}`, 'Observation/obs-b/_history/1']) {
        const r = await call(h, { url, token: patRead });
        assert.equal(r.statusCode, 404, url);
        noB(r.body);
      }
      assert.equal((await call(h, { url: 'Observation/obs-a', token: patRead })).statusCode, 200);
      assert.equal((await call(h, { url: `Patient/${A}`, token: patRead })).statusCode, 200);
    });

    test('vread of a past version that belonged to another patient → 404', async () => {
      assert.equal((await call(h, { url: 'Observation/obs-moved/_history/2', token: patRead })).statusCode, 200);
      const r = await call(h, { url: 'Observation/obs-moved/_history/1', token: patRead });
      assert.equal(r.statusCode, 404);
      noB(r.body);
    });

    test('search: explicit other patient, other subject, _id, code of B → nothing', async () => {
      for (const q of [`Observation?patient=${B}`, `Observation?subject=Patient/${B}`, 'Observation?_id=obs-b', 'Observation?code=9999-9', `Patient?_id=${B}`, 'Patient?family=Bfam', 'Observation?_count=100']) {
        const r = await call(h, { url: q, token: patRead });
        assert.equal(r.statusCode, 200, q);
        noB(r.body);
      }
      const mine = (await call(h, { url: `Observation?patient=${A}&_count=100`, token: patRead })).json();
      assert.ok(mine.total >= 3);
    });

    test('_include cannot pull in another patient', async () => {
      const r = await call(h, { url: 'Observation?_include=Observation:focus&_include=Observation:subject&_include=*&_count=100', token: patRead });
      assert.equal(r.statusCode, 200);
      noB(r.body);
      // …but non-compartment targets covered by the scope are included.
      assert.ok(r.json().entry.some((e: any) => e.resource.resourceType === 'Practitioner'));
      const it = await call(h, { url: 'Observation?_include:iterate=*&_revinclude:iterate=Observation:performer&_count=100', token: patRead });
      noB(it.body);
    });

    test('_revinclude cannot pull in another patient', async () => {
      const r = await call(h, { url: 'Practitioner?_revinclude=Observation:performer&_revinclude=Observation:focus', token: patRead });
      assert.equal(r.statusCode, 200);
      noB(r.body);
      assert.ok(r.json().entry.some((e: any) => e.resource.id === 'obs-a'));
      const p = await call(h, { url: 'Patient?_revinclude=Observation:focus', token: patRead });
      noB(p.body);
    });

    test('chains cannot test another patient\u2019s data', async () => {
      for (const q of ['Observation?focus:Patient.family=Bfamily', 'Observation?focus.family=Bfamily', 'Observation?subject:Patient.family=Bfamily']) {
        const r = await call(h, { url: q, token: patRead });
        assert.equal(r.statusCode, 200, q);
        assert.equal(r.json().total, 0, q);
      }
      assert.equal((await call(h, { url: 'Observation?subject:Patient.family=Afamily&_count=100', token: patRead })).json().total >= 3, true);
    });

    test('_has cannot test another patient\u2019s data', async () => {
      const r = await call(h, { url: 'Practitioner?_has:Observation:performer:code=9999-9', token: patRead });
      assert.equal(r.statusCode, 200);
      assert.equal(r.json().total, 0);
      const own = await call(h, { url: 'Practitioner?_has:Observation:performer:code=1111-1', token: patRead });
      assert.equal(own.json().total, 1);
      const p = await call(h, { url: 'Patient?_has:Observation:patient:code=9999-9', token: patRead });
      assert.equal(p.json().total, 0);
    });

    test('history: instance, type and system levels stay inside', async () => {
      assert.equal((await call(h, { url: 'Observation/obs-b/_history', token: patRead })).statusCode, 404);
      const moved = await call(h, { url: 'Observation/obs-moved/_history', token: patRead });
      assert.equal(moved.statusCode, 200);
      assert.equal(moved.json().entry.length, 1, 'the version that belonged to B is not shown');
      noB(moved.body);
      const typ = await call(h, { url: 'Observation/_history?_count=100', token: patRead });
      noB(typ.body);
      const sys = await call(h, { url: '_history?_count=100', token: patRead });
      noB(sys.body);
      assert.ok(sys.json().entry.some((e: any) => e.resource?.id === 'obs-a'));
    });

    test('batch GET entries and transaction writes are confined', async () => {
      const b = await call(h, {
        method: 'POST',
        url: '/test/data',
        token: pat,
        body: {
          resourceType: 'Bundle',
          type: 'batch',
          entry: [{ request: { method: 'GET', url: 'Observation/obs-b' } }, { request: { method: 'GET', url: `Observation?patient=${B}` } }, { request: { method: 'GET', url: 'Observation/obs-a' } }],
        },
      });
      assert.equal(b.statusCode, 200);
      const bb = b.json();
      assert.equal(bb.entry[0].response.status, '404');
      assert.equal(bb.entry[2].resource.id, 'obs-a');
      noB(JSON.stringify(bb.entry.slice(0, 2)));
      const tx = await call(h, {
        method: 'POST',
        url: '/test/data',
        token: pat,
        body: {
          resourceType: 'Bundle',
          type: 'transaction',
          entry: [
            { resource: observation('tx-a', A, 'tx-a-code'), request: { method: 'POST', url: 'Observation' } },
            { resource: observation('tx-b', B, 'tx-b-code'), request: { method: 'POST', url: 'Observation' } },
          ],
        },
      });
      assert.equal(tx.statusCode, 403);
      const admin = h.token('system/*.rs');
      assert.equal((await call(h, { url: 'Observation?code=tx-a-code', token: admin })).json().total, 0, 'rolled back');
      assert.equal((await call(h, { url: 'Observation?code=tx-b-code', token: admin })).json().total, 0);
    });

    test('create / update / patch / delete cannot reach or move data to another patient', async () => {
      const admin = h.token('system/*.rs');
      assert.equal((await call(h, { method: 'POST', url: 'Observation', token: pat, body: observation('x', B) })).statusCode, 403);
      // Update-as-create is not available to confined grants (no existence oracle, issue 12).
      assert.equal((await call(h, { method: 'PUT', url: 'Observation/new-b', token: pat, body: observation('new-b', B) })).statusCode, 404);
      // No patient at all is not "the context patient's compartment" either.
      const orphan = observation('orphan', A);
      delete (orphan as any).subject;
      assert.equal((await call(h, { method: 'POST', url: 'Observation', token: pat, body: orphan })).statusCode, 403);
      // Belonging to A and B at once is refused.
      const both = observation('both', A, '1', { performer: [{ reference: `Patient/${B}` }] });
      assert.equal((await call(h, { method: 'POST', url: 'Observation', token: pat, body: both })).statusCode, 403);
      assert.equal((await call(h, { method: 'PUT', url: 'Observation/obs-a', token: pat, body: { ...both, id: 'obs-a' } })).statusCode, 403);
      // Moving A's observation to B.
      assert.equal((await call(h, { method: 'PUT', url: 'Observation/obs-a', token: pat, body: observation('obs-a', B, '1111-1') })).statusCode, 403);
      const patch = await call(h, {
        method: 'PATCH',
        url: 'Observation/obs-a',
        token: pat,
        body: [{ op: 'replace', path: '/subject/reference', value: `Patient/${B}` }],
        contentType: 'application/json-patch+json',
      });
      assert.equal(patch.statusCode, 403);
      assert.equal((await call(h, { url: 'Observation/obs-a', token: admin })).json().subject.reference, `Patient/${A}`);
      // Touching B's resources.
      assert.equal((await call(h, { method: 'PUT', url: 'Observation/obs-b', token: pat, body: observation('obs-b', A) })).statusCode, 404);
      assert.equal((await call(h, { method: 'PATCH', url: 'Observation/obs-b', token: pat, body: [], contentType: 'application/json-patch+json' })).statusCode, 404);
      assert.equal((await call(h, { method: 'DELETE', url: 'Observation/obs-b', token: pat })).statusCode, 404);
      assert.equal((await call(h, { method: 'DELETE', url: `Observation?patient=${B}`, token: pat })).statusCode, 204, 'matches nothing');
      assert.equal((await call(h, { url: 'Observation/obs-b', token: admin })).statusCode, 200);
      // Patient resources: own yes, linking to another patient no.
      assert.equal((await call(h, { method: 'PUT', url: `Patient/${A}`, token: pat, body: patient(A, 'Afamily') })).statusCode, 200);
      const link = patient(A, 'Afamily', { link: [{ other: { reference: `Patient/${B}` }, type: 'seealso' }] });
      assert.equal((await call(h, { method: 'PUT', url: `Patient/${A}`, token: pat, body: link })).statusCode, 403);
      // Types outside the compartment: readable, never writable under patient/ scopes.
      assert.equal((await call(h, { url: 'Practitioner/doc', token: pat })).statusCode, 200);
      assert.equal((await call(h, { method: 'PUT', url: 'Practitioner/doc', token: pat, body: { resourceType: 'Practitioner', id: 'doc' } })).statusCode, 403);
      assert.equal((await call(h, { method: 'POST', url: 'Organization', token: pat, body: { resourceType: 'Organization', name: 'x' } })).statusCode, 403);
      // Own data is writable.
      assert.equal((await call(h, { method: 'POST', url: 'Observation', token: pat, body: observation('new-a', A) })).statusCode, 201);
    });

    test('$everything and compartment search of another patient → 404; own $everything has no B data', async () => {
      const r = await call(h, { url: `Patient/${B}/$everything`, token: patRead });
      assert.equal(r.statusCode, 404);
      noB(r.body);
      assert.equal((await call(h, { url: `Patient/${B}/Observation`, token: patRead })).statusCode, 404);
      const own = await call(h, { url: `Patient/${A}/$everything`, token: patRead });
      assert.equal(own.statusCode, 200);
      noB(own.body);
      assert.ok(own.json().entry.some((e: any) => e.resource.resourceType === 'Practitioner'));
    });

    test('system-level search is confined too', async () => {
      const r = await call(h, { url: '_search?_type=Patient,Observation', method: 'POST', token: patRead, body: '_count=100', contentType: 'application/x-www-form-urlencoded' });
      assert.equal(r.statusCode, 200, r.body);
      noB(r.body);
      const g = await call(h, { url: '/test/data?_type=Observation,Patient&_count=100', token: patRead });
      noB(g.body);
      assert.ok(g.json().entry.some((e: any) => e.resource.id === A));
    });
  });
});
