/**
 * One patient's record: the Patient, then encounters in time order, each followed by what happened
 * in it (vitals, labs, diagnoses, prescriptions, vaccines). Every resource refers only to resources
 * emitted before it (its Patient, an earlier Encounter/Condition) or to the shared practitioners,
 * organizations and medications, so any prefix of a generated stream is referentially complete.
 */
import type {
  AllergyIntolerance,
  CodeableConcept,
  Condition,
  Encounter,
  Immunization,
  MedicationRequest,
  Observation,
  Resource,
} from '@medplum/fhirtypes';
import type { Rng } from '../prng.js';
import {
  ALLERGIES,
  CONDITIONS,
  type ConditionDef,
  ENCOUNTER_KINDS,
  type EncounterKind,
  MEDICATIONS,
  SYS,
  VACCINES,
} from '../vocab/codes.js';
import { LABS, type LabDef, type LabKey, type ObsDef, VITALS } from '../vocab/observations.js';
import { coding, concept, DAY_MS, dateTime, type Ref, ref, round, ucum, YEAR_MS } from './fhir.js';
import { buildPatient, type Gender } from './people.js';

export type IdKind = 'enc' | 'obs' | 'cond' | 'medreq' | 'allergy' | 'imm';

export interface RecordContext {
  rng: Rng;
  /** The data set's "now": every event happens before it. Fixed, so output never depends on the clock. */
  nowMs: number;
  /** Returns a new id, unique in the data set, for a resource of the given kind. */
  newId: (kind: IdKind) => string;
  practitioners: readonly string[];
  organizations: readonly string[];
  medicationId: (rxnorm: string) => string;
}

export interface RecordSpec {
  patientId: string;
  mrn: string;
  ageYears: number;
  gender?: Gender;
}

const MINUTE_MS = 60_000;
/** First authorised US COVID-19 vaccine use (CVX 208 is not given before it). */
const COVID_VACCINE_START = Date.UTC(2020, 11, 14);

const DIABETES = '44054006';
const HYPERTENSION = '38341003';
const HYPERLIPIDEMIA = '55822004';
const HYPOTHYROID = '40930008';
const CKD = '433144002';
const HEART_FAILURE = '84114007';
const OBESITY = '414916001';

const VITAL_SIGNS = concept(SYS.obsCategory, 'vital-signs', 'Vital Signs');
const LABORATORY = concept(SYS.obsCategory, 'laboratory', 'Laboratory');

// Approximate median growth (CDC charts), age in years → cm / kg / BMI.
const HEIGHT_MALE: readonly [number, number][] = [[0, 50], [0.5, 67], [1, 75], [2, 87], [4, 102], [6, 116], [8, 128], [10, 138], [12, 149], [14, 163], [16, 172], [18, 176]];
const HEIGHT_FEMALE: readonly [number, number][] = [[0, 49], [0.5, 65], [1, 74], [2, 86], [4, 101], [6, 115], [8, 127], [10, 138], [12, 151], [14, 159], [16, 162], [18, 163]];
const INFANT_WEIGHT: readonly [number, number][] = [[0, 3.4], [0.5, 7.6], [1, 9.6], [2, 12.4]];
const CHILD_BMI: readonly [number, number][] = [[2, 16.4], [6, 15.4], [10, 17.2], [14, 19.6], [18, 21.6]];

function interpolate(curve: readonly [number, number][], x: number): number {
  if (x <= curve[0]![0]) return curve[0]![1];
  for (let i = 1; i < curve.length; i++) {
    const [x1, y1] = curve[i]!;
    if (x <= x1) {
      const [x0, y0] = curve[i - 1]!;
      return y0 + ((y1 - y0) * (x - x0)) / (x1 - x0);
    }
  }
  return curve[curve.length - 1]![1];
}

function pickWeighted(rng: Rng, defs: readonly ConditionDef[]): ConditionDef | undefined {
  const total = defs.reduce((s, d) => s + d.weight, 0);
  let r = rng.next() * total;
  for (const d of defs) {
    r -= d.weight;
    if (r < 0) return d;
  }
  return defs[defs.length - 1];
}

function chooseChronic(rng: Rng, age: number): ConditionDef[] {
  const n = age < 18 ? (rng.chance(0.2) ? 1 : 0) : age < 40 ? rng.int(0, 2) : age < 65 ? rng.int(1, 3) : rng.int(1, 4);
  const chosen: ConditionDef[] = [];
  for (let k = 0; k < n; k++) {
    const d = pickWeighted(rng, CONDITIONS.filter((c) => c.chronic && age >= c.minAge && age <= c.maxAge && !chosen.includes(c)));
    if (d) chosen.push(d);
  }
  return chosen;
}

