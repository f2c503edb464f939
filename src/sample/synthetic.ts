/**
 * Synthetic data of any size for `--data synthetic:N` and benchmarks: shared organizations,
 * practitioners and medications first, then complete patient records until exactly `count`
 * resources have been yielded. Seeded (mulberry32), so the same (count, seed) always gives the same
 * resources, and ids carry the seed so that two seeds never collide in one sandbox.
 */
import type { Resource } from '@medplum/fhirtypes';
import { SAMPLE_NOW_MS } from './build/fhir.js';
import { buildMedications, buildOrganization, buildPractitioner } from './build/people.js';
import { type IdKind, patientRecord, type RecordContext } from './build/record.js';
import { Rng } from './prng.js';

export function* syntheticResources(count: number, seed = 1): Generator<Resource> {
  if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`count must be a non-negative integer, got ${count}`);
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  const s = seed >>> 0;
  const prefix = `syn${s}`;
  const rng = new Rng(s);

  // Roughly one practitioner per ~10 patients' worth of resources, one organization per ~50.
  const nOrgs = Math.min(50, Math.max(3, Math.ceil(count / 5000)));
  const nPractitioners = Math.min(500, Math.max(5, Math.ceil(count / 1000)));
  const medicationId = (rx: string) => `${prefix}-rxnorm-${rx}`;
  const shared: Resource[] = [
    ...Array.from({ length: nOrgs }, (_, i) => buildOrganization(rng, `${prefix}-org-${i + 1}`, i)),
    ...Array.from({ length: nPractitioners }, (_, i) => buildPractitioner(rng, `${prefix}-pract-${i + 1}`)),
    ...buildMedications(medicationId),
  ];

  let produced = 0;
  for (const r of shared) {
    if (produced >= count) return;
    yield r;
    produced++;
  }

  const counters: Record<IdKind, number> = { enc: 0, obs: 0, cond: 0, medreq: 0, allergy: 0, imm: 0 };
  const ctx: RecordContext = {
    rng,
    nowMs: SAMPLE_NOW_MS,
    newId: (kind) => `${prefix}-${kind}-${++counters[kind]}`,
    practitioners: shared.filter((r) => r.resourceType === 'Practitioner').map((r) => r.id!),
    organizations: shared.filter((r) => r.resourceType === 'Organization').map((r) => r.id!),
    medicationId,
  };
  for (let p = 1; produced < count; p++) {
    const record = patientRecord(ctx, { patientId: `${prefix}-pat-${p}`, mrn: `${prefix}-${p}`, ageYears: rng.next() * 95 });
    // Records are ordered so that any prefix only refers backwards; cutting the last one is safe.
    for (const r of record) {
      if (produced >= count) return;
      yield r;
      produced++;
    }
  }
}
