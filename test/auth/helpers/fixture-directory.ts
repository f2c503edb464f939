/**
 * A small in-memory FhirDirectory for the auth tests: the real FhirService (src/fhir/service.ts) is
 * being written in parallel. It implements the same contract (read; search by `name` on Patient and
 * `patient` on Encounter; `_count`), over a fixed set of resources per sandbox key.
 */
import type { Resource } from '@medplum/fhirtypes';
import type { FhirDirectory } from '../../../src/fhir/directory.js';

export class FixtureDirectory implements FhirDirectory {
  private readonly data = new Map<string, Resource>();

  put(sandboxKey: number, resources: Resource[]): void {
    for (const r of resources) this.data.set(`${sandboxKey}/${r.resourceType}/${r.id}`, r);
  }

  read(sandboxKey: number, type: string, id: string): Resource | undefined {
    return this.data.get(`${sandboxKey}/${type}/${id}`);
  }

  search(sandboxKey: number, type: string, params: URLSearchParams): Resource[] {
    const prefix = `${sandboxKey}/${type}/`;
    let out = [...this.data.entries()].filter(([k]) => k.startsWith(prefix)).map(([, r]) => r);
    const name = params.get('name');
    if (name) {
      out = out.filter((r) =>
        JSON.stringify((r as { name?: unknown }).name ?? '')
          .toLowerCase()
          .includes(name.toLowerCase()),
      );
    }
    const patient = params.get('patient');
    if (patient) out = out.filter((r) => (r as { subject?: { reference?: string } }).subject?.reference === `Patient/${patient}`);
    return out.slice(0, Number(params.get('_count') ?? 50));
  }
}

export function demoResources(): Resource[] {
  return [
    { resourceType: 'Patient', id: 'BILIBABY', name: [{ given: ['Baby'], family: 'Bili' }], gender: 'male', birthDate: '2016-01-01' },
    { resourceType: 'Patient', id: 'OTHER', name: [{ given: ['Olga'], family: 'Other' }], gender: 'female', birthDate: '1980-05-05' },
    { resourceType: 'Practitioner', id: 'DOC1', name: [{ given: ['Dana'], family: 'Doctor' }] },
    { resourceType: 'Encounter', id: 'ENC1', status: 'finished', class: { code: 'IMP' }, subject: { reference: 'Patient/BILIBABY' } } as Resource,
    { resourceType: 'Encounter', id: 'ENC2', status: 'finished', class: { code: 'AMB' }, subject: { reference: 'Patient/OTHER' } } as Resource,
  ];
}