function chooseKind(rng: Rng, ageAt: number, hasEarlierChronic: boolean): EncounterKind {
  const r = rng.next();
  if (ageAt < 2) return r < 0.6 ? 'wellness' : 'symptom';
  if (r < 0.35) return 'wellness';
  if (r < 0.55) return hasEarlierChronic ? 'followup' : 'symptom';
  if (r < 0.88) return 'symptom';
  if (r < 0.96 || !hasEarlierChronic) return 'emergency';
  return 'inpatient';
}

export function patientRecord(ctx: RecordContext, spec: RecordSpec): Resource[] {
  const { rng, nowMs } = ctx;
  const age = Math.max(spec.ageYears, 0.1);
  const gender: Gender = spec.gender ?? (rng.chance(0.5) ? 'male' : 'female');
  const birthMs = Math.floor((nowMs - age * YEAR_MS) / DAY_MS) * DAY_MS;
  const gp = rng.pick(ctx.practitioners);
  const patient = buildPatient(rng, {
    id: spec.patientId,
    gender,
    birthMs,
    nowMs,
    mrn: spec.mrn,
    organizationId: rng.pick(ctx.organizations),
    practitionerId: gp,
  });
  const pName = patient.name![0]!;
  const subject = ref('Patient', spec.patientId, `${pName.given![0]} ${pName.family}`);
  const out: Resource[] = [patient];

  // Individual traits that stay the same across visits.
  const chronic = chooseChronic(rng, age);
  const has = (code: string) => chronic.some((c) => c.code === code);
  const heightFactor = 1 + rng.normal(0, 6) / 170;
  const bmiOffset = has(OBESITY) ? rng.float(6, 12, 1) : rng.normal(0, 3);
  const systolicBase = rng.normal(116, 8) + (has(HYPERTENSION) ? 22 : 0) + (age > 60 ? 8 : 0);

  // Encounter times: sorted, during the last six years of life, at clinic hours.
  const windowStart = Math.max(birthMs + 2 * DAY_MS, nowMs - 6 * YEAR_MS);
  const windowEnd = nowMs - DAY_MS;
  const n = age < 1 ? rng.int(2, 4) : rng.int(3, 8);
  const starts: number[] = [];
  for (let k = 0; k < n; k++) {
    const day = Math.floor((windowStart + rng.next() * (windowEnd - windowStart)) / DAY_MS) * DAY_MS;
    starts.push(day + rng.int(8, 16) * 3_600_000 + rng.int(0, 3) * 15 * MINUTE_MS);
  }
  starts.sort((a, b) => a - b);
  const diagnosedAt = new Map<ConditionDef, number>(chronic.map((c) => [c, rng.int(0, n - 1)]));
  const chronicIds: { def: ConditionDef; id: string }[] = [];
  const vaccinesGiven = new Set<string>();

  for (let i = 0; i < n; i++) {
    const encStart = starts[i]!;
    const ageAt = (encStart - birthMs) / YEAR_MS;
    const kind: EncounterKind = i === 0 ? 'wellness' : chooseKind(rng, ageAt, chronicIds.length > 0);
    const k = ENCOUNTER_KINDS[kind];
    const encEnd = Math.min(encStart + rng.int(k.minMinutes, k.maxMinutes) * MINUTE_MS, nowMs - MINUTE_MS);
    const doctor = kind === 'wellness' || kind === 'followup' ? gp : rng.pick(ctx.practitioners);
    const doctorRef = ref('Practitioner', doctor);
    const encId = ctx.newId('enc');
    const encRef = ref('Encounter', encId);
    const acute =
      kind === 'symptom' || kind === 'emergency'
        ? pickWeighted(rng, CONDITIONS.filter((c) => !c.chronic && ageAt >= c.minAge && ageAt <= c.maxAge))
        : undefined;
    const admittedFor = kind === 'inpatient' ? rng.pick(chronicIds) : undefined;

    const encounter: Encounter = {
      resourceType: 'Encounter',
      id: encId,
      status: 'finished',
      class: coding(SYS.actCode, k.classCode, k.classDisplay),
      type: [concept(SYS.snomed, k.type.code, k.type.display)],
      subject,
      participant: [
        {
          type: [concept(SYS.participationType, 'PPRF', 'primary performer')],
          period: { start: dateTime(encStart), end: dateTime(encEnd) },
          individual: doctorRef,
        },
      ],
      period: { start: dateTime(encStart), end: dateTime(encEnd) },
      serviceProvider: patient.managingOrganization,
    };
    if (acute) encounter.reasonCode = [concept(SYS.snomed, acute.code, acute.display)];
    if (admittedFor) encounter.reasonReference = [ref('Condition', admittedFor.id, admittedFor.def.display)];
    out.push(encounter);

    // Vital signs, taken at the start of the visit.
    const vitalsAt = dateTime(encStart + 5 * MINUTE_MS);
    const vital = (def: ObsDef, value: number): Observation => ({
      resourceType: 'Observation',
      id: ctx.newId('obs'),
      status: 'final',
      category: [VITAL_SIGNS],
      code: concept(SYS.loinc, def.code, def.display),
      subject,
      encounter: encRef,
      effectiveDateTime: vitalsAt,
      valueQuantity: ucum(round(value, def.decimals), def.unit),
    });
    const growthAge = Math.min(ageAt, 18);
    const heightCm = interpolate(gender === 'male' ? HEIGHT_MALE : HEIGHT_FEMALE, growthAge) * heightFactor;
    const weightKg =
      ageAt < 2
        ? interpolate(INFANT_WEIGHT, ageAt) * (1 + bmiOffset / 40)
        : ((ageAt < 18 ? interpolate(CHILD_BMI, ageAt) + bmiOffset * 0.4 : 24.5 + bmiOffset) * (heightCm / 100) ** 2);
    out.push(vital(VITALS.height, heightCm), vital(VITALS.weight, weightKg));
    if (ageAt >= 2) out.push(vital(VITALS.bmi, weightKg / (heightCm / 100) ** 2));
    const hr = ageAt < 1 ? rng.int(110, 160) : ageAt < 6 ? rng.int(80, 130) : ageAt < 12 ? rng.int(70, 110) : rng.int(58, 98);
    const rr = ageAt < 1 ? rng.int(30, 50) : ageAt < 6 ? rng.int(22, 34) : ageAt < 12 ? rng.int(18, 25) : rng.int(12, 20);
    const feverish = kind !== 'wellness' && kind !== 'followup' && rng.chance(0.4);
    out.push(
      vital(VITALS.heartRate, hr + (feverish ? 12 : 0)),
      vital(VITALS.respRate, rr),
      vital(VITALS.temperature, feverish ? rng.float(38, 39.4, 1) : rng.float(36.4, 37.2, 1)),
      vital(VITALS.spo2, rng.int(has('13645005') ? 90 : 95, 100)),
    );
    if (ageAt >= 3) {
      // obs-7: the panel carries no value of its own, only the systolic/diastolic components.
      const systolic = ageAt < 18 ? rng.normal(104, 6) : rng.normal(systolicBase, 6);
      out.push({
        resourceType: 'Observation',
        id: ctx.newId('obs'),
        status: 'final',
        category: [VITAL_SIGNS],
        code: concept(SYS.loinc, VITALS.bpPanel.code, VITALS.bpPanel.display),
        subject,
        encounter: encRef,
        effectiveDateTime: vitalsAt,
        component: [
          { code: concept(SYS.loinc, VITALS.systolic.code, VITALS.systolic.display), valueQuantity: ucum(Math.round(systolic), 'mm[Hg]') },
          {
            code: concept(SYS.loinc, VITALS.diastolic.code, VITALS.diastolic.display),
            valueQuantity: ucum(Math.round(systolic * 0.64 + rng.normal(0, 4)), 'mm[Hg]'),
          },
        ],
      });
    }

    // Laboratory results.
    const labs = labsFor(kind, ageAt, has, rng);
    if (labs.length > 0) {
      const drawn = encStart + 15 * MINUTE_MS;
      const issued = dateTime(Math.min(drawn + rng.int(2, 8) * 3_600_000, nowMs));
      for (const key of labs) {
        out.push(labResult(ctx, key, labValue(rng, key, has, gender), subject, encRef, dateTime(drawn), issued));
      }
    }

    // Diagnoses made at this visit, and their prescriptions.
    for (const def of chronic) {
      if (diagnosedAt.get(def) !== i) continue;
      const condId = ctx.newId('cond');
      const onset = Math.max(encStart - rng.int(0, 3 * 365) * DAY_MS, birthMs + def.minAge * YEAR_MS, birthMs);
      out.push(condition(condId, def, 'problem-list-item', subject, encRef, doctorRef, Math.min(onset, encStart), encStart));
      chronicIds.push({ def, id: condId });
      for (const rx of def.meds.slice(0, 2)) {
        out.push(prescription(ctx, rx, 'active', subject, encRef, doctorRef, encStart, ref('Condition', condId, def.display)));
      }
    }
    if (acute) {
      const condId = ctx.newId('cond');
      const abates = encStart + rng.int(5, 21) * DAY_MS;
      const cond = condition(condId, acute, 'encounter-diagnosis', subject, encRef, doctorRef, encStart - rng.int(1, 4) * DAY_MS, encStart);
      if (abates < nowMs) {
        cond.clinicalStatus = concept(SYS.conditionClinical, 'resolved', 'Resolved');
        cond.abatementDateTime = dateTime(abates);
      }
      out.push(cond);
      if (acute.meds.length > 0 && rng.chance(0.8)) {
        const status = abates < nowMs ? 'completed' : 'active';
        out.push(prescription(ctx, acute.meds[0]!, status, subject, encRef, doctorRef, encStart, ref('Condition', condId, acute.display)));
      }
    }

    if (kind === 'wellness') {
      out.push(...vaccinations(ctx, ageAt, encStart, vaccinesGiven, subject, encRef, doctorRef));
    }
    if (i === 0) {
      const nAllergies = rng.chance(0.3) ? (rng.chance(0.25) ? 2 : 1) : 0;
      for (const a of rng.sample(ALLERGIES, nAllergies)) {
        out.push(allergy(ctx, a, subject, encRef, doctorRef, encStart));
      }
    }
  }
  return out;
}

