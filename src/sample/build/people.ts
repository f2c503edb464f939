/** Patients, practitioners, organizations, the medication catalog and the bulk-export Group. */
import type { Group, HumanName, Medication, Organization, Patient, Practitioner } from '@medplum/fhirtypes';
import type { Rng } from '../prng.js';
import { MEDICATIONS, SYS } from '../vocab/codes.js';
import { FAMILY, FEMALE_GIVEN, MALE_GIVEN, PLACES, STREETS } from '../vocab/names.js';
import { concept, date, ref, YEAR_MS } from './fhir.js';

export type Gender = 'male' | 'female';

export function personName(rng: Rng, gender: Gender): { given: string; middle: string; family: string } {
  const list = gender === 'male' ? MALE_GIVEN : FEMALE_GIVEN;
  return { given: rng.pick(list), middle: rng.pick(list), family: rng.pick(FAMILY) };
}

export function humanName(n: { given: string; middle?: string; family: string }, extra?: Partial<HumanName>): HumanName {
  const given = n.middle ? [n.given, n.middle] : [n.given];
  return { use: 'official', family: n.family, given, ...extra };
}

/** A 555-01xx number: the range reserved for fictional use in North America. */
export function phone(rng: Rng): string {
  return `${rng.int(201, 989)}-555-01${String(rng.int(0, 99)).padStart(2, '0')}`;
}

function address(rng: Rng, use: 'home' | 'work') {
  const place = rng.pick(PLACES);
  return { use, line: [`${rng.int(1, 9899)} ${rng.pick(STREETS)}`], city: place.city, state: place.state, postalCode: place.postalCode, country: 'US' };
}

/**
 * A valid 10-digit NPI: 9 digits and a Luhn check digit computed over the digits prefixed by 80840,
 * as the CMS NPI standard specifies.
 */
export function npi(rng: Rng): string {
  const base = String(rng.int(1, 2)) + String(rng.int(0, 99_999_999)).padStart(8, '0');
  const digits = `80840${base}`;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return base + String((10 - (sum % 10)) % 10);
}

export interface PatientSpec {
  id: string;
  gender: Gender;
  birthMs: number;
  /** "now" of the data set, for the age-dependent marital status. */
  nowMs: number;
  mrn: string;
  organizationId: string;
  practitionerId: string;
}

const MARITAL: readonly [string, string][] = [
  ['M', 'Married'],
  ['S', 'Never Married'],
  ['D', 'Divorced'],
  ['W', 'Widowed'],
];

export function buildPatient(rng: Rng, spec: PatientSpec): Patient {
  const name = personName(rng, spec.gender);
  const age = (spec.nowMs - spec.birthMs) / YEAR_MS;
  let marital = MARITAL[1]!;
  if (age >= 20) {
    const r = rng.next();
    marital = r < 0.55 ? MARITAL[0]! : r < 0.75 ? MARITAL[1]! : r < 0.9 ? MARITAL[2]! : age > 60 ? MARITAL[3]! : MARITAL[1]!;
  }
  return {
    resourceType: 'Patient',
    id: spec.id,
    identifier: [
      {
        use: 'usual',
        type: concept(SYS.identifierType, 'MR', 'Medical record number', 'MRN'),
        system: SYS.mrn,
        value: spec.mrn,
      },
    ],
    active: true,
    name: [humanName(name)],
    telecom: [
      { system: 'phone', value: phone(rng), use: rng.chance(0.6) ? 'mobile' : 'home' },
      { system: 'email', value: `${name.given}.${name.family}${rng.int(1, 99)}@example.com`.toLowerCase().replace(/'/g, '') },
    ],
    gender: spec.gender,
    birthDate: date(spec.birthMs),
    address: [address(rng, 'home')],
    maritalStatus: concept(SYS.maritalStatus, marital[0], marital[1]),
    generalPractitioner: [ref('Practitioner', spec.practitionerId)],
    managingOrganization: ref('Organization', spec.organizationId),
  };
}

export function buildPractitioner(rng: Rng, id: string): Practitioner {
  const gender: Gender = rng.chance(0.5) ? 'male' : 'female';
  const name = personName(rng, gender);
  return {
    resourceType: 'Practitioner',
    id,
    identifier: [{ system: SYS.npi, value: npi(rng) }],
    active: true,
    name: [humanName({ given: name.given, family: name.family }, { prefix: ['Dr.'], suffix: ['MD'] })],
    telecom: [
      { system: 'phone', value: phone(rng), use: 'work' },
      { system: 'email', value: `${name.given}.${name.family}@example.org`.toLowerCase().replace(/'/g, ''), use: 'work' },
    ],
    gender,
    address: [address(rng, 'work')],
  };
}

const ORG_KINDS = ['Community Hospital', 'Medical Center', 'Family Practice', 'Pediatrics', 'Health Clinic', 'Internal Medicine Associates'];
const ORG_PLACES = ['Riverside', 'Lakeside', 'Maple Grove', 'Cedar Hills', 'Northgate', 'Harbor View', 'Summit', 'Pinecrest', 'Oakwood', 'Fairview'];

export function buildOrganization(rng: Rng, id: string, index: number): Organization {
  // Cycle place and kind independently so that the first 60 names are all different.
  const name = `${ORG_PLACES[index % ORG_PLACES.length]} ${ORG_KINDS[(index + Math.floor(index / ORG_PLACES.length)) % ORG_KINDS.length]}`;
  return {
    resourceType: 'Organization',
    id,
    identifier: [
      { system: SYS.npi, value: npi(rng) },
      { system: SYS.orgId, value: id },
    ],
    active: true,
    type: [concept(SYS.orgType, 'prov', 'Healthcare Provider')],
    name,
    telecom: [{ system: 'phone', value: phone(rng), use: 'work' }],
    address: [address(rng, 'work')],
  };
}

/** One Medication per RxNorm code of the catalog, ids from `idFor(rxnorm)`. */
export function buildMedications(idFor: (rxnorm: string) => string): Medication[] {
  return Object.values(MEDICATIONS).map((m) => ({
    resourceType: 'Medication',
    id: idFor(m.code),
    code: concept(SYS.rxnorm, m.code, m.display),
    status: 'active',
  }));
}

/** A Group of actual persons, the unit `Group/{id}/$export` works on. */
export function buildPatientGroup(id: string, name: string, patientIds: readonly string[]): Group {
  return {
    resourceType: 'Group',
    id,
    type: 'person',
    actual: true,
    name,
    quantity: patientIds.length,
    member: patientIds.map((p) => ({ entity: ref('Patient', p) })),
  };
}
