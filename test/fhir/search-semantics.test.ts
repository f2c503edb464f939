/**
 * Issue 12, search semantics (R4 §3.1.1): `_count=0` is `_summary=count`; number and quantity
 * ranges are half-open and computed in decimal (§3.1.1.4.2 "the value ± half the precision");
 * token codes of case-insensitive code systems (LOINC) match ignoring case; the modifiers the
 * README lists as unsupported are refused, not ignored.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decimalRange } from '../../src/fhir/search/values.js';
import { ALL, call, type Harness, harness, observation, patient } from './helpers.js';

describe('search semantics', () => {
  let h: Harness;
  let t: string;
  const search = async (url: string) => {
    const r = await call(h, { url, token: t });
    assert.equal(r.statusCode, 200, `${url}: ${r.body.slice(0, 300)}`);
    return r.json();
  };
  const ids = async (url: string) => ((await search(url)).entry ?? []).filter((e: any) => e.search?.mode === 'match').map((e: any) => e.resource.id).sort();

  before(async () => {
    h = await harness();
    t = h.token(ALL);
    const put = async (r: any) => {
      const res = await call(h, { method: 'PUT', url: `${r.resourceType}/${r.id}`, token: t, body: r });
      assert.ok(res.statusCode < 300, res.body);
    };
    await put(patient('ss-p'));
    const risk = (id: string, probability: number) => ({
      resourceType: 'RiskAssessment',
      id,
      status: 'final',
      subject: { reference: 'Patient/ss-p' },
      prediction: [{ probabilityDecimal: probability }],
    });
    for (const [id, p] of [
      ['r-075', 0.75],
      ['r-080', 0.8],
      ['r-0849', 0.849],
      ['r-085', 0.85],
      ['r-10', 10],
      ['r-15', 15],
    ] as const) {
      await put(risk(id, p));
    }
    const qty = (id: string, value: number) => observation(id, 'ss-p', '2339-0', { valueQuantity: { value, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' } });
    for (const [id, v] of [
      ['q-005', 0.05],
      ['q-010', 0.1],
      ['q-0149', 0.149],
      ['q-015', 0.15],
    ] as const) {
      await put(qty(id, v));
    }
    await put(observation('loinc-part', 'ss-p', 'LP14082-9'));
    await put(
      observation('other-system', 'ss-p', 'x', {
        code: { coding: [{ system: 'http://acme.example/codes', code: 'ABC' }] },
      }),
    );
  });
  after(() => h.close());

  test('decimal ranges: exact bounds, not binary sums', () => {
    assert.deepEqual(decimalRange('0.8'), { lo: 0.75, hi: 0.85 });
    assert.deepEqual(decimalRange('0.1'), { lo: 0.05, hi: 0.15 });
    assert.deepEqual(decimalRange('100'), { lo: 99.5, hi: 100.5 });
    assert.deepEqual(decimalRange('1e2'), { lo: 50, hi: 150 });
    assert.deepEqual(decimalRange('-0.8'), { lo: -0.85, hi: -0.75 });
    assert.deepEqual(decimalRange('2.50'), { lo: 2.495, hi: 2.505 });
  });

  test('number: probability=0.8 is [0.75, 0.85) — 0.85 does not match, 0.75 and 0.849 do', async () => {
    assert.deepEqual(await ids('RiskAssessment?probability=0.8'), ['r-075', 'r-080', 'r-0849']);
    assert.deepEqual(await ids('RiskAssessment?probability=0.85'), ['r-0849', 'r-085']);
    assert.deepEqual(await ids('RiskAssessment?probability=0.80'), ['r-080']);
    assert.deepEqual(await ids('RiskAssessment?probability=1e1'), ['r-10']);
    assert.deepEqual(await ids('RiskAssessment?probability=ne0.8'), ['r-085', 'r-10', 'r-15']);
  });

  test('quantity: value-quantity=0.1 is [0.05, 0.15) — 0.15 does not match', async () => {
    assert.deepEqual(await ids('Observation?value-quantity=0.1'), ['q-005', 'q-010', 'q-0149']);
    assert.deepEqual(await ids('Observation?value-quantity=0.1|http://unitsofmeasure.org|mg/dL'), ['q-005', 'q-010', 'q-0149']);
    assert.deepEqual(await ids('Observation?value-quantity=0.15'), ['q-0149', 'q-015']);
    assert.deepEqual(await ids('Observation?value-quantity=0.10'), ['q-010']);
  });

  test('_count=0 behaves like _summary=count: the total, no entries', async () => {
    for (const url of ['Observation?_count=0', 'Observation?_summary=count', 'Observation?code=2339-0&_count=0']) {
      const b = await search(url);
      assert.equal(b.entry, undefined, url);
      assert.equal(b.total, url.includes('code=') ? 4 : 6, `${url}: ${JSON.stringify(b)}`);
    }
    const none = await search('Observation?_count=0&_total=none');
    assert.equal(none.total, undefined);
    assert.equal(none.entry, undefined);
  });

  test('token: LOINC codes match ignoring case when the system is given; other systems keep case', async () => {
    assert.deepEqual(await ids('Observation?code=http://loinc.org|lp14082-9'), ['loinc-part']);
    assert.deepEqual(await ids('Observation?code=http://loinc.org|Lp14082-9'), ['loinc-part']);
    assert.deepEqual(await ids('Observation?code=http://loinc.org|LP14082-9'), ['loinc-part']);
    assert.deepEqual(await ids('Observation?code:not=http://loinc.org|lp14082-9&subject=Patient/ss-p&code=LP14082-9'), []);
    // Case-sensitive systems, and codes searched without a system, match exactly.
    assert.deepEqual(await ids('Observation?code=http://acme.example/codes|abc'), []);
    assert.deepEqual(await ids('Observation?code=http://acme.example/codes|ABC'), ['other-system']);
    assert.deepEqual(await ids('Observation?code=lp14082-9'), []);
  });

  test('unsupported token modifiers are refused with an OperationOutcome, not ignored', async () => {
    for (const m of ['in', 'not-in', 'below', 'above', 'of-type']) {
      const r = await call(h, { url: `Observation?code:${m}=http://loinc.org|2339-0`, token: t });
      assert.ok(r.statusCode >= 400 && r.statusCode < 500, `:${m} → ${r.statusCode}`);
      assert.equal(r.json().resourceType, 'OperationOutcome');
      assert.match(r.json().issue[0].diagnostics, new RegExp(`:${m}`));
    }
  });
});
