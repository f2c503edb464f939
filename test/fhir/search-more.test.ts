/**
 * Search engine, second part (issue #3): uri :above/:below, _profile/_security/_source,
 * _include=* / _revinclude=*, _summary and _elements exactness, $everything paging, the
 * CapabilityStatement's include lists, and the query plan of a patient search without a patient grant.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ALL, call, type Harness, harness, observation, patient, TEST_BACKEND } from './helpers.js';

describe('search (more)', () => {
  let h: Harness;
  let t: string;
  const ids = async (url: string) => {
    const r = await call(h, { url, token: t });
    assert.equal(r.statusCode, 200, `${url}: ${r.body.slice(0, 300)}`);
    return (r.json().entry ?? []).filter((e: any) => e.search?.mode === 'match').map((e: any) => e.resource.id).sort();
  };
  const entries = async (url: string) => {
    const r = await call(h, { url, token: t });
    assert.equal(r.statusCode, 200, `${url}: ${r.body.slice(0, 300)}`);
    return (r.json().entry ?? []) as any[];
  };
  before(async () => {
    h = await harness();
    t = h.token(ALL);
    const put = async (r: any) => {
      const res = await call(h, { method: 'PUT', url: `${r.resourceType}/${r.id}`, token: t, body: r });
      assert.ok(res.statusCode < 300, res.body);
    };
    const vs = (id: string, url: string) => ({ resourceType: 'ValueSet', id, url, status: 'active' });
    await put(vs('vs1', 'http://acme.org/fhir/ValueSet/123'));
    await put(vs('vs2', 'http://acme.org/fhir/ValueSet/123/_history/5'));
    await put(vs('vs3', 'http://acme.org/fhir'));
    await put(vs('vs4', 'http://ACME.org/fhir/ValueSet/9'));
    await put(vs('vs5', 'urn:oid:1.2.3'));
    await put({ resourceType: 'Organization', id: 'm-org', name: 'Org' });
    await put(
      patient('m1', 'Meta', {
        meta: { profile: ['http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient'], security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' }], source: 'http://ehr.example/src#1' },
        managingOrganization: { reference: 'Organization/m-org' },
        _birthDate: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-birthTime', valueDateTime: '1990-05-17T08:00:00Z' }] },
        text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Meta</div>' },
      }),
    );
    await put(patient('m2', 'Plain'));
    await put(observation('m-o1', 'm1', '1111-1', { performer: [{ reference: 'Organization/m-org' }] }));
    await put(observation('m-o2', 'm1', '2222-2'));
    await put({
      resourceType: 'MedicationRequest',
      id: 'm-rx',
      status: 'stopped',
      statusReason: { text: 'side effects' },
      intent: 'order',
      medicationCodeableConcept: { text: 'aspirin' },
      subject: { reference: 'Patient/m1' },
    });
  });
  after(() => h.close());

  test('uri :below and :above are case-sensitive prefixes; URNs refuse them', async () => {
    assert.deepEqual(await ids('ValueSet?url=http://acme.org/fhir/ValueSet/123'), ['vs1']);
    assert.deepEqual(await ids('ValueSet?url:below=http://acme.org/fhir/'), ['vs1', 'vs2']);
    assert.deepEqual(await ids('ValueSet?url:below=http://acme.org/fhir'), ['vs1', 'vs2', 'vs3']);
    assert.deepEqual(await ids('ValueSet?url:below=http://acme.org/fhir/ValueSet/123'), ['vs1', 'vs2']);
    assert.deepEqual(await ids('ValueSet?url:above=http://acme.org/fhir/ValueSet/123/_history/5'), ['vs1', 'vs2', 'vs3']);
    assert.deepEqual(await ids('ValueSet?url:above=http://acme.org/fhir/ValueSet/1'), ['vs3']);
    assert.deepEqual(await ids('ValueSet?url:below=http://ACME.org/'), ['vs4'], 'no case folding');
    assert.deepEqual(await ids('ValueSet?url:below=http://acme.org/fhir/Value_et'), [], '_ is not a wildcard');
    for (const q of ['ValueSet?url:below=urn:oid:1.2', 'ValueSet?url:above=urn:oid:1.2.3.4']) {
      const r = await call(h, { url: q, token: t });
      assert.equal(r.statusCode, 400, q);
    }
    assert.deepEqual(await ids('ValueSet?url=urn:oid:1.2.3'), ['vs5']);
  });

  test('_profile, _security, _source', async () => {
    assert.deepEqual(await ids('Patient?_profile=http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient'), ['m1']);
    assert.deepEqual(await ids('Patient?_profile:below=http://hl7.org/fhir/us/core/'), ['m1']);
    assert.deepEqual(await ids('Patient?_security=http://terminology.hl7.org/CodeSystem/v3-Confidentiality|R'), ['m1']);
    assert.deepEqual(await ids('Patient?_security:not=R&_id=m1,m2'), ['m2']);
    assert.deepEqual(await ids('Patient?_source=http://ehr.example/src%231'), ['m1']);
    assert.deepEqual(await ids('Patient?_source=http://ehr.example/other'), []);
  });

  test('_include=* and _revinclude=*', async () => {
    const inc = await entries('Observation?_id=m-o1&_include=*');
    assert.deepEqual(inc.filter((e) => e.search.mode === 'include').map((e) => `${e.resource.resourceType}/${e.resource.id}`).sort(), ['Organization/m-org', 'Patient/m1']);
    const rev = await entries('Patient?_id=m1&_revinclude=*');
    assert.deepEqual(rev.filter((e) => e.search.mode === 'include').map((e) => `${e.resource.resourceType}/${e.resource.id}`).sort(), ['MedicationRequest/m-rx', 'Observation/m-o1', 'Observation/m-o2']);
    const revOrg = await entries('Organization?_id=m-org&_revinclude=*');
    assert.deepEqual(revOrg.filter((e) => e.search.mode === 'include').map((e) => `${e.resource.resourceType}/${e.resource.id}`).sort(), ['Observation/m-o1', 'Patient/m1']);
    // A patient/ grant: _revinclude=* stays in the compartment (m2's token sees nothing of m1).
    const p2 = h.token('patient/*.rs', { patient: 'm2' });
    const r = await call(h, { url: 'Patient?_revinclude=*', token: p2 });
    assert.equal(r.statusCode, 200);
    assert.deepEqual(
      r.json().entry.map((e: any) => e.resource.id),
      ['m2'],
    );
  });

  test('_summary true/text/data/count and _elements are exact', async () => {
    const [sumTrue] = await entries('MedicationRequest?_id=m-rx&_summary=true');
    assert.deepEqual(Object.keys(sumTrue.resource).sort(), ['id', 'intent', 'medicationCodeableConcept', 'meta', 'resourceType', 'status', 'subject']);
    const [text] = await entries('Patient?_id=m1&_summary=text');
    assert.deepEqual(Object.keys(text.resource).sort(), ['id', 'meta', 'resourceType', 'text']);
    assert.ok(text.resource.meta.tag.some((x: any) => x.code === 'SUBSETTED'));
    const [data] = await entries('Patient?_id=m1&_summary=data');
    assert.equal(data.resource.text, undefined);
    assert.equal(data.resource.gender, 'female');
    assert.ok(data.resource._birthDate);
    const count = (await call(h, { url: 'Observation?subject=Patient/m1&_summary=count', token: t })).json();
    assert.equal(count.total, 2);
    assert.equal(count.entry, undefined);
    // _elements: listed elements + mandatory ones; choice types by base name only; `_x` siblings follow.
    const [rx] = await entries('MedicationRequest?_id=m-rx&_elements=status');
    assert.deepEqual(Object.keys(rx.resource).sort(), ['id', 'intent', 'medicationCodeableConcept', 'meta', 'resourceType', 'status', 'subject']);
    assert.equal(rx.resource.statusReason, undefined, 'statusReason is not status[x]');
    const [p] = await entries('Patient?_id=m1&_elements=birthDate,Patient.gender,Observation.code');
    assert.deepEqual(Object.keys(p.resource).sort(), ['_birthDate', 'birthDate', 'gender', 'id', 'meta', 'resourceType']);
    // _elements does not apply to included resources.
    const withInc = await entries('Observation?_id=m-o1&_elements=status&_include=Observation:subject');
    const incPatient = withInc.find((e) => e.search.mode === 'include').resource;
    assert.ok(incPatient.name && incPatient.text, 'included resource is whole');
    assert.equal(incPatient.meta.tag, undefined);
    const match = withInc.find((e) => e.search.mode === 'match').resource;
    assert.deepEqual(Object.keys(match).sort(), ['code', 'id', 'meta', 'resourceType', 'status']);
  });

  test('$everything: _count paging walks every resource once; _type and _since filter', async () => {
    const seen: string[] = [];
    let url: string | undefined = '/test/data/Patient/m1/$everything?_count=2';
    let pages = 0;
    while (url && pages < 10) {
      const b: any = (await call(h, { url, token: t })).json();
      assert.equal(b.total, 5);
      seen.push(...b.entry.map((e: any) => `${e.resource.resourceType}/${e.resource.id}`));
      if (pages > 0) assert.ok(b.link.some((l: any) => l.relation === 'previous'));
      url = b.link.find((l: any) => l.relation === 'next')?.url?.replace('http://fhir.test', '');
      pages++;
    }
    assert.equal(pages, 3);
    assert.deepEqual(seen.sort(), ['MedicationRequest/m-rx', 'Observation/m-o1', 'Observation/m-o2', 'Organization/m-org', 'Patient/m1']);
    const typed = (await call(h, { url: 'Patient/m1/$everything?_type=Observation,Organization', token: t })).json();
    assert.deepEqual(typed.entry.map((e: any) => e.resource.id).sort(), ['m-o1', 'm-o2', 'm-org']);
    const mark = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 5));
    await call(h, { method: 'PUT', url: 'Observation/m-o2', token: t, body: observation('m-o2', 'm1', '2222-3') });
    const since = (await call(h, { url: `Patient/m1/$everything?_since=${encodeURIComponent(mark)}`, token: t })).json();
    assert.deepEqual(
      since.entry.map((e: any) => e.resource.id),
      ['m-o2'],
    );
    assert.equal((await call(h, { url: 'Patient/m1/$everything?_type=Nope', token: t })).statusCode, 400);
  });

  test('CapabilityStatement: every searchable parameter, searchInclude and searchRevInclude per type', async () => {
    const cs = (await call(h, { url: 'metadata' })).json();
    const res = (type: string) => cs.rest[0].resource.find((r: any) => r.type === type);
    const obs = res('Observation');
    const names = obs.searchParam.map((p: any) => p.name);
    for (const n of ['_id', '_lastUpdated', '_tag', '_profile', '_security', '_source', 'code', 'patient', 'subject', 'value-quantity', 'combo-code-value-quantity']) assert.ok(names.includes(n), n);
    assert.ok(obs.searchInclude.includes('Observation:patient'));
    assert.ok(obs.searchRevInclude.includes('DiagnosticReport:result'));
    assert.ok(!obs.searchRevInclude.includes('Observation:patient'), 'Observation:patient points at Patient, not Observation');
    const pat = res('Patient');
    assert.ok(pat.searchRevInclude.includes('Observation:patient'));
    assert.ok(pat.searchRevInclude.includes('*'));
    assert.ok(!pat.searchRevInclude.some((s: string) => s.startsWith('AuditEvent:')));
    assert.equal(res('AuditEvent'), undefined, 'no audit source given to these routes');
  });

  // SQLite's planner (EXPLAIN QUERY PLAN); PostgreSQL picks its own plan from statistics.
  test('Observation?patient=X&code=Y without a patient grant drives from the value indexes, not a scan', { skip: TEST_BACKEND === 'postgres' ? 'SQLite query plan' : false }, async () => {
    const repo = h.fhir.repository(h.sandbox, { kind: 'token', grant: h.verifier.grants.get(t)! });
    for (const params of [
      [
        ['patient', 'm1'],
        ['code', '1111-1'],
      ],
      [
        ['patient', 'm1'],
        ['_count', '20'],
      ],
    ] as [string, string][][]) {
      const plan = (await repo.searchPlan(['Observation'], params));
      assert.ok(!plan.some((d) => /\bSCAN (r|resource)\b/.test(d)), plan.join(' | '));
      assert.match(plan[0], /^SEARCH r USING INTEGER PRIMARY KEY/, plan.join(' | '));
      assert.ok(plan.some((d) => /ix_ref_[vt]/.test(d)), plan.join(' | '));
    }
    // With a patient grant the compartment drives.
    const p = h.fhir.repository(h.sandbox, { kind: 'token', grant: { ...h.verifier.grants.get(t)!, scope: 'patient/*.rs', patient: 'm1' } });
    const plan = await p.searchPlan(['Observation'], [['code', '1111-1']]);
    assert.match(plan[0], /^SEARCH c USING COVERING INDEX compartment_v/, plan.join(' | '));
  });
});
