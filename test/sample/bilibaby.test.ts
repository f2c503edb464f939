import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Observation, Patient } from '@medplum/fhirtypes';
import { bilibabyResources } from '../../src/sample/bilibaby.js';
import { demoBundle } from '../../src/sample/demo.js';

// docs/hspc-compatibility.md §2, table of the 8 transcutaneous bilirubin readings.
const EXPECTED: [string, string, number][] = [
  ['BILIBABY-OBS2', '2018-03-04T15:12:00.000Z', 7],
  ['BILIBABY-OBS4', '2018-03-05T00:06:00.000Z', 9],
  ['BILIBABY-OBS10', '2018-03-05T04:30:00.000Z', 10.7],
  ['BILIBABY-OBS5', '2018-03-05T13:36:00.000Z', 11.9],
  ['BILIBABY-OBS7', '2018-03-06T03:18:00.000Z', 11.4],
  ['BILIBABY-OBS3', '2018-03-06T15:06:00.000Z', 12.9],
  ['BILIBABY-OBS8', '2018-03-07T03:18:00.000Z', 11.5],
  ['BILIBABY-OBS9', '2018-03-08T03:18:00.000Z', 11],
];

describe('BILIBABY', () => {
  test('the patient is Baby Bili, male, born 2018-03-04 with a birthTime extension the chart app reads', () => {
    const [patient, ...rest] = bilibabyResources() as [Patient, ...Observation[]];
    assert.equal(rest.length, 8);
    assert.equal(patient.resourceType, 'Patient');
    assert.equal(patient.id, 'BILIBABY');
    assert.equal(patient.active, true);
    assert.equal(patient.gender, 'male');
    assert.equal(patient.birthDate, '2018-03-04');
    assert.deepEqual(patient.name, [{ family: 'Bili', given: ['Baby'] }]);
    assert.deepEqual(patient.extension, [
      { url: 'http://hl7.org/fhir/StructureDefinition/patient-birthTime', valueDateTime: '2018-03-04T00:00:00Z' },
    ]);
    // A FHIR dateTime with hours must carry a timezone.
    assert.match(patient.extension![0]!.valueDateTime!, /T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
  });

  test('the eight observations have exactly the ids, times and values of the HSPC bundle', () => {
    const obs = bilibabyResources().slice(1) as Observation[];
    assert.deepEqual(
      obs.map((o) => [o.id, o.effectiveDateTime, o.valueQuantity?.value]),
      EXPECTED,
    );
    for (const o of obs) {
      assert.equal(o.status, 'final');
      assert.deepEqual(o.code.coding, [{ system: 'http://loinc.org', code: '58941-6', display: 'Transcutaneous Bilirubin' }]);
      assert.deepEqual(o.valueQuantity, {
        value: o.valueQuantity!.value,
        unit: 'mg/dL',
        system: 'http://unitsofmeasure.org',
        code: 'mg/dL',
      });
      assert.deepEqual(o.subject, { reference: 'Patient/BILIBABY' });
      assert.equal(o.category?.[0]?.coding?.[0]?.system, 'http://terminology.hl7.org/CodeSystem/observation-category');
      assert.equal(o.category?.[0]?.coding?.[0]?.code, 'laboratory');
      // The app keeps readings at or after the birth time.
      assert.ok(Date.parse(o.effectiveDateTime!) >= Date.parse('2018-03-04T00:00:00Z'));
    }
  });

  test('the demo bundle carries BILIBABY and exactly its 8 bilirubin observations, unchanged', () => {
    const resources = demoBundle().entry!.map((e) => e.resource!);
    const bili = bilibabyResources();
    for (const r of bili) {
      assert.deepEqual(
        resources.find((x) => x.resourceType === r.resourceType && x.id === r.id),
        r,
      );
    }
    const bilirubin = resources.filter(
      (r): r is Observation => r.resourceType === 'Observation' && r.code.coding?.some((c) => c.code === '58941-6') === true,
    );
    assert.deepEqual(bilirubin.map((o) => o.id).sort(), EXPECTED.map((e) => e[0]).sort());
  });

  test('each call returns fresh objects (callers may mutate them safely)', () => {
    const a = bilibabyResources();
    (a[1] as Observation).status = 'amended';
    assert.equal((bilibabyResources()[1] as Observation).status, 'final');
  });
});
