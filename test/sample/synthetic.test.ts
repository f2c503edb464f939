import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Resource } from '@medplum/fhirtypes';
import { syntheticResources } from '../../src/sample/synthetic.js';
import { collectReferences } from './fhir-checks.js';

const key = (r: Resource) => `${r.resourceType}/${r.id}`;

describe('syntheticResources', () => {
  test('yields exactly `count` resources, for small and large counts', () => {
    for (const n of [0, 1, 7, 40, 41, 2000]) {
      assert.equal([...syntheticResources(n)].length, n, `count ${n}`);
    }
  });

  test('100,000 resources: exact count, every id unique and well-formed', () => {
    const seen = new Set<string>();
    let n = 0;
    for (const r of syntheticResources(100_000, 7)) {
      n++;
      assert.ok(r.id && /^[A-Za-z0-9\-.]{1,64}$/.test(r.id), `bad id ${r.id}`);
      seen.add(key(r));
    }
    assert.equal(n, 100_000);
    assert.equal(seen.size, 100_000);
  });

  test('is deterministic per seed, and a smaller count is a prefix of a larger one', () => {
    const a = [...syntheticResources(1500, 42)];
    assert.deepEqual([...syntheticResources(1500, 42)], a);
    assert.deepEqual([...syntheticResources(600, 42)], a.slice(0, 600));
    // The default seed is stable too.
    assert.deepEqual([...syntheticResources(300)], [...syntheticResources(300, 1)]);
  });

  test('different seeds give different data with disjoint ids', () => {
    const a = [...syntheticResources(500, 1)];
    const b = [...syntheticResources(500, 2)];
    const ids = new Set(a.map(key));
    assert.ok(b.every((r) => !ids.has(key(r))));
    const patientA = a.find((r) => r.resourceType === 'Patient') as any;
    const patientB = b.find((r) => r.resourceType === 'Patient') as any;
    assert.notDeepEqual({ ...patientA, id: '' }, { ...patientB, id: '' });
  });

  test('shared resources come first, then records that start with their Patient; every reference points backwards', () => {
    const resources = [...syntheticResources(2000, 3)];
    const firstPatient = resources.findIndex((r) => r.resourceType === 'Patient');
    assert.ok(firstPatient > 0);
    assert.deepEqual(
      new Set(resources.slice(0, firstPatient).map((r) => r.resourceType)),
      new Set(['Organization', 'Practitioner', 'Medication']),
    );
    const seen = new Set<string>();
    let currentPatient = '';
    for (const r of resources) {
      if (r.resourceType === 'Patient') currentPatient = key(r);
      for (const ref of collectReferences(r)) {
        assert.ok(seen.has(ref), `${key(r)} refers to ${ref}, not yielded before it`);
        if (ref.startsWith('Patient/')) assert.equal(ref, currentPatient, `${key(r)} belongs to the current record`);
      }
      seen.add(key(r));
    }
    const kinds = new Set(resources.map((r) => r.resourceType));
    for (const t of ['Patient', 'Encounter', 'Observation', 'Condition', 'MedicationRequest', 'Immunization', 'AllergyIntolerance']) {
      assert.ok(kinds.has(t as Resource['resourceType']), `has ${t}`);
    }
  });

  test('rejects a negative or fractional count and a non-integer seed', () => {
    assert.throws(() => syntheticResources(-1).next(), RangeError);
    assert.throws(() => syntheticResources(1.5).next(), RangeError);
    assert.throws(() => syntheticResources(10, Number.NaN).next(), RangeError);
  });
});