function labsFor(kind: EncounterKind, ageAt: number, has: (code: string) => boolean, rng: Rng): LabKey[] {
  const labs: LabKey[] = [];
  if (kind === 'wellness' && ageAt >= 18) {
    labs.push('glucose', 'cholesterol', 'triglycerides', 'hdl', 'ldl', 'creatinine', 'sodium', 'potassium', 'hemoglobin', 'leukocytes');
    if (has(DIABETES)) labs.push('hba1c');
    if (has(HYPOTHYROID)) labs.push('tsh');
  } else if (kind === 'wellness' && ageAt >= 1 && rng.chance(0.3)) {
    labs.push('hemoglobin');
  } else if (kind === 'followup') {
    labs.push('glucose');
    if (has(DIABETES)) labs.push('hba1c');
    if (has(HYPERLIPIDEMIA)) labs.push('cholesterol', 'ldl', 'hdl', 'triglycerides');
    if (has(CKD) || has(HEART_FAILURE) || has(HYPERTENSION)) labs.push('creatinine', 'potassium');
    if (has(HYPOTHYROID)) labs.push('tsh');
  } else if (kind === 'inpatient') {
    labs.push('hemoglobin', 'leukocytes', 'sodium', 'potassium', 'creatinine', 'glucose');
  }
  return labs;
}

