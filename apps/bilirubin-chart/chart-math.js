// Pure chart maths of the bilirubin chart: time since birth, which readings to plot, axis scaling
// and the hour-specific risk nomogram. No DOM and no FHIR client here, so node's test runner can
// import this module directly (test/apps/chart-math.test.ts).

/** The x axis: the first week of life, in hours. */
export const HOURS_MAX = 168;
/** The y axis: total serum / transcutaneous bilirubin, mg/dL. */
export const MG_DL_MAX = 25;

const HOUR_MS = 3_600_000;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
// FHIR dateTime with a time part; the offset is optional here because the original HSPC sample data
// carried times without one.
const DATE_TIME = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:\d{2})?$/;

/**
 * Milliseconds since the epoch of a FHIR date or dateTime, or null when it is not one precise to at
 * least the day. A date alone counts from 00:00 UTC of that day; a time without an offset is read as
 * UTC, so the same data gives the same chart on every machine whatever its time zone.
 */
export function parseFhirInstant(value) {
  if (typeof value !== 'string') return null;
  let iso;
  if (DATE_ONLY.test(value)) iso = `${value}T00:00:00Z`;
  else {
    const m = DATE_TIME.exec(value);
    if (!m) return null;
    iso = `${m[1]}T${m[2]}${m[3] ?? 'Z'}`;
  }
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : null;
}

export const BIRTH_TIME_EXTENSION = 'http://hl7.org/fhir/StructureDefinition/patient-birthTime';

/**
 * When the patient was born: the patient-birthTime extension (on Patient, where the original app
 * read it, or on Patient.birthDate where R4 defines it), else birthDate. `precise` is false when
 * only the date is known, so the page can say hours are counted from the start of that day.
 */
export function birthInstant(patient) {
  const exts = [...(patient?.extension ?? []), ...(patient?._birthDate?.extension ?? [])];
  for (const e of exts) {
    if (e?.url === BIRTH_TIME_EXTENSION) {
      const ms = parseFhirInstant(e.valueDateTime);
      if (ms !== null) return { ms, precise: !DATE_ONLY.test(e.valueDateTime) };
    }
  }
  const ms = parseFhirInstant(patient?.birthDate);
  return ms === null ? null : { ms, precise: false };
}

/** Hours between birth and a moment (negative before birth). */
export function hoursSinceBirth(birthMs, atMs) {
  return (atMs - birthMs) / HOUR_MS;
}

/** The clinically relevant time of an Observation. */
export function observationInstant(obs) {
  return parseFhirInstant(obs?.effectiveDateTime ?? obs?.effectivePeriod?.start ?? obs?.effectiveInstant ?? obs?.issued);
}

/** µmol/L per mg/dL of bilirubin (molar mass 584.66 g/mol). */
const UMOL_PER_MG_DL = 17.1;

/** The reading in mg/dL, converting µmol/L; null when there is no usable number. */
export function bilirubinMgDl(obs) {
  const q = obs?.valueQuantity;
  if (!q || typeof q.value !== 'number' || !Number.isFinite(q.value)) return null;
  const unit = q.code ?? q.unit;
  if (unit === undefined || unit === 'mg/dL' || unit === 'mg/dl') return q.value;
  if (unit === 'umol/L' || unit === 'µmol/L') return q.value / UMOL_PER_MG_DL;
  return null;
}

/**
 * The readings to plot: observations at or after birth with a time and a value, oldest first (as the
 * original app). `skipped` counts those left out so the page can say so instead of hiding them.
 */
export function bilirubinReadings(observations, birthMs) {
  const points = [];
  let skipped = 0;
  for (const obs of observations) {
    const at = observationInstant(obs);
    const value = bilirubinMgDl(obs);
    if (at === null || value === null || at < birthMs) {
      skipped++;
      continue;
    }
    points.push({ id: obs.id ?? null, at, hours: hoursSinceBirth(birthMs, at), value });
  }
  points.sort((a, b) => a.at - b.at);
  return { points, skipped };
}

/** A linear map from [d0, d1] onto [r0, r1] (r1 < r0 for an SVG y axis, which grows downwards). */
export function linearScale(d0, d1, r0, r1) {
  if (!(d1 !== d0)) throw new RangeError('empty scale domain');
  const k = (r1 - r0) / (d1 - d0);
  return (v) => r0 + (v - d0) * k;
}

/** Tick values from 0 to max inclusive in steps of step. */
export function ticks(max, step) {
  const out = [];
  for (let v = 0; v <= max + 1e-9; v += step) out.push(Math.round(v * 1e6) / 1e6);
  return out;
}

