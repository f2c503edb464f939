/**
 * Which patients a user may be given as launch context (docs/architecture.md §5), used at registration
 * (what an app user's launch may name) and at /authorize (what a signed-in persona may receive).
 */
import type { Persona } from '../auth/types.js';
import type { TokenGrant } from '../fhir/access/types.js';
import type { FhirDirectory } from '../fhir/directory.js';
import { resourceScopes } from '../smart/scopes.js';

/** `any` for a Practitioner; otherwise the patient ids the persona's resource gives it. */
export type Visible = 'any' | string[];

const PATIENT_REF = /^Patient\/([A-Za-z0-9.-]{1,64})$/;

/**
 * A Practitioner persona may be given any patient; a Patient persona only itself; a RelatedPerson
 * only `RelatedPerson.patient` (FHIR R4 §RelatedPerson); any other resource type no patient.
 */
export async function patientsOfPersona(fhir: FhirDirectory, sandboxKey: number, persona: Persona): Promise<Visible> {
  const [type, id] = persona.resource.split('/');
  if (type === 'Practitioner') return 'any';
  if (type === 'Patient') return [id];
  if (type === 'RelatedPerson') {
    const rp = (await fhir.read(sandboxKey, 'RelatedPerson', id)) as { patient?: { reference?: string } } | undefined;
    const patient = PATIENT_REF.exec(rp?.patient?.reference ?? '')?.[1];
    return patient ? [patient] : [];
  }
  return [];
}

/**
 * A token whose resource scopes are all `patient/` (or that has none) sees one patient at most: its
 * context patient ('' when it has none). Undefined when it has `user/` or `system/` scopes.
 */
export function tokenConfinedTo(grant: TokenGrant): string | undefined {
  return resourceScopes(grant.scope).every((s) => s.context === 'patient') ? (grant.patient ?? '') : undefined;
}
