/**
 * The HSPC bilirubin-chart sample patient (reference: docs/hspc-compatibility.md §2, from the app's
 * `sample-data/BILIBABY-bundle.json`), converted from DSTU2 to R4: `family` is a string, `birthDate`
 * is a valid FHIR date, birthTime carries a timezone, and the UCUM system is named.
 */
import type { Observation, Patient, Resource } from '@medplum/fhirtypes';
import { SYS } from './vocab/codes.js';

const BIRTH_TIME = 'http://hl7.org/fhir/StructureDefinition/patient-birthTime';

/** [id, effectiveDateTime, mg/dL] exactly as in the HSPC bundle. */
const READINGS: readonly [string, string, number][] = [
  ['BILIBABY-OBS2', '2018-03-04T15:12:00.000Z', 7],
  ['BILIBABY-OBS4', '2018-03-05T00:06:00.000Z', 9],
  ['BILIBABY-OBS10', '2018-03-05T04:30:00.000Z', 10.7],
  ['BILIBABY-OBS5', '2018-03-05T13:36:00.000Z', 11.9],
  ['BILIBABY-OBS7', '2018-03-06T03:18:00.000Z', 11.4],
  ['BILIBABY-OBS3', '2018-03-06T15:06:00.000Z', 12.9],
  ['BILIBABY-OBS8', '2018-03-07T03:18:00.000Z', 11.5],
  ['BILIBABY-OBS9', '2018-03-08T03:18:00.000Z', 11],
];

export function bilibabyResources(): Resource[] {
  const patient: Patient = {
    resourceType: 'Patient',
    id: 'BILIBABY',
    // The chart app reads the birth time from Patient.extension (§5), so it is carried there.
    extension: [{ url: BIRTH_TIME, valueDateTime: '2018-03-04T00:00:00Z' }],
    active: true,
    name: [{ family: 'Bili', given: ['Baby'] }],
    gender: 'male',
    birthDate: '2018-03-04',
  };
  const observations = READINGS.map(
    ([id, effectiveDateTime, value]): Observation => ({
      resourceType: 'Observation',
      id,
      status: 'final',
      category: [
        {
          coding: [{ system: SYS.obsCategory, code: 'laboratory', display: 'Laboratory' }],
        },
      ],
      code: { coding: [{ system: SYS.loinc, code: '58941-6', display: 'Transcutaneous Bilirubin' }] },
      subject: { reference: 'Patient/BILIBABY' },
      effectiveDateTime,
      valueQuantity: { value, unit: 'mg/dL', system: SYS.ucum, code: 'mg/dL' },
    }),
  );
  return [patient, ...observations];
}