/**
 * The plotting area of a chart of the given size: axes 0–168 h and 0–25 mg/dL, margins for labels.
 * `clamp` pins a reading outside the axes to the nearest edge and says it did, so every reading
 * still gets a point (drawn differently) instead of silently vanishing.
 */
export function chartLayout(width, height, margin = { top: 16, right: 20, bottom: 48, left: 56 }) {
  const plot = { left: margin.left, top: margin.top, right: width - margin.right, bottom: height - margin.bottom };
  const x = linearScale(0, HOURS_MAX, plot.left, plot.right);
  const y = linearScale(0, MG_DL_MAX, plot.bottom, plot.top);
  const clamp = (hours, value) => {
    const h = Math.min(Math.max(hours, 0), HOURS_MAX);
    const v = Math.min(Math.max(value, 0), MG_DL_MAX);
    return { cx: x(h), cy: y(v), clamped: h !== hours || v !== value };
  };
  return { width, height, plot, x, y, clamp, xTicks: ticks(HOURS_MAX, 24), yTicks: ticks(MG_DL_MAX, 5) };
}

/*
 * Hour-specific bilirubin nomogram for term and near-term newborns (Bhutani, Johnson & Sivieri,
 * Pediatrics 1999;103:6-14, as reproduced in the AAP 2004 guideline). The 40th, 75th and 95th
 * percentile curves below are APPROXIMATIONS read off the published figure at a few ages and joined
 * by straight lines; the figure starts at 12 h and is flat after about 5 days. They serve a demo
 * chart only and must not be used for clinical decisions.
 */
export const NOMOGRAM = Object.freeze({
  p40: [[12, 3.5], [24, 5], [36, 6.8], [48, 8.5], [60, 9.8], [72, 11], [84, 11.8], [96, 12.5], [120, 13], [144, 13.2], [168, 13.2]],
  p75: [[12, 4.6], [24, 6.3], [36, 8.6], [48, 10.8], [60, 12.3], [72, 13.5], [84, 14.5], [96, 15.2], [120, 15.5], [144, 15.6], [168, 15.6]],
  p95: [[12, 5.6], [24, 8], [36, 10.7], [48, 13.2], [60, 14.8], [72, 16], [84, 16.9], [96, 17.5], [120, 17.6], [144, 17.5], [168, 17.5]],
});

/** A percentile curve's value at an age, linearly interpolated; null outside the curve's hours. */
export function curveAt(curve, hours) {
  if (hours < curve[0][0] || hours > curve[curve.length - 1][0]) return null;
  for (let i = 1; i < curve.length; i++) {
    const [h0, v0] = curve[i - 1];
    const [h1, v1] = curve[i];
    if (hours <= h1) return v0 + ((hours - h0) * (v1 - v0)) / (h1 - h0);
  }
  return null;
}

/** The risk zones, lowest first: name, label and the curves bounding them (null = axis edge). */
export const ZONES = Object.freeze([
  { name: 'low', label: 'Low risk (< 40th percentile)', lower: null, upper: 'p40' },
  { name: 'low-intermediate', label: 'Low-intermediate risk (40th–75th)', lower: 'p40', upper: 'p75' },
  { name: 'high-intermediate', label: 'High-intermediate risk (75th–95th)', lower: 'p75', upper: 'p95' },
  { name: 'high', label: 'High risk (> 95th percentile)', lower: 'p95', upper: null },
]);

/** The zone name of a reading, or null when its age is outside the nomogram (before 12 h, after 168 h). */
export function riskZone(hours, value) {
  const p40 = curveAt(NOMOGRAM.p40, hours);
  if (p40 === null) return null;
  if (value < p40) return 'low';
  if (value < curveAt(NOMOGRAM.p75, hours)) return 'low-intermediate';
  if (value < curveAt(NOMOGRAM.p95, hours)) return 'high-intermediate';
  return 'high';
}

/**
 * Each zone as an SVG polygon `points` string in the layout's coordinates: along the lower bound
 * (or the x axis) left to right, back along the upper bound (or the top of the chart).
 */
export function zonePolygons(layout) {
  const hours = NOMOGRAM.p40.map(([h]) => h);
  const edge = (curveName, fallback) => hours.map((h) => [h, curveName ? curveAt(NOMOGRAM[curveName], h) : fallback]);
  const fmt = ([h, v]) => `${round2(layout.x(h))},${round2(layout.y(v))}`;
  return ZONES.map((z) => {
    const lower = edge(z.lower, 0);
    const upper = edge(z.upper, MG_DL_MAX).reverse();
    return { name: z.name, label: z.label, points: [...lower, ...upper].map(fmt).join(' ') };
  });
}

function round2(n) {
  return Math.round(n * 100) / 100;
}
