/**
 * LOINC codes and UCUM units of the vital signs (the FHIR R4 vital-signs profile set, §observation-vitalsigns)
 * and common labs the generators produce. `low`/`high` form the reference range shown on lab results.
 */
export interface ObsDef {
  code: string;
  display: string;
  /** UCUM code, also used as the human-readable unit. */
  unit: string;
  decimals: number;
}

export interface LabDef extends ObsDef {
  low: number;
  high: number;
  /** Typical spread of results around the middle of the range. */
  mean: number;
  sd: number;
}

export const VITALS = {
  height: { code: '8302-2', display: 'Body height', unit: 'cm', decimals: 1 },
  weight: { code: '29463-7', display: 'Body weight', unit: 'kg', decimals: 1 },
  bmi: { code: '39156-5', display: 'Body mass index (BMI) [Ratio]', unit: 'kg/m2', decimals: 1 },
  heartRate: { code: '8867-4', display: 'Heart rate', unit: '/min', decimals: 0 },
  respRate: { code: '9279-1', display: 'Respiratory rate', unit: '/min', decimals: 0 },
  temperature: { code: '8310-5', display: 'Body temperature', unit: 'Cel', decimals: 1 },
  spo2: { code: '2708-6', display: 'Oxygen saturation in Arterial blood', unit: '%', decimals: 0 },
  bpPanel: { code: '85354-9', display: 'Blood pressure panel with all children optional', unit: 'mm[Hg]', decimals: 0 },
  systolic: { code: '8480-6', display: 'Systolic blood pressure', unit: 'mm[Hg]', decimals: 0 },
  diastolic: { code: '8462-4', display: 'Diastolic blood pressure', unit: 'mm[Hg]', decimals: 0 },
} as const satisfies Record<string, ObsDef>;

export const LABS = {
  glucose: { code: '2345-7', display: 'Glucose [Mass/volume] in Serum or Plasma', unit: 'mg/dL', decimals: 0, low: 70, high: 99, mean: 90, sd: 10 },
  hba1c: { code: '4548-4', display: 'Hemoglobin A1c/Hemoglobin.total in Blood', unit: '%', decimals: 1, low: 4, high: 5.6, mean: 5.3, sd: 0.3 },
  cholesterol: { code: '2093-3', display: 'Cholesterol [Mass/volume] in Serum or Plasma', unit: 'mg/dL', decimals: 0, low: 125, high: 200, mean: 185, sd: 25 },
  triglycerides: { code: '2571-8', display: 'Triglyceride [Mass/volume] in Serum or Plasma', unit: 'mg/dL', decimals: 0, low: 0, high: 150, mean: 120, sd: 35 },
  hdl: { code: '2085-9', display: 'Cholesterol in HDL [Mass/volume] in Serum or Plasma', unit: 'mg/dL', decimals: 0, low: 40, high: 100, mean: 55, sd: 10 },
  ldl: { code: '18262-6', display: 'Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay', unit: 'mg/dL', decimals: 0, low: 0, high: 100, mean: 105, sd: 25 },
  creatinine: { code: '2160-0', display: 'Creatinine [Mass/volume] in Serum or Plasma', unit: 'mg/dL', decimals: 2, low: 0.6, high: 1.3, mean: 0.95, sd: 0.15 },
  hemoglobin: { code: '718-7', display: 'Hemoglobin [Mass/volume] in Blood', unit: 'g/dL', decimals: 1, low: 12, high: 17.5, mean: 14.2, sd: 1.2 },
  leukocytes: { code: '6690-2', display: 'Leukocytes [#/volume] in Blood by Automated count', unit: '10*3/uL', decimals: 1, low: 4.5, high: 11, mean: 7.2, sd: 1.6 },
  sodium: { code: '2951-2', display: 'Sodium [Moles/volume] in Serum or Plasma', unit: 'mmol/L', decimals: 0, low: 135, high: 145, mean: 140, sd: 2 },
  potassium: { code: '2823-3', display: 'Potassium [Moles/volume] in Serum or Plasma', unit: 'mmol/L', decimals: 1, low: 3.5, high: 5.1, mean: 4.2, sd: 0.3 },
  tsh: { code: '3016-3', display: 'Thyrotropin [Units/volume] in Serum or Plasma', unit: 'm[IU]/L', decimals: 2, low: 0.4, high: 4.5, mean: 2, sd: 0.8 },
} as const satisfies Record<string, LabDef>;

export type LabKey = keyof typeof LABS;
