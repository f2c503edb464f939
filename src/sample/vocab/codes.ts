/**
 * Code systems and the coded concepts the generators draw from: SNOMED CT conditions and encounter
 * types, RxNorm medications (SCD level), allergy substances, CVX vaccines. Codes are real; the lists
 * are short on purpose (sample data, not a terminology server).
 */
export const SYS = {
  snomed: 'http://snomed.info/sct',
  loinc: 'http://loinc.org',
  ucum: 'http://unitsofmeasure.org',
  rxnorm: 'http://www.nlm.nih.gov/research/umls/rxnorm',
  cvx: 'http://hl7.org/fhir/sid/cvx',
  npi: 'http://hl7.org/fhir/sid/us-npi',
  obsCategory: 'http://terminology.hl7.org/CodeSystem/observation-category',
  conditionClinical: 'http://terminology.hl7.org/CodeSystem/condition-clinical',
  conditionVerification: 'http://terminology.hl7.org/CodeSystem/condition-ver-status',
  conditionCategory: 'http://terminology.hl7.org/CodeSystem/condition-category',
  allergyClinical: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical',
  allergyVerification: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification',
  actCode: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
  participationType: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType',
  maritalStatus: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus',
  identifierType: 'http://terminology.hl7.org/CodeSystem/v2-0203',
  orgType: 'http://terminology.hl7.org/CodeSystem/organization-type',
  interpretation: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation',
  route: 'http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration',
  medRequestCategory: 'http://terminology.hl7.org/CodeSystem/medicationrequest-category',
  /** Our own identifier systems (example.org, as the brief allows). */
  mrn: 'http://example.org/smart-sandbox/mrn',
  orgId: 'http://example.org/smart-sandbox/organization',
} as const;

export interface Concept {
  code: string;
  display: string;
}

export interface ConditionDef extends Concept {
  /** Chronic conditions stay active; acute ones resolve within weeks. */
  chronic: boolean;
  minAge: number;
  maxAge: number;
  /** Relative likelihood among conditions eligible at an age. */
  weight: number;
  /** RxNorm codes (keys of MEDICATIONS) typically prescribed for it. */
  meds: string[];
}

export const CONDITIONS: readonly ConditionDef[] = [
  { code: '44054006', display: 'Diabetes mellitus type 2', chronic: true, minAge: 30, maxAge: 120, weight: 4, meds: ['860975'] },
  { code: '38341003', display: 'Hypertensive disorder, systemic arterial', chronic: true, minAge: 25, maxAge: 120, weight: 6, meds: ['314076', '197361', '310798'] },
  { code: '55822004', display: 'Hyperlipidemia', chronic: true, minAge: 30, maxAge: 120, weight: 5, meds: ['259255'] },
  { code: '195967001', display: 'Asthma', chronic: true, minAge: 3, maxAge: 120, weight: 3, meds: ['895994', '745679'] },
  { code: '13645005', display: 'Chronic obstructive lung disease', chronic: true, minAge: 45, maxAge: 120, weight: 2, meds: ['745679'] },
  { code: '35489007', display: 'Depressive disorder', chronic: true, minAge: 14, maxAge: 120, weight: 3, meds: ['310385'] },
  { code: '197480006', display: 'Anxiety disorder', chronic: true, minAge: 12, maxAge: 120, weight: 3, meds: [] },
  { code: '40930008', display: 'Hypothyroidism', chronic: true, minAge: 20, maxAge: 120, weight: 2, meds: ['966222'] },
  { code: '49436004', display: 'Atrial fibrillation', chronic: true, minAge: 55, maxAge: 120, weight: 2, meds: ['855332'] },
  { code: '84114007', display: 'Heart failure', chronic: true, minAge: 55, maxAge: 120, weight: 1, meds: ['200031', '310429'] },
  { code: '239873007', display: 'Osteoarthritis of knee', chronic: true, minAge: 45, maxAge: 120, weight: 3, meds: ['849574'] },
  { code: '37796009', display: 'Migraine', chronic: true, minAge: 12, maxAge: 70, weight: 2, meds: ['310965'] },
  { code: '414916001', display: 'Obesity', chronic: true, minAge: 6, maxAge: 120, weight: 3, meds: [] },
  { code: '235595009', display: 'Gastroesophageal reflux disease', chronic: true, minAge: 18, maxAge: 120, weight: 2, meds: [] },
  { code: '26929004', display: "Alzheimer's disease", chronic: true, minAge: 70, maxAge: 120, weight: 1, meds: [] },
  { code: '433144002', display: 'Chronic kidney disease stage 3', chronic: true, minAge: 50, maxAge: 120, weight: 1, meds: [] },
  { code: '444814009', display: 'Viral sinusitis', chronic: false, minAge: 2, maxAge: 120, weight: 5, meds: ['313782'] },
  { code: '195662009', display: 'Acute viral pharyngitis', chronic: false, minAge: 1, maxAge: 120, weight: 4, meds: ['313782'] },
  { code: '10509002', display: 'Acute bronchitis', chronic: false, minAge: 1, maxAge: 120, weight: 3, meds: ['313782'] },
  { code: '65363002', display: 'Otitis media', chronic: false, minAge: 0, maxAge: 12, weight: 5, meds: ['308182'] },
  { code: '43878008', display: 'Streptococcal sore throat', chronic: false, minAge: 3, maxAge: 40, weight: 2, meds: ['834061'] },
  { code: '68566005', display: 'Urinary tract infectious disease', chronic: false, minAge: 5, maxAge: 120, weight: 2, meds: ['309309'] },
  { code: '44465007', display: 'Sprain of ankle', chronic: false, minAge: 8, maxAge: 80, weight: 2, meds: ['310965'] },
];

