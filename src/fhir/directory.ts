/**
 * Privileged (no access checks) look-ups into a sandbox's FHIR data, for other capabilities: the
 * auth server's patient/encounter pickers and persona checks, launch registration's existence checks.
 * `FhirService` implements it. Never expose these results to a client without its own access check.
 */
import type { Resource } from '@medplum/fhirtypes';

export interface FhirDirectory {
  /** The current version of a resource, or undefined when absent or deleted. */
  read(sandboxKey: number, type: string, id: string): Promise<Resource | undefined>;
  /**
   * A search with FHIR R4 search parameters, e.g. `new URLSearchParams({ name: 'bil', _count: '20' })`
   * on `Patient`, or `{ patient: 'BILIBABY' }` on `Encounter`. Returns the matches of the first page.
   */
  search(sandboxKey: number, type: string, params: URLSearchParams): Promise<Resource[]>;
}
