/**
 * Issue 12: no leaks through the edges of the compartment.
 * - A Group read, searched, included, in history or in $everything under a patient-confined grant
 *   lists only that patient's member entry, tagged SUBSETTED; a patch of such a Group is refused, and
 *   a `member` search may name the own patient only (no probing of the hidden members).
 * - No existence oracle: under a confined grant, update (plain, If-Match, conditional, in a
 *   transaction) of an id that exists outside the compartment answers exactly as an id that does not
 *   exist — 404 "resource not found" (update-as-create is refused for confined grants).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { call, type Harness, harness, observation, patient } from './helpers.js';

const A = 'edge-a';
const B = 'edge-b';
const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' };

describe('compartment edges', () => {
  let h: Harness;
  let admin: string;
  let pat: string;
  const noB = (body: string) => assert.ok(!body.includes(B), `leaked ${B}: ${body.slice(0, 600)}`);

  before(async () => {
    h = await harness();
    admin = h.token('system/*.cruds');
    const put = async (r: any) => {
      const res = await call(h, { method: 'PUT', url: `${r.resourceType}/${r.id}`, token: admin, body: r });
      assert.ok(res.statusCode < 300, res.body);
    };
    await put(patient(A, 'Afamily'));
    await put(patient(B, 'Bfamily'));
    await put(observation('obs-a', A));
    await put(observation('obs-b', B));
    await put({
      resourceType: 'Group',
      id: 'cohort',
      type: 'person',
      actual: true,
      member: [{ entity: { reference: `Patient/${B}` } }, { entity: { reference: `Patient/${A}` }, period: { start: '2024-01-01' } }, { entity: { reference: 'Practitioner/x' } }],
    });
    pat = h.token('launch/patient patient/*.cruds', { patient: A });
  });
  after(() => h.close());

  const assertSubset = (g: any) => {
    assert.equal(g.resourceType, 'Group');
    assert.deepEqual(g.member, [{ entity: { reference: `Patient/${A}` }, period: { start: '2024-01-01' } }]);
    assert.ok(
      g.meta.tag.some((t: any) => t.system === SUBSETTED.system && t.code === SUBSETTED.code),
      JSON.stringify(g.meta),
    );
  };

  test('read and vread show only the context patient as member, tagged SUBSETTED', async () => {
    for (const url of ['Group/cohort', 'Group/cohort/_history/1']) {
      const r = await call(h, { url, token: pat });
      assert.equal(r.statusCode, 200, r.body);
      noB(r.body);
      assertSubset(r.json());
    }
    // A system grant sees the whole Group, untagged.
    const whole = (await call(h, { url: 'Group/cohort', token: admin })).json();
    assert.equal(whole.member.length, 3);
    assert.equal(whole.meta.tag, undefined);
  });

  test('search, _include/_revinclude, history and $everything show the subset too', async () => {
    const urls = [
      'Group',
      `Group?member=Patient/${A}`,
      'Group?_id=cohort&_summary=data',
      `Patient?_id=${A}&_revinclude=Group:member`,
      'Group/cohort/_history',
      'Group/_history',
      '_history',
      `Patient/${A}/$everything`,
      `Patient/${A}/Group`,
    ];
    for (const url of urls) {
      const r = await call(h, { url, token: pat });
      assert.equal(r.statusCode, 200, `${url}: ${r.body}`);
      noB(r.body);
      const groups = (r.json().entry ?? []).map((e: any) => e.resource).filter((x: any) => x?.resourceType === 'Group');
      assert.ok(groups.length >= 1, `${url}: no Group in ${r.body.slice(0, 300)}`);
      for (const g of groups) assertSubset(g);
    }
    // In a batch, too.
    const batch = await call(h, {
      method: 'POST',
      url: '',
      token: pat,
      body: { resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'GET', url: 'Group/cohort' } }] },
    });
    assert.equal(batch.statusCode, 200, batch.body);
    noB(batch.body);
    assertSubset(batch.json().entry[0].resource);
  });

  test('Group member searches cannot probe the hidden members: only the own patient may be named', async () => {
    const refused = ['Group?member=Patient/PID', 'Group?member:Patient=PID', 'Group?member=PID', `Group?member=Patient/${A},Patient/PID`, 'Group?member.name=PID', 'Group?member:Patient.name=PID'];
    for (const url of refused) {
      const inGroup = await call(h, { url: url.replaceAll('PID', B), token: pat });
      const nowhere = await call(h, { url: url.replaceAll('PID', 'nobody'), token: pat });
      assert.equal(inGroup.statusCode, 403, `${url}: ${inGroup.body}`);
      assert.equal(inGroup.body.replaceAll(B, 'X'), nowhere.body.replaceAll('nobody', 'X'), url);
    }
    for (const url of [`Group?member=Patient/${A}`, `Group?member:Patient=${A}`, `Group?member=${A}`, 'Group?member:missing=false']) {
      const r = await call(h, { url, token: pat });
      assert.equal(r.statusCode, 200, `${url}: ${r.body}`);
      assert.deepEqual(
        r.json().entry.map((e: any) => e.resource.id),
        ['cohort'],
        url,
      );
    }
    // A system grant searches members freely.
    const sys = await call(h, { url: `Group?member=Patient/${B}`, token: admin });
    assert.equal(sys.json().total, 1);
  });

  test('a patch of a subsetted Group is refused (a JSON Patch `test` would probe the hidden members)', async () => {
    for (const value of [`Patient/${B}`, 'Patient/nobody']) {
      const r = await call(h, {
        method: 'PATCH',
        url: 'Group/cohort',
        token: pat,
        contentType: 'application/json-patch+json',
        body: [{ op: 'test', path: '/member/0/entity/reference', value }],
      });
      assert.equal(r.statusCode, 403, r.body);
      noB(r.body);
    }
  });

  test('update of an id outside the compartment answers exactly as an id that does not exist', async () => {
    const attempts = (id: string) => [
      { method: 'PUT' as const, url: `Observation/${id}`, body: observation(id, A) },
      { method: 'PUT' as const, url: `Observation/${id}`, body: observation(id, A), headers: { 'if-match': 'W/"1"' } },
      { method: 'PUT' as const, url: `Observation/${id}`, body: observation(id, A), headers: { 'if-match': 'W/"7"' } },
      { method: 'PUT' as const, url: `Observation?_id=${id}`, body: observation(id, A) },
      { method: 'PUT' as const, url: 'Observation?code=nothing-matches', body: observation(id, A) },
      { method: 'PATCH' as const, url: `Observation/${id}`, body: [{ op: 'replace', path: '/status', value: 'amended' }], contentType: 'application/json-patch+json' },
      { method: 'DELETE' as const, url: `Observation/${id}` },
      { method: 'DELETE' as const, url: `Observation/${id}`, headers: { 'if-match': 'W/"1"' } },
    ];
    const exists = attempts('obs-b');
    const absent = attempts('obs-nope');
    for (const [i, e] of exists.entries()) {
      const r1 = await call(h, { ...e, token: pat });
      const r2 = await call(h, { ...absent[i], token: pat });
      assert.equal(r1.statusCode, r2.statusCode, `${e.method} ${e.url}: ${r1.body} vs ${r2.body}`);
      assert.equal(r1.statusCode, 404, `${e.method} ${e.url}: ${r1.body}`);
      assert.equal(r1.body.replaceAll('obs-b', 'X'), r2.body.replaceAll('obs-nope', 'X'), `${e.method} ${e.url}`);
    }
    // In a transaction too: the same entry outcome.
    const tx = async (id: string) =>
      call(h, { method: 'POST', url: '', token: pat, body: { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: observation(id, A), request: { method: 'PUT', url: `Observation/${id}` } }] } });
    const t1 = await tx('obs-b');
    const t2 = await tx('obs-nope');
    assert.equal(t1.statusCode, t2.statusCode);
    assert.equal(t1.body.replaceAll('obs-b', 'X'), t2.body.replaceAll('obs-nope', 'X'));
    // Nothing was created or changed.
    assert.equal((await call(h, { url: 'Observation/obs-nope', token: admin })).statusCode, 404);
    assert.equal((await call(h, { url: 'Observation/obs-b', token: admin })).json().meta.versionId, '1');
  });

  test('a confined grant still updates what it sees (If-Match included) and creates with server ids', async () => {
    const r = await call(h, { method: 'PUT', url: 'Observation/obs-a', token: pat, body: observation('obs-a', A, '1111-1'), headers: { 'if-match': 'W/"1"' } });
    assert.equal(r.statusCode, 200, r.body);
    const stale = await call(h, { method: 'PUT', url: 'Observation/obs-a', token: pat, body: observation('obs-a', A), headers: { 'if-match': 'W/"1"' } });
    assert.equal(stale.statusCode, 412, stale.body);
    const created = await call(h, { method: 'POST', url: 'Observation', token: pat, body: observation('ignored', A) });
    assert.equal(created.statusCode, 201, created.body);
    // A conditional update that matches nothing and carries no id creates (server id), in a transaction too.
    const fresh = observation('unused', A, 'cond-new');
    delete (fresh as any).id;
    const cu = await call(h, { method: 'PUT', url: 'Observation?code=cond-new', token: pat, body: fresh });
    assert.equal(cu.statusCode, 201, cu.body);
    const txCreate = await call(h, {
      method: 'POST',
      url: '',
      token: pat,
      body: { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { ...fresh, code: { text: 'tx-cond-new' } }, request: { method: 'PUT', url: 'Observation?code:text=tx-cond-new' } }] },
    });
    assert.equal(txCreate.statusCode, 200, txCreate.body);
    assert.match(txCreate.json().entry[0].response.status, /^201/);
    // A system grant keeps update-as-create.
    const sys = await call(h, { method: 'PUT', url: 'Observation/made-by-system', token: admin, body: observation('made-by-system', B) });
    assert.equal(sys.statusCode, 201, sys.body);
  });
});
