/**
 * Light-weight R4 facts that the read path needs without indexing the StructureDefinitions: the
 * resource type list and the Patient CompartmentDefinition (21 KB, parsed once on first use).
 * Medplum's `Resource` union includes its own types (Project, Bot…), so the list comes from the
 * official compartment definition, which names all 145 R4 resource types.
 */
import { readDefinition } from './medplum.js';

interface CompartmentDefinition {
  resource: { code: string; param?: string[] }[];
}

let cached: { types: Set<string>; patientParams: Map<string, string[]> } | undefined;

function load() {
  if (!cached) {
    const def = readDefinition<CompartmentDefinition>('fhir/r4/compartmentdefinition-patient.json');
    const types = new Set<string>();
    const patientParams = new Map<string, string[]>();
    for (const r of def.resource) {
      types.add(r.code);
      if (r.param?.length) patientParams.set(r.code, r.param);
    }
    cached = { types, patientParams };
  }
  return cached;
}

/** Every R4 resource type. */
export function resourceTypes(): Set<string> {
  return load().types;
}

export function isResourceType(t: string): boolean {
  return load().types.has(t);
}

/**
 * The reference search parameters through which a resource of `type` joins a patient's compartment
 * (empty for types outside the Patient compartment, e.g. Practitioner, Organization, Medication).
 * Patient itself lists `link`; a Patient is always in its own compartment too.
 */
export function patientCompartmentParams(type: string): string[] {
  return load().patientParams.get(type) ?? [];
}

/** True when resources of `type` can belong to a Patient compartment. */
export function inPatientCompartment(type: string): boolean {
  return type === 'Patient' || load().patientParams.has(type);
}

/** FHIR id grammar (R4 §2.24.0.1 datatypes: id). */
export const ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;