export interface MedicationDef extends Concept {
  /** Free-text sig, also used as Dosage.text. */
  sig: string;
  /** Doses per day (Timing.repeat.frequency per 1 d). */
  perDay: number;
}

/** RxNorm SCD codes, keyed by code. */
export const MEDICATIONS: Readonly<Record<string, MedicationDef>> = {
  '860975': { code: '860975', display: '24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet', sig: 'Take 1 tablet by mouth once daily with the evening meal', perDay: 1 },
  '314076': { code: '314076', display: 'lisinopril 10 MG Oral Tablet', sig: 'Take 1 tablet by mouth once daily', perDay: 1 },
  '197361': { code: '197361', display: 'amlodipine 5 MG Oral Tablet', sig: 'Take 1 tablet by mouth once daily', perDay: 1 },
  '310798': { code: '310798', display: 'hydrochlorothiazide 25 MG Oral Tablet', sig: 'Take 1 tablet by mouth every morning', perDay: 1 },
  '259255': { code: '259255', display: 'atorvastatin 80 MG Oral Tablet', sig: 'Take 1 tablet by mouth at bedtime', perDay: 1 },
  '895994': { code: '895994', display: '120 ACTUAT fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler', sig: 'Inhale 2 puffs twice daily', perDay: 2 },
  '745679': { code: '745679', display: '200 ACTUAT albuterol 0.09 MG/ACTUAT Metered Dose Inhaler', sig: 'Inhale 2 puffs every 6 hours as needed for wheezing', perDay: 4 },
  '310385': { code: '310385', display: 'fluoxetine 20 MG Oral Capsule', sig: 'Take 1 capsule by mouth once daily', perDay: 1 },
  '966222': { code: '966222', display: 'levothyroxine sodium 0.075 MG Oral Tablet', sig: 'Take 1 tablet by mouth every morning on an empty stomach', perDay: 1 },
  '855332': { code: '855332', display: 'warfarin sodium 5 MG Oral Tablet', sig: 'Take 1 tablet by mouth once daily as directed', perDay: 1 },
  '200031': { code: '200031', display: 'carvedilol 6.25 MG Oral Tablet', sig: 'Take 1 tablet by mouth twice daily with food', perDay: 2 },
  '310429': { code: '310429', display: 'furosemide 20 MG Oral Tablet', sig: 'Take 1 tablet by mouth once daily', perDay: 1 },
  '849574': { code: '849574', display: 'naproxen sodium 220 MG Oral Tablet', sig: 'Take 1 tablet by mouth twice daily as needed for pain', perDay: 2 },
  '310965': { code: '310965', display: 'ibuprofen 200 MG Oral Tablet', sig: 'Take 2 tablets by mouth every 6 hours as needed for pain', perDay: 4 },
  '313782': { code: '313782', display: 'acetaminophen 325 MG Oral Tablet', sig: 'Take 2 tablets by mouth every 6 hours as needed for fever', perDay: 4 },
  '308182': { code: '308182', display: 'amoxicillin 250 MG Oral Capsule', sig: 'Take 1 capsule by mouth three times daily for 10 days', perDay: 3 },
  '834061': { code: '834061', display: 'penicillin V potassium 250 MG Oral Tablet', sig: 'Take 1 tablet by mouth twice daily for 10 days', perDay: 2 },
  '309309': { code: '309309', display: 'ciprofloxacin 500 MG Oral Tablet', sig: 'Take 1 tablet by mouth twice daily for 3 days', perDay: 2 },
};

export type AllergyCategory = 'food' | 'medication' | 'environment';

export interface AllergyDef extends Concept {
  system: string;
  category: AllergyCategory;
  reactions: Concept[];
}

