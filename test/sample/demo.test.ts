import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type {
  AllergyIntolerance,
  Condition,
  Encounter,
  Group,
  Immunization,
  MedicationRequest,
  Observation,
  Patient,
  Practitioner,
  Resource,
} from '@medplum/fhirtypes';
import { DEMO_PRACTITIONER_ID, demoBundle } from '../../src/sample/demo.js';
import { collectReferences } from './fhir-checks.js';

const bundle = demoBundle();
const resources = bundle.entry!.map((e) => e.resource!) as Resource[];
const ofType = <T extends Resource>(type: T['resourceType']) => resources.filter((r) => r.resourceType === type) as T[];
const key = (r: Resource) => `${r.resourceType}/${r.id}`;
const codesOf = (type: 'Observation' | 'Condition', system: string) =>
  new Set(ofType<Observation | Condition>(type).flatMap((r) => (r.code?.coding ?? []).filter((c) => c.system === system).map((c) => c.code)));

/** NPI check digit (Luhn over "80840" + the first 9 digits), as CMS specifies. */
function validNpi(npi: string): boolean {
  if (!/^\d{10}$/.test(npi)) return false;
  const digits = `80840${npi}`;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

describe('demoBundle', () => {
  test('is deterministic: two calls are deep-equal', () => {
    assert.deepEqual(demoBundle(), bundle);
  });

  test('is a transaction of PUT entries whose url is Type/id of the resource, each id unique', () => {
    assert.equal(bundle.resourceType, 'Bundle');
    assert.equal(bundle.type, 'transaction');
    const seen = new Set<string>();
    for (const e of bundle.entry!) {
      assert.equal(e.request?.method, 'PUT');
      assert.equal(e.request?.url, key(e.resource!));
      assert.match(e.resource!.id!, /^[A-Za-z0-9\-.]{1,64}$/);
      assert.ok(!seen.has(key(e.resource!)), `duplicate ${key(e.resource!)}`);
      seen.add(key(e.resource!));
    }
  });

  test('every reference is Type/id and points at a resource in the bundle', () => {
    const ids = new Set(resources.map(key));
    const refs = collectReferences(resources);
    assert.ok(refs.length > resources.length, 'clinical resources reference their patient');
    for (const ref of refs) {
      assert.match(ref, /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/);
      assert.ok(ids.has(ref), `dangling reference ${ref}`);
    }
  });

  test('has at least 21 patients including BILIBABY, with ages spread over 0–95 years and realistic demographics', () => {
    const patients = ofType<Patient>('Patient');
    assert.ok(patients.length >= 21, `${patients.length} patients`);
    assert.ok(patients.some((p) => p.id === 'BILIBABY'));
    const others = patients.filter((p) => p.id !== 'BILIBABY');
    const ages = others.map((p) => (Date.parse('2025-06-01') - Date.parse(p.birthDate!)) / (365.25 * 86_400_000));
    assert.ok(Math.min(...ages) < 2, `youngest ${Math.min(...ages)}`);
    assert.ok(Math.max(...ages) > 85 && Math.max(...ages) <= 96, `oldest ${Math.max(...ages)}`);
    assert.ok(new Set(others.map((p) => p.name![0]!.family)).size >= 12, 'varied family names');
    assert.ok(new Set(others.map((p) => p.gender)).size === 2);
    for (const p of others) {
      assert.match(p.birthDate!, /^\d{4}-\d{2}-\d{2}$/);
      assert.ok(p.name![0]!.given!.length >= 1 && p.name![0]!.family);
      assert.ok(p.address![0]!.city && p.address![0]!.postalCode);
      assert.ok(p.telecom!.some((t) => t.system === 'phone'));
      assert.ok(p.identifier!.some((i) => i.system?.startsWith('http://example.org/') && i.value));
      assert.ok(p.maritalStatus?.coding?.[0]?.code);
    }
    // The bilirubin app's sample patient list names SMART-1288992 next to BILIBABY.
    assert.ok(patients.some((p) => p.id === 'SMART-1288992'));
  });

  test('the Group lists exactly all demo patients', () => {
    const [group, ...more] = ofType<Group>('Group');
    assert.equal(more.length, 0);
    assert.equal(group!.type, 'person');
    assert.equal(group!.actual, true);
    assert.deepEqual(
      group!.member!.map((m) => m.entity.reference).sort(),
      ofType<Patient>('Patient').map(key).sort(),
    );
    assert.equal(group!.quantity, group!.member!.length);
  });

  test('DEMO_PRACTITIONER_ID is a Practitioner with a valid NPI who sees patients', () => {
    const practitioners = ofType<Practitioner>('Practitioner');
    assert.ok(practitioners.length >= 2);
    for (const p of practitioners) {
      const npi = p.identifier!.find((i) => i.system === 'http://hl7.org/fhir/sid/us-npi');
      assert.ok(npi && validNpi(npi.value!), `${p.id} NPI ${npi?.value}`);
      assert.ok(p.name![0]!.family);
    }
    assert.ok(practitioners.some((p) => p.id === DEMO_PRACTITIONER_ID));
    const target = `Practitioner/${DEMO_PRACTITIONER_ID}`;
    assert.ok(ofType<Patient>('Patient').some((p) => p.generalPractitioner?.[0]?.reference === target));
    assert.ok(ofType<Encounter>('Encounter').some((e) => e.participant?.some((pa) => pa.individual?.reference === target)));
    assert.ok(ofType('Organization').length >= 1);
  });

  test('observations include the vital signs and labs with LOINC codes, UCUM units and categories', () => {
    const loinc = codesOf('Observation', 'http://loinc.org');
    for (const code of ['8302-2', '29463-7', '8867-4', '85354-9', '8310-5', '2345-7', '4548-4', '2093-3']) {
      assert.ok(loinc.has(code), `LOINC ${code}`);
    }
    for (const o of ofType<Observation>('Observation')) {
      const cat = o.category?.[0]?.coding?.[0];
      assert.equal(cat?.system, 'http://terminology.hl7.org/CodeSystem/observation-category');
      assert.ok(cat?.code === 'vital-signs' || cat?.code === 'laboratory');
      const quantities = o.valueQuantity ? [o.valueQuantity] : (o.component ?? []).map((c) => c.valueQuantity!);
      assert.ok(quantities.length > 0, `${o.id} has a value`);
      for (const q of quantities) {
        assert.equal(q.system, 'http://unitsofmeasure.org');
        assert.ok(q.code && typeof q.value === 'number' && Number.isFinite(q.value));
      }
    }
    const bp = ofType<Observation>('Observation').find((o) => o.code.coding?.[0]?.code === '85354-9')!;
    assert.deepEqual(
      bp.component!.map((c) => c.code.coding![0]!.code),
      ['8480-6', '8462-4'],
    );
    assert.equal(bp.valueQuantity, undefined);
  });

  test('conditions, medications, allergies and immunizations use SNOMED, RxNorm and CVX', () => {
    const conditions = ofType<Condition>('Condition');
    assert.ok(conditions.length >= 20);
    assert.ok(conditions.every((c) => c.code?.coding?.[0]?.system === 'http://snomed.info/sct'));
    assert.ok(conditions.some((c) => c.clinicalStatus?.coding?.[0]?.code === 'resolved' && c.abatementDateTime));
    for (const m of ofType('Medication')) {
      assert.equal((m as any).code.coding[0].system, 'http://www.nlm.nih.gov/research/umls/rxnorm');
    }
    const requests = ofType<MedicationRequest>('MedicationRequest');
    assert.ok(requests.length >= 10);
    assert.ok(requests.every((r) => r.intent === 'order' && (r.status === 'active' || r.status === 'completed')));
    assert.ok(requests.every((r) => r.medicationReference?.reference?.startsWith('Medication/')));
    assert.ok(ofType<AllergyIntolerance>('AllergyIntolerance').length >= 1);
    const imms = ofType<Immunization>('Immunization');
    assert.ok(imms.length >= 10);
    assert.ok(imms.every((i) => i.status === 'completed' && i.vaccineCode.coding?.[0]?.system === 'http://hl7.org/fhir/sid/cvx'));
  });

  test('nothing happens after the data set date or before the patient was born', () => {
    const born = new Map(ofType<Patient>('Patient').map((p) => [key(p), Date.parse(p.birthDate!)]));
    const end = Date.parse('2025-06-01T00:00:00Z');
    for (const e of ofType<Encounter>('Encounter')) {
      const start = Date.parse(e.period!.start!);
      assert.ok(start >= born.get(e.subject!.reference!)!, `${e.id} before birth`);
      assert.ok(Date.parse(e.period!.end!) <= end && start <= Date.parse(e.period!.end!), `${e.id} period`);
    }
  });
});
