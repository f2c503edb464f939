/** The FHIR resources every auth test sandbox starts with (loaded with FhirService.bulkLoad). */
import type { Resource } from '@medplum/fhirtypes';

export function demoResources(): Resource[] {
  return [
    { resourceType: 'Patient', id: 'BILIBABY', name: [{ given: ['Baby'], family: 'Bili' }], gender: 'male', birthDate: '2016-01-01' },
    { resourceType: 'Patient', id: 'OTHER', name: [{ given: ['Olga'], family: 'Other' }], gender: 'female', birthDate: '1980-05-05' },
    { resourceType: 'Practitioner', id: 'DOC1', name: [{ given: ['Dana'], family: 'Doctor' }] },
    { resourceType: 'Encounter', id: 'ENC1', status: 'finished', class: { code: 'IMP' }, subject: { reference: 'Patient/BILIBABY' } } as Resource,
    { resourceType: 'Encounter', id: 'ENC2', status: 'finished', class: { code: 'AMB' }, subject: { reference: 'Patient/OTHER' } } as Resource,
  ];
}