const HIVES = { code: '126485001', display: 'Urticaria' };
const ANAPHYLAXIS = { code: '39579001', display: 'Anaphylaxis' };
const RASH = { code: '271807003', display: 'Eruption of skin' };
const ITCH = { code: '418290006', display: 'Itching' };
const SNEEZE = { code: '76067001', display: 'Sneezing' };
const RHINITIS = { code: '21719001', display: 'Allergic rhinitis' };
const NAUSEA = { code: '422587007', display: 'Nausea' };
const DYSPNEA = { code: '267036007', display: 'Dyspnea' };

export const ALLERGIES: readonly AllergyDef[] = [
  { system: SYS.snomed, code: '762952008', display: 'Peanut', category: 'food', reactions: [HIVES, ANAPHYLAXIS] },
  { system: SYS.snomed, code: '227493005', display: 'Cashew nut', category: 'food', reactions: [HIVES, ITCH] },
  { system: SYS.snomed, code: '102263004', display: 'Eggs (edible)', category: 'food', reactions: [RASH, NAUSEA] },
  { system: SYS.snomed, code: '256277009', display: 'Grass pollen', category: 'environment', reactions: [SNEEZE, RHINITIS] },
  { system: SYS.snomed, code: '264287008', display: 'Animal dander', category: 'environment', reactions: [SNEEZE, DYSPNEA] },
  { system: SYS.snomed, code: '260147004', display: 'House dust mite', category: 'environment', reactions: [RHINITIS] },
  { system: SYS.snomed, code: '111088007', display: 'Latex', category: 'environment', reactions: [RASH, ITCH] },
  { system: SYS.rxnorm, code: '70618', display: 'penicillin', category: 'medication', reactions: [HIVES, RASH] },
  { system: SYS.rxnorm, code: '1191', display: 'aspirin', category: 'medication', reactions: [HIVES, DYSPNEA] },
  { system: SYS.rxnorm, code: '2670', display: 'codeine', category: 'medication', reactions: [NAUSEA, ITCH] },
];

export interface VaccineDef extends Concept {
  minAge: number;
  maxAge: number;
}

/** CVX codes with the age band (years) in which the generator gives them. */
export const VACCINES: readonly VaccineDef[] = [
  { code: '08', display: 'Hep B, adolescent or pediatric', minAge: 0, maxAge: 1 },
  { code: '116', display: 'rotavirus, pentavalent', minAge: 0, maxAge: 1 },
  { code: '20', display: 'DTaP', minAge: 0, maxAge: 6 },
  { code: '10', display: 'IPV', minAge: 0, maxAge: 6 },
  { code: '49', display: 'Hib (PRP-OMP)', minAge: 0, maxAge: 2 },
  { code: '133', display: 'Pneumococcal conjugate PCV 13', minAge: 0, maxAge: 2 },
  { code: '03', display: 'MMR', minAge: 1, maxAge: 6 },
  { code: '21', display: 'varicella', minAge: 1, maxAge: 6 },
  { code: '83', display: 'Hep A, ped/adol, 2 dose', minAge: 1, maxAge: 3 },
  { code: '115', display: 'Tdap', minAge: 11, maxAge: 120 },
  { code: '62', display: 'HPV, quadrivalent', minAge: 11, maxAge: 26 },
  { code: '114', display: 'meningococcal MCV4P', minAge: 11, maxAge: 18 },
  { code: '113', display: 'Td (adult) preservative free', minAge: 19, maxAge: 120 },
  { code: '187', display: 'zoster recombinant', minAge: 50, maxAge: 120 },
  { code: '33', display: 'pneumococcal polysaccharide PPV23', minAge: 65, maxAge: 120 },
  { code: '208', display: 'COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose', minAge: 12, maxAge: 120 },
  { code: '140', display: 'Influenza, seasonal, injectable, preservative free', minAge: 1, maxAge: 120 },
];

export type EncounterKind = 'wellness' | 'followup' | 'symptom' | 'emergency' | 'inpatient';

export const ENCOUNTER_KINDS: Readonly<
  Record<EncounterKind, { classCode: string; classDisplay: string; type: Concept; minMinutes: number; maxMinutes: number }>
> = {
  wellness: { classCode: 'AMB', classDisplay: 'ambulatory', type: { code: '185349003', display: 'Encounter for check up' }, minMinutes: 20, maxMinutes: 45 },
  followup: { classCode: 'AMB', classDisplay: 'ambulatory', type: { code: '390906007', display: 'Follow-up encounter' }, minMinutes: 15, maxMinutes: 30 },
  symptom: { classCode: 'AMB', classDisplay: 'ambulatory', type: { code: '185345009', display: 'Encounter for symptom' }, minMinutes: 15, maxMinutes: 40 },
  emergency: { classCode: 'EMER', classDisplay: 'emergency', type: { code: '50849002', display: 'Emergency room admission' }, minMinutes: 120, maxMinutes: 480 },
  inpatient: { classCode: 'IMP', classDisplay: 'inpatient encounter', type: { code: '32485007', display: 'Hospital admission' }, minMinutes: 1440, maxMinutes: 7200 },
};
