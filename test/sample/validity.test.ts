import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Resource } from '@medplum/fhirtypes';
import { core, ensureStructures } from '../../src/fhir/medplum.js';
import { demoBundle } from '../../src/sample/demo.js';
import { syntheticResources } from '../../src/sample/synthetic.js';
import { requiredBindingProblems } from './fhir-checks.js';

/** Medplum's structural validation (throws OperationOutcomeError on errors; returns warnings). */
function structuralProblems(r: Resource): string[] {
  try {
    return core.validateResource(r).map((i) => `${i.severity}: ${i.details?.text ?? i.diagnostics}`);
  } catch (err) {
    const issues: { details?: { text?: string }; expression?: string[] }[] = (err as any).outcome?.issue ?? [{ details: { text: String(err) } }];
    return issues.map((i) => `${i.expression?.join(',') ?? ''} ${i.details?.text ?? ''}`);
  }
}

function assertAllValid(resources: Resource[]): void {
  ensureStructures();
  const failures: string[] = [];
  for (const r of resources) {
    for (const p of [...structuralProblems(r), ...requiredBindingProblems(r)]) failures.push(`${r.resourceType}/${r.id}: ${p}`);
  }
  assert.deepEqual(failures.slice(0, 20), [], `${failures.length} problems`);
}

describe('sample data is valid FHIR R4', () => {
  test('the checks reject invalid resources (negative control)', () => {
    ensureStructures();
    assert.ok(structuralProblems({ resourceType: 'Observation', code: { text: 'x' } } as Resource).length > 0, 'missing status');
    assert.ok(structuralProblems({ resourceType: 'Patient', birthDate: '2018-03-04T07:00:00.000Z' } as Resource).length > 0);
    assert.ok(structuralProblems({ resourceType: 'Patient', extension: [{ url: 'x', valueDateTime: '2018-03-04T00:00' }] } as Resource).length > 0);
    const bad: Record<string, unknown>[] = [
      { resourceType: 'Observation', status: 'done', code: { text: 'x' } },
      { resourceType: 'Patient', gender: 'boy' },
      { resourceType: 'Patient', telecom: [{ system: 'beeper', value: '1' }] },
      { resourceType: 'Encounter', status: 'completed', class: { code: 'AMB' } },
      {
        resourceType: 'Condition',
        clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'cured' }] },
        subject: { reference: 'Patient/x' },
      },
      {
        resourceType: 'AllergyIntolerance',
        clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
        patient: { reference: 'Patient/x' },
      },
      { resourceType: 'Immunization', status: 'given', vaccineCode: { text: 'x' }, patient: { reference: 'Patient/x' } },
      {
        resourceType: 'MedicationRequest',
        status: 'active',
        intent: 'prescription',
        subject: { reference: 'Patient/x' },
        dosageInstruction: [{ timing: { repeat: { frequency: 1, period: 1, periodUnit: 'day' } } }],
      },
    ];
    for (const r of bad) {
      assert.ok(requiredBindingProblems(r as any).length > 0, `binding check missed ${JSON.stringify(r)}`);
    }
  });

  test('every resource of demoBundle() (and the Bundle itself) validates, with required bindings honoured', () => {
    const bundle = demoBundle();
    assertAllValid([bundle, ...bundle.entry!.map((e) => e.resource!)]);
  });

  test('every resource of syntheticResources(2000) validates, with required bindings honoured', () => {
    assertAllValid([...syntheticResources(2000)]);
  });

  test('statuses set by hand are the expected codes', () => {
    const all = [...demoBundle().entry!.map((e) => e.resource!), ...syntheticResources(2000)] as any[];
    const statuses = (type: string, get: (r: any) => unknown) => new Set(all.filter((r) => r.resourceType === type).map(get));
    assert.deepEqual(statuses('Observation', (r) => r.status), new Set(['final']));
    assert.deepEqual(statuses('Encounter', (r) => r.status), new Set(['finished']));
    assert.deepEqual(statuses('Immunization', (r) => r.status), new Set(['completed']));
    assert.deepEqual(statuses('MedicationRequest', (r) => r.intent), new Set(['order']));
    assert.deepEqual(statuses('MedicationRequest', (r) => r.status), new Set(['active', 'completed']));
    assert.deepEqual(statuses('Condition', (r) => r.clinicalStatus.coding[0].code), new Set(['active', 'resolved']));
    assert.deepEqual(statuses('AllergyIntolerance', (r) => r.verificationStatus.coding[0].code), new Set(['confirmed']));
    assert.deepEqual(statuses('Patient', (r) => r.gender), new Set(['male', 'female']));
  });
});