function labValue(rng: Rng, key: LabKey, has: (code: string) => boolean, gender: Gender): number {
  const def: LabDef = LABS[key];
  let mean = def.mean;
  let sd = def.sd;
  if (has(DIABETES) && key === 'glucose') [mean, sd] = [155, 30];
  if (has(DIABETES) && key === 'hba1c') [mean, sd] = [7.6, 0.9];
  if (has(HYPERLIPIDEMIA) && key === 'cholesterol') [mean, sd] = [238, 25];
  if (has(HYPERLIPIDEMIA) && key === 'ldl') [mean, sd] = [158, 25];
  if (has(HYPERLIPIDEMIA) && key === 'triglycerides') [mean, sd] = [190, 45];
  if (has(CKD) && key === 'creatinine') [mean, sd] = [1.9, 0.3];
  if (has(HYPOTHYROID) && key === 'tsh') [mean, sd] = [6.5, 2];
  if (gender === 'male' && key === 'creatinine') mean += 0.15;
  if (gender === 'female' && key === 'hemoglobin') mean -= 1.3;
  const min = 10 ** -def.decimals;
  return round(Math.max(rng.normal(mean, sd), min), def.decimals);
}

function labResult(
  ctx: RecordContext,
  key: LabKey,
  value: number,
  subject: Ref,
  encounter: Ref,
  effective: string,
  issued: string,
): Observation {
  const def: LabDef = LABS[key];
  const flag = value < def.low ? ['L', 'Low'] : value > def.high ? ['H', 'High'] : ['N', 'Normal'];
  return {
    resourceType: 'Observation',
    id: ctx.newId('obs'),
    status: 'final',
    category: [LABORATORY],
    code: concept(SYS.loinc, def.code, def.display),
    subject,
    encounter,
    effectiveDateTime: effective,
    issued,
    valueQuantity: ucum(value, def.unit),
    interpretation: [concept(SYS.interpretation, flag[0]!, flag[1]!)],
    referenceRange: [def.low > 0 ? { low: ucum(def.low, def.unit), high: ucum(def.high, def.unit) } : { high: ucum(def.high, def.unit) }],
  };
}

