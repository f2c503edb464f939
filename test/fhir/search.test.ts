/** Search (R4 §3.1.1): parameter types, modifiers, prefixes, chains, _has, includes, paging, result params. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ALL, call, type Harness, harness, observation, patient } from './helpers.js';

describe('search', () => {
  let h: Harness;
  let t: string;
  const ids = async (url: string, headers?: Record<string, string>) => {
    const r = await call(h, { url, token: t, headers });
    assert.equal(r.statusCode, 200, `${url}: ${r.body.slice(0, 300)}`);
    return (r.json().entry ?? []).filter((e: any) => e.search?.mode === 'match').map((e: any) => e.resource.id).sort();
  };
  before(async () => {
    h = await harness();
    t = h.token(ALL);
    const put = async (r: any) => {
      const res = await call(h, { method: 'PUT', url: `${r.resourceType}/${r.id}`, token: t, body: r });
      assert.ok(res.statusCode < 300, res.body);
    };
    await put({ resourceType: 'Organization', id: 'org1', name: 'Good Health Clinic' });
    await put(patient('s1', 'Müller', { name: [{ family: 'Müller', given: ['Hans', 'Peter'] }], gender: 'male', birthDate: '1980-02-10', managingOrganization: { reference: 'Organization/org1' }, identifier: [{ system: 'urn:mrn', value: 'M1' }] }));
    await put(patient('s2', 'Smith', { birthDate: '1995-07-01', identifier: [{ system: 'urn:mrn', value: 'M2' }], address: [{ city: 'Boston', line: ['1 Main St'] }] }));
    await put(patient('s3', 'Smithers', { birthDate: '2001', active: true }));
    await put(observation('so1', 's1', '58941-6', { effectiveDateTime: '2024-01-05T08:00:00Z', valueQuantity: { value: 5.4, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' } }));
    await put(observation('so2', 's1', '58941-6', { effectiveDateTime: '2024-01-06T08:00:00Z', valueQuantity: { value: 12, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' } }));
    await put(observation('so3', 's2', '8867-4', { effectiveDateTime: '2023-12-31', valueQuantity: { value: 80, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' }, meta: { tag: [{ system: 'urn:tags', code: 'demo' }] } }));
    await put(
      observation('bp1', 's2', '85354-9', {
        valueQuantity: undefined,
        component: [
          { code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] }, valueQuantity: { value: 120, system: 'http://unitsofmeasure.org', code: 'mm[Hg]', unit: 'mmHg' } },
          { code: { coding: [{ system: 'http://loinc.org', code: '8462-4' }] }, valueQuantity: { value: 80, system: 'http://unitsofmeasure.org', code: 'mm[Hg]', unit: 'mmHg' } },
        ],
      }),
    );
  });
  after(() => h.close());

  test('_id, _lastUpdated, patient, subject, code, date, name, identifier', async () => {
    assert.deepEqual(await ids('Patient?_id=s1,s3'), ['s1', 's3']);
    assert.deepEqual(await ids('Patient?_lastUpdated=gt2000-01-01'), ['s1', 's2', 's3']);
    assert.deepEqual(await ids('Patient?_lastUpdated=lt2000-01-01'), []);
    assert.deepEqual(await ids('Observation?patient=s1'), ['so1', 'so2']);
    assert.deepEqual(await ids('Observation?patient=Patient/s1'), ['so1', 'so2']);
    assert.deepEqual(await ids('Observation?subject=http://fhir.test/test/data/Patient/s2'), ['bp1', 'so3']);
    assert.deepEqual(await ids('Observation?subject:Patient=s2'), ['bp1', 'so3']);
    assert.deepEqual(await ids('Observation?code=http://loinc.org|58941-6'), ['so1', 'so2']);
    assert.deepEqual(await ids('Observation?code=58941-6,8867-4'), ['so1', 'so2', 'so3']);
    assert.deepEqual(await ids('Observation?code=http://other|58941-6'), []);
    assert.deepEqual(await ids('Observation?code=Bilirubin'), [], 'display text is not a code');
    assert.deepEqual(await ids('Observation?code:text=bilirubin&patient=s1'), ['so1', 'so2']);
    assert.deepEqual(await ids('Observation?date=2024-01-05'), ['so1']);
    assert.deepEqual(await ids('Observation?date=ge2024-01-06&date=lt2025'), ['bp1', 'so2']);
    assert.deepEqual(await ids('Observation?date=2024-01'), ['so1', 'so2']);
    assert.deepEqual(await ids('Observation?date=sa2024-01-05T09:00:00Z'), ['bp1', 'so2']);
    assert.deepEqual(await ids('Observation?date=eb2024'), ['so3']);
    assert.deepEqual(await ids('Patient?name=mul'), ['s1'], 'accent-insensitive prefix');
    assert.deepEqual(await ids('Patient?name=pet'), ['s1'], 'each name part is matched');
    assert.deepEqual(await ids('Patient?family=smith'), ['s2', 's3']);
    assert.deepEqual(await ids('Patient?family:exact=Smith'), ['s2']);
    assert.deepEqual(await ids('Patient?family:contains=mithe'), ['s3']);
    assert.deepEqual(await ids('Patient?address-city=bos'), ['s2']);
    assert.deepEqual(await ids('Patient?identifier=urn:mrn|M2'), ['s2']);
    assert.deepEqual(await ids('Patient?identifier=M1'), ['s1']);
    assert.deepEqual(await ids('Patient?birthdate=2001'), ['s3']);
    assert.deepEqual(await ids('Patient?birthdate=ge1990&birthdate=le2000-12-31'), ['s2']);
    assert.deepEqual(await ids('Patient?gender=male'), ['s1']);
    assert.deepEqual(await ids('Patient?gender:not=male'), ['s2', 's3']);
    assert.deepEqual(await ids('Patient?active=true'), ['s3']);
    assert.deepEqual(await ids('Patient?active:missing=true'), ['s1', 's2']);
    assert.deepEqual(await ids('Patient?address:missing=false'), ['s2']);
  });

  test('quantity, number-ish prefixes, composite, uri, _tag', async () => {
    assert.deepEqual(await ids('Observation?value-quantity=gt10'), ['so2', 'so3']);
    assert.deepEqual(await ids('Observation?value-quantity=5.4'), ['so1']);
    assert.deepEqual(await ids('Observation?value-quantity=5.4|http://unitsofmeasure.org|mg/dL'), ['so1']);
    assert.deepEqual(await ids('Observation?value-quantity=5.4||kg'), []);
    assert.deepEqual(await ids('Observation?value-quantity=ap12'), ['so2']);
    assert.deepEqual(await ids('Observation?component-code-value-quantity=http://loinc.org|8480-6$gt100'), ['bp1']);
    // Composite rows keep components paired: systolic code with the diastolic value does not match.
    assert.deepEqual(await ids('Observation?component-code-value-quantity=8480-6$80'), []);
    assert.deepEqual(await ids('Observation?code-value-quantity=58941-6$lt6'), ['so1']);
    assert.deepEqual(await ids('Observation?_tag=urn:tags|demo'), ['so3']);
    assert.deepEqual(await ids('Observation?combo-code=8462-4'), ['bp1']);
  });

  test('chains, _has, reference :identifier', async () => {
    assert.deepEqual(await ids('Observation?subject:Patient.name=smith'), ['bp1', 'so3']);
    assert.deepEqual(await ids('Observation?patient.organization.name=good'), ['so1', 'so2']);
    assert.deepEqual(await ids('Patient?_has:Observation:patient:code=8867-4'), ['s2']);
    assert.deepEqual(await ids('Patient?_has:Observation:subject:value-quantity=gt10&_has:Observation:subject:code=58941-6'), ['s1']);
    assert.equal((await call(h, { url: 'Patient?_has:Observation:subject:_has:Observation:subject:code=1', token: t })).statusCode, 400);
    await call(h, { method: 'PUT', url: 'Observation/ident', token: t, body: observation('ident', 'x', '1', { subject: { identifier: { system: 'urn:mrn', value: 'M9' } } }) });
    assert.deepEqual(await ids('Observation?subject:identifier=urn:mrn|M9'), ['ident']);
  });

  test('_include, _revinclude (:iterate), _sort, paging links stable, _total, _summary, _elements', async () => {
    const inc = (await call(h, { url: 'Observation?patient=s1&_include=Observation:patient&_include:iterate=Patient:organization', token: t })).json();
    const modes = inc.entry.map((e: any) => `${e.search.mode}:${e.resource.resourceType}/${e.resource.id}`).sort();
    assert.deepEqual(modes, ['include:Organization/org1', 'include:Patient/s1', 'match:Observation/so1', 'match:Observation/so2']);
    const rev = (await call(h, { url: 'Patient?_id=s1&_revinclude=Observation:subject', token: t })).json();
    assert.equal(rev.entry.filter((e: any) => e.search.mode === 'include').length, 2);
    const sorted = (await call(h, { url: 'Observation?code=58941-6,8867-4&_sort=-date', token: t })).json();
    assert.deepEqual(
      sorted.entry.map((e: any) => e.resource.id),
      ['so2', 'so1', 'so3'],
    );
    const byName = (await call(h, { url: 'Patient?_sort=family', token: t })).json();
    assert.deepEqual(
      byName.entry.map((e: any) => e.resource.id),
      ['s1', 's2', 's3'],
    );
    // Paging: walk next links; every id once.
    const seen: string[] = [];
    let url: string | undefined = '/test/data/Observation?_count=2&_sort=_id';
    let pages = 0;
    while (url && pages < 10) {
      const page: any = (await call(h, { url, token: t })).json();
      seen.push(...(page.entry ?? []).map((e: any) => e.resource.id));
      assert.ok(page.link.some((l: any) => l.relation === 'self'));
      url = page.link.find((l: any) => l.relation === 'next')?.url?.replace('http://fhir.test', '');
      pages++;
    }
    assert.equal(new Set(seen).size, seen.length);
    assert.ok(seen.length >= 4);
    const second = (await call(h, { url: '/test/data/Observation?_count=2&_sort=_id&_offset=2', token: t })).json();
    assert.ok(second.link.some((l: any) => l.relation === 'previous'));
    const total = (await call(h, { url: 'Observation?_count=1&_total=accurate', token: t })).json();
    assert.ok(total.total >= 4);
    assert.equal(total.entry.length, 1);
    const count = (await call(h, { url: 'Observation?_summary=count', token: t })).json();
    assert.ok(count.total >= 4);
    assert.equal(count.entry, undefined);
    const summary = (await call(h, { url: 'Patient?_id=s2&_summary=true', token: t })).json().entry[0].resource;
    assert.ok(summary.name && summary.birthDate);
    assert.ok(summary.meta.tag.some((x: any) => x.code === 'SUBSETTED'));
    const el = (await call(h, { url: 'Patient?_id=s2&_elements=gender', token: t })).json().entry[0].resource;
    assert.equal(el.gender, 'female');
    assert.equal(el.name, undefined);
  });

  test('POST _search with a form body; system search with _type', async () => {
    const r = await call(h, { method: 'POST', url: 'Observation/_search', token: t, body: 'patient=s1&code=58941-6', contentType: 'application/x-www-form-urlencoded' });
    assert.equal(r.statusCode, 200);
    assert.equal(r.json().entry.length, 2);
    const sys = await ids('/test/data?_type=Patient,Organization&_id=s1,org1');
    assert.deepEqual(sys, ['org1', 's1']);
  });

  test('unknown params: reported (lenient) or 400 (strict); bad values and modifiers → 400', async () => {
    const lenient = (await call(h, { url: 'Patient?foo=bar&family=smith', token: t })).json();
    const oo = lenient.entry.find((e: any) => e.search.mode === 'outcome');
    assert.match(oo.resource.issue[0].diagnostics, /foo=bar/);
    assert.equal(lenient.entry.filter((e: any) => e.search.mode === 'match').length, 2);
    const strict = await call(h, { url: 'Patient?foo=bar', token: t, headers: { prefer: 'handling=strict' } });
    assert.equal(strict.statusCode, 400);
    assert.match(strict.json().issue[0].diagnostics, /foo/);
    for (const q of ['Patient?birthdate=2020-13', 'Observation?code:below=123', 'Observation?code:above=123', 'Observation?value-quantity=big', 'Patient?_count=x', 'Patient?_total=maybe', 'Patient?_include=Nope:x', 'Patient?active:missing=maybe']) {
      const r = await call(h, { url: q, token: t });
      assert.equal(r.statusCode, 400, q);
      assert.equal(r.json().resourceType, 'OperationOutcome');
    }
  });
});
