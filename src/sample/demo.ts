/**
 * The demo sandbox's data: BILIBABY (docs/hspc-compatibility.md §2) plus a small realistic population, as
 * one R4 transaction Bundle of PUT entries with fixed ids (loading it twice leaves the same data).
 */
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { bilibabyResources } from './bilibaby.js';
import { SAMPLE_NOW_MS } from './build/fhir.js';
import { buildMedications, buildOrganization, buildPatientGroup, buildPractitioner } from './build/people.js';
import { type IdKind, patientRecord } from './build/record.js';
import { Rng } from './prng.js';

const SEED = 20_180_304;
const ORGANIZATIONS = 3;
const PRACTITIONERS = 8;
const PATIENTS = 24;
/** Ids the bilirubin app (`samplePatients`) and HSPC persona examples name (§5); the rest follow the same pattern. */
const KNOWN_PATIENT_IDS = ['SMART-1288992', 'SMART-1213208'];

/** A Practitioner of the demo data (the general practitioner of several patients), for the practitioner persona. */
export const DEMO_PRACTITIONER_ID = 'demo-practitioner-01';
export const DEMO_GROUP_ID = 'demo-patients';

function demoResources(): Resource[] {
  const rng = new Rng(SEED);
  const organizations = Array.from({ length: ORGANIZATIONS }, (_, i) => buildOrganization(rng, `demo-org-${i + 1}`, i));
  const practitioners = Array.from({ length: PRACTITIONERS }, (_, i) =>
    buildPractitioner(rng, `demo-practitioner-${String(i + 1).padStart(2, '0')}`),
  );
  const medications = buildMedications((rx) => `rxnorm-${rx}`);

  const patientIds = [...KNOWN_PATIENT_IDS];
  while (patientIds.length < PATIENTS) {
    const id = `SMART-${rng.int(1_000_000, 9_999_999)}`;
    if (!patientIds.includes(id)) patientIds.push(id);
  }
  const records: Resource[] = [];
  patientIds.forEach((patientId, i) => {
    const counters = new Map<IdKind, number>();
    const newId = (kind: IdKind) => {
      const n = (counters.get(kind) ?? 0) + 1;
      counters.set(kind, n);
      return `${patientId}-${kind}-${n}`;
    };
    // Ages spread evenly over 0–95 years, with a little jitter so birthdays differ.
    const ageYears = Math.min(95, Math.max(0.2, (i * 95) / (PATIENTS - 1) + rng.float(-1, 1, 2)));
    const ctx = {
      rng,
      nowMs: SAMPLE_NOW_MS,
      newId,
      practitioners: practitioners.map((p) => p.id!),
      organizations: organizations.map((o) => o.id!),
      medicationId: (rx: string) => `rxnorm-${rx}`,
    };
    records.push(...patientRecord(ctx, { patientId, mrn: String(700_000 + i * 137), ageYears }));
  });
  const group = buildPatientGroup(DEMO_GROUP_ID, 'All demo patients', ['BILIBABY', ...patientIds]);
  return [...organizations, ...practitioners, ...medications, ...bilibabyResources(), ...records, group];
}

export function demoBundle(): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: demoResources().map((resource) => ({
      resource,
      request: { method: 'PUT', url: `${resource.resourceType}/${resource.id}` },
    })),
  };
}