function condition(
  id: string,
  def: ConditionDef,
  category: 'problem-list-item' | 'encounter-diagnosis',
  subject: Ref,
  encounter: Ref,
  recorder: Ref,
  onsetMs: number,
  recordedMs: number,
): Condition {
  return {
    resourceType: 'Condition',
    id,
    clinicalStatus: concept(SYS.conditionClinical, 'active', 'Active'),
    verificationStatus: concept(SYS.conditionVerification, 'confirmed', 'Confirmed'),
    category: [concept(SYS.conditionCategory, category, category === 'problem-list-item' ? 'Problem List Item' : 'Encounter Diagnosis')],
    code: concept(SYS.snomed, def.code, def.display),
    subject,
    encounter,
    onsetDateTime: dateTime(onsetMs),
    recordedDate: dateTime(recordedMs),
    recorder,
  };
}

function prescription(
  ctx: RecordContext,
  rxnorm: string,
  status: 'active' | 'completed',
  subject: Ref,
  encounter: Ref,
  requester: Ref,
  authoredMs: number,
  reason: Ref,
): MedicationRequest {
  const med = MEDICATIONS[rxnorm]!;
  return {
    resourceType: 'MedicationRequest',
    id: ctx.newId('medreq'),
    status,
    intent: 'order',
    category: [concept(SYS.medRequestCategory, 'outpatient', 'Outpatient')],
    medicationReference: ref('Medication', ctx.medicationId(rxnorm), med.display),
    subject,
    encounter,
    authoredOn: dateTime(authoredMs),
    requester,
    reasonReference: [reason],
    dosageInstruction: [{ sequence: 1, text: med.sig, timing: { repeat: { frequency: med.perDay, period: 1, periodUnit: 'd' } } }],
  };
}

function vaccinations(
  ctx: RecordContext,
  ageAt: number,
  atMs: number,
  given: Set<string>,
  patient: Ref,
  encounter: Ref,
  performer: Ref,
): Immunization[] {
  const { rng } = ctx;
  const eligible = VACCINES.filter(
    (v) => v.code !== '140' && !given.has(v.code) && ageAt >= v.minAge && ageAt <= v.maxAge && (v.code !== '208' || atMs >= COVID_VACCINE_START),
  );
  const chosen = rng.sample(eligible, ageAt < 7 ? rng.int(1, 3) : rng.chance(0.35) ? 1 : 0);
  if (ageAt >= 0.5 && rng.chance(0.6)) chosen.push(VACCINES.find((v) => v.code === '140')!);
  return chosen.map((v) => {
    given.add(v.code);
    const oral = v.code === '116';
    const route: CodeableConcept = oral
      ? concept(SYS.route, 'PO', 'Swallow, oral')
      : concept(SYS.route, 'IM', 'Injection, intramuscular');
    return {
      resourceType: 'Immunization',
      id: ctx.newId('imm'),
      status: 'completed',
      vaccineCode: concept(SYS.cvx, v.code, v.display),
      patient,
      encounter,
      occurrenceDateTime: dateTime(atMs + 20 * MINUTE_MS),
      primarySource: true,
      lotNumber: `${String.fromCharCode(65 + rng.int(0, 25))}${String.fromCharCode(65 + rng.int(0, 25))}${rng.int(1000, 9999)}`,
      route,
      performer: [{ actor: performer }],
    };
  });
}

function allergy(
  ctx: RecordContext,
  def: (typeof ALLERGIES)[number],
  patient: Ref,
  encounter: Ref,
  recorder: Ref,
  atMs: number,
): AllergyIntolerance {
  const { rng } = ctx;
  const severe = def.reactions.some((r) => r.code === '39579001');
  return {
    resourceType: 'AllergyIntolerance',
    id: ctx.newId('allergy'),
    clinicalStatus: concept(SYS.allergyClinical, 'active', 'Active'),
    verificationStatus: concept(SYS.allergyVerification, 'confirmed', 'Confirmed'),
    type: 'allergy',
    category: [def.category],
    criticality: severe ? 'high' : 'low',
    code: concept(def.system, def.code, def.display),
    patient,
    encounter,
    recordedDate: dateTime(atMs),
    recorder,
    reaction: [
      {
        manifestation: rng.sample(def.reactions, rng.int(1, def.reactions.length)).map((r) => concept(SYS.snomed, r.code, r.display)),
        severity: severe ? 'severe' : rng.chance(0.5) ? 'mild' : 'moderate',
      },
    ],
  };
}
