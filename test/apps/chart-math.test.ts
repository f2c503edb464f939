// The demo app's pure browser modules (apps/bilirubin-chart/*.js, plain ES modules) imported
// directly: they are not compiled by tsc, so the path is resolved from the package root at run time
// (works from test/apps and from dist/test/apps).
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { packageRoot } from '../../src/apps/routes.js';
import { bilibabyResources } from '../../src/sample/bilibaby.js';

type Curve = [number, number][];
interface Layout {
  width: number;
  height: number;
  plot: { left: number; top: number; right: number; bottom: number };
  x(h: number): number;
  y(v: number): number;
  clamp(h: number, v: number): { cx: number; cy: number; clamped: boolean };
  xTicks: number[];
  yTicks: number[];
}
interface Reading {
  id: string | null;
  at: number;
  hours: number;
  value: number;
}
interface ChartMath {
  HOURS_MAX: number;
  MG_DL_MAX: number;
  NOMOGRAM: { p40: Curve; p75: Curve; p95: Curve };
  ZONES: { name: string; label: string }[];
  parseFhirInstant(v: unknown): number | null;
  birthInstant(p: unknown): { ms: number; precise: boolean } | null;
  hoursSinceBirth(birthMs: number, atMs: number): number;
  bilirubinMgDl(o: unknown): number | null;
  bilirubinReadings(obs: unknown[], birthMs: number): { points: Reading[]; skipped: number };
  linearScale(d0: number, d1: number, r0: number, r1: number): (v: number) => number;
  ticks(max: number, step: number): number[];
  chartLayout(w: number, h: number): Layout;
  curveAt(c: Curve, h: number): number | null;
  riskZone(h: number, v: number): string | null;
  zonePolygons(l: Layout): { name: string; label: string; points: string }[];
}
interface BiliFhir {
  REQUESTED_SCOPE: string;
  canWriteObservations(scope: unknown): boolean;
  newBilirubinObservation(patientId: string, when: string, value: number): Record<string, any>;
  readMeasurement(
    local: string,
    value: string,
    birthMs: number | null,
    toInstant: (s: string) => number,
  ): { error: string } | { effectiveDateTime: string; value: number };
  patientName(p: unknown): string;
  describeError(err: unknown, phase: string): string;
}

const dir = path.join(packageRoot(), 'apps', 'bilirubin-chart');
const load = async <T>(file: string): Promise<T> => (await import(pathToFileURL(path.join(dir, file)).href)) as T;
const cm = await load<ChartMath>('chart-math.js');
const bf = await load<BiliFhir>('bili-fhir.js');

const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) <= eps, `${a} ≉ ${b}`);

describe('times', () => {
  test('FHIR dates and dateTimes parse to instants; a missing offset means UTC', () => {
    assert.equal(cm.parseFhirInstant('2018-03-04T15:12:00.000Z'), Date.UTC(2018, 2, 4, 15, 12));
    assert.equal(cm.parseFhirInstant('2018-03-04T15:12:00+02:00'), Date.UTC(2018, 2, 4, 13, 12));
    assert.equal(cm.parseFhirInstant('2018-03-04T00:00:00'), Date.UTC(2018, 2, 4));
    assert.equal(cm.parseFhirInstant('2018-03-04'), Date.UTC(2018, 2, 4));
    for (const bad of ['2018-03', '2018', 'yesterday', '', '2018-13-45', '2018-03-04T25:00:00Z', 42, undefined, null]) {
      assert.equal(cm.parseFhirInstant(bad), null, String(bad));
    }
  });

  test('birth time: the patient-birthTime extension wins over birthDate, also on _birthDate', () => {
    const url = 'http://hl7.org/fhir/StructureDefinition/patient-birthTime';
    assert.deepEqual(cm.birthInstant({ birthDate: '2018-03-04', extension: [{ url, valueDateTime: '2018-03-04T06:30:00Z' }] }), {
      ms: Date.UTC(2018, 2, 4, 6, 30),
      precise: true,
    });
    assert.deepEqual(cm.birthInstant({ birthDate: '2018-03-04', _birthDate: { extension: [{ url, valueDateTime: '2018-03-04T01:00:00Z' }] } }), {
      ms: Date.UTC(2018, 2, 4, 1),
      precise: true,
    });
    assert.deepEqual(cm.birthInstant({ birthDate: '2018-03-04', extension: [{ url: 'http://other', valueDateTime: '2018-03-04T06:30:00Z' }] }), {
      ms: Date.UTC(2018, 2, 4),
      precise: false,
    });
    assert.deepEqual(cm.birthInstant({ birthDate: '2018-03-04', extension: [{ url, valueDateTime: 'garbage' }] }), { ms: Date.UTC(2018, 2, 4), precise: false });
    assert.equal(cm.birthInstant({}), null);
    assert.equal(cm.birthInstant(undefined), null);
  });

  test('hours since birth', () => {
    const birth = Date.UTC(2018, 2, 4);
    assert.equal(cm.hoursSinceBirth(birth, birth), 0);
    close(cm.hoursSinceBirth(birth, Date.UTC(2018, 2, 4, 15, 12)), 15.2);
    assert.equal(cm.hoursSinceBirth(birth, Date.UTC(2018, 2, 11)), 168);
    assert.equal(cm.hoursSinceBirth(birth, Date.UTC(2018, 2, 3, 22)), -2);
  });
});

describe('readings', () => {
  const obs = (id: string, when: string | undefined, value: unknown, unit = 'mg/dL') => ({
    resourceType: 'Observation',
    id,
    ...(when ? { effectiveDateTime: when } : {}),
    valueQuantity: { value, unit, code: unit },
  });

  test('BILIBABY: all eight readings plot, oldest first, at the right hours', () => {
    const [patient, ...observations] = bilibabyResources();
    const birth = cm.birthInstant(patient)!;
    assert.deepEqual(birth, { ms: Date.UTC(2018, 2, 4), precise: true });
    const shuffled = [...observations].reverse();
    const { points, skipped } = cm.bilirubinReadings(shuffled, birth.ms);
    assert.equal(skipped, 0);
    assert.deepEqual(
      points.map((p) => p.id),
      ['BILIBABY-OBS2', 'BILIBABY-OBS4', 'BILIBABY-OBS10', 'BILIBABY-OBS5', 'BILIBABY-OBS7', 'BILIBABY-OBS3', 'BILIBABY-OBS8', 'BILIBABY-OBS9'],
    );
    close(points[0].hours, 15.2);
    assert.equal(points[0].value, 7);
    close(points[7].hours, 99.3);
    assert.equal(points[7].value, 11);
  });

  test('readings before birth, without a time or without a usable value are skipped and counted', () => {
    const birth = Date.UTC(2020, 0, 1, 12);
    const { points, skipped } = cm.bilirubinReadings(
      [
        obs('before', '2020-01-01T11:59:00Z', 3),
        obs('at-birth', '2020-01-01T12:00:00Z', 1),
        obs('no-time', undefined, 4),
        obs('no-value', '2020-01-02T00:00:00Z', undefined),
        obs('text-value', '2020-01-02T00:00:00Z', '9'),
        obs('bad-unit', '2020-01-02T00:00:00Z', 9, 'g/L'),
        obs('umol', '2020-01-02T12:00:00Z', 171, 'umol/L'),
        { resourceType: 'Observation', id: 'period', effectivePeriod: { start: '2020-01-02T00:00:00Z' }, valueQuantity: { value: 6, unit: 'mg/dL' } },
      ],
      birth,
    );
    assert.deepEqual(
      points.map((p) => [p.id, p.hours]),
      [
        ['at-birth', 0],
        ['period', 12],
        ['umol', 24],
      ],
    );
    close(points[2].value, 10);
    assert.equal(skipped, 5);
  });
});

describe('axes', () => {
  test('linear scales map the domain ends onto the range ends, SVG y grows downwards', () => {
    const s = cm.linearScale(0, 168, 50, 750);
    assert.equal(s(0), 50);
    assert.equal(s(168), 750);
    assert.equal(s(84), 400);
    const y = cm.linearScale(0, 25, 400, 0);
    assert.equal(y(0), 400);
    assert.equal(y(25), 0);
    assert.equal(y(12.5), 200);
    assert.throws(() => cm.linearScale(3, 3, 0, 1), RangeError);
  });

  test('the chart layout spans 0–168 h and 0–25 mg/dL inside its margins', () => {
    const l = cm.chartLayout(760, 420);
    assert.equal(cm.HOURS_MAX, 168);
    assert.equal(cm.MG_DL_MAX, 25);
    assert.equal(l.x(0), l.plot.left);
    assert.equal(l.x(168), l.plot.right);
    assert.equal(l.y(0), l.plot.bottom);
    assert.equal(l.y(25), l.plot.top);
    assert.ok(l.plot.left > 0 && l.plot.right < 760 && l.plot.top >= 0 && l.plot.bottom < 420);
    assert.deepEqual(l.xTicks, [0, 24, 48, 72, 96, 120, 144, 168]);
    assert.deepEqual(l.yTicks, [0, 5, 10, 15, 20, 25]);
    assert.deepEqual(cm.ticks(1, 0.2), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  });

  test('readings outside the axes are pinned to the edge and flagged, others are not', () => {
    const l = cm.chartLayout(760, 420);
    assert.deepEqual(l.clamp(48, 10), { cx: l.x(48), cy: l.y(10), clamped: false });
    assert.deepEqual(l.clamp(500, 10), { cx: l.plot.right, cy: l.y(10), clamped: true });
    assert.deepEqual(l.clamp(48, 31), { cx: l.x(48), cy: l.plot.top, clamped: true });
    assert.deepEqual(l.clamp(168, 25), { cx: l.plot.right, cy: l.plot.top, clamped: false });
  });
});

describe('nomogram', () => {
  test('the percentile curves are ordered p40 < p75 < p95 and never decrease much', () => {
    const { p40, p75, p95 } = cm.NOMOGRAM;
    assert.equal(p40.length, p75.length);
    assert.equal(p40.length, p95.length);
    for (let i = 0; i < p40.length; i++) {
      assert.equal(p40[i][0], p75[i][0]);
      assert.equal(p40[i][0], p95[i][0]);
      assert.ok(p40[i][1] < p75[i][1] && p75[i][1] < p95[i][1], `at ${p40[i][0]} h`);
      assert.ok(p95[i][1] < cm.MG_DL_MAX);
    }
    assert.equal(p40[0][0], 12);
    assert.equal(p40[p40.length - 1][0], 168);
  });

  test('curves interpolate linearly and are undefined outside 12–168 h', () => {
    const c: Curve = [
      [12, 4],
      [24, 6],
      [48, 12],
    ];
    assert.equal(cm.curveAt(c, 12), 4);
    assert.equal(cm.curveAt(c, 18), 5);
    assert.equal(cm.curveAt(c, 36), 9);
    assert.equal(cm.curveAt(c, 48), 12);
    assert.equal(cm.curveAt(c, 11.9), null);
    assert.equal(cm.curveAt(c, 48.1), null);
  });

  test('risk zones of readings', () => {
    assert.equal(cm.riskZone(48, 5), 'low');
    assert.equal(cm.riskZone(48, 9), 'low-intermediate');
    assert.equal(cm.riskZone(48, 12), 'high-intermediate');
    assert.equal(cm.riskZone(48, 14), 'high');
    assert.equal(cm.riskZone(48, cm.curveAt(cm.NOMOGRAM.p95, 48)!), 'high');
    assert.equal(cm.riskZone(6, 5), null);
    assert.equal(cm.riskZone(200, 5), null);
    assert.deepEqual(
      cm.ZONES.map((z) => z.name),
      ['low', 'low-intermediate', 'high-intermediate', 'high'],
    );
  });

  test('zone polygons stack without gaps: each upper edge is the next lower edge', () => {
    const l = cm.chartLayout(760, 420);
    const polys = cm.zonePolygons(l);
    assert.deepEqual(
      polys.map((p) => p.name),
      ['low', 'low-intermediate', 'high-intermediate', 'high'],
    );
    const pts = polys.map((p) => p.points.split(' ').map((xy) => xy.split(',').map(Number)));
    const n = cm.NOMOGRAM.p40.length;
    for (const p of pts) {
      assert.equal(p.length, 2 * n);
      for (const [x, y] of p) assert.ok(x >= l.plot.left && x <= l.plot.right && y >= l.plot.top && y <= l.plot.bottom, `${x},${y}`);
    }
    assert.ok(pts[0].slice(0, n).every(([, y]) => y === l.plot.bottom), 'low zone starts at 0 mg/dL');
    assert.ok(pts[3].slice(n).every(([, y]) => y === l.plot.top), 'high zone ends at 25 mg/dL');
    for (let i = 0; i < 3; i++) assert.deepEqual(pts[i].slice(n).reverse(), pts[i + 1].slice(0, n));
  });
});

describe('SMART and FHIR rules', () => {
  test('write scopes that allow creating Observations', () => {
    for (const s of [
      'patient/Observation.write',
      'patient/Observation.*',
      'patient/*.write',
      'patient/*.*',
      'user/Observation.write',
      'user/*.write',
      'user/*.*',
      'patient/Observation.c',
      'patient/Observation.cruds',
      'patient/Observation.crs',
      'user/*.cu',
      bf.REQUESTED_SCOPE,
      'openid   fhirUser\tpatient/Observation.write',
    ]) {
      assert.equal(bf.canWriteObservations(s), true, s);
    }
  });

  test('read-only, other-type, restricted, system or malformed scopes do not', () => {
    for (const s of [
      'launch launch/patient patient/Patient.read patient/Observation.read openid fhirUser online_access',
      'patient/Observation.rs',
      'patient/Observation.read',
      'patient/Patient.write',
      'patient/Patient.c',
      'system/Observation.write',
      'system/*.*',
      'patient/Observation.c?category=laboratory',
      'patient/Observation.sc',
      'patient/Observation.cc',
      'patient/Observation.writex',
      'xpatient/Observation.write',
      'patient/Observation.write2',
      '',
      undefined,
      42,
    ]) {
      assert.equal(bf.canWriteObservations(s), false, String(s));
    }
  });

  test('a new measurement is the original app POST body plus category and UCUM system', () => {
    assert.deepEqual(bf.newBilirubinObservation('BILIBABY', '2018-03-05T10:00:00.000Z', 12.5), {
      resourceType: 'Observation',
      status: 'final',
      category: [
        {
          coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory', display: 'Laboratory' }],
        },
      ],
      code: { coding: [{ system: 'http://loinc.org', code: '58941-6', display: 'Transcutaneous Bilirubin' }] },
      subject: { reference: 'Patient/BILIBABY' },
      effectiveDateTime: '2018-03-05T10:00:00.000Z',
      valueQuantity: { value: 12.5, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
    });
  });

  test('the measurement form: valid input becomes a UTC instant, bad input an error in words', () => {
    const utc = (s: string) => Date.parse(`${s}Z`);
    const birth = Date.UTC(2018, 2, 4);
    assert.deepEqual(bf.readMeasurement('2018-03-05T10:30', ' 12.5 ', birth, utc), { effectiveDateTime: '2018-03-05T10:30:00.000Z', value: 12.5 });
    assert.deepEqual(bf.readMeasurement('2018-03-04T00:00', '3', birth, utc), { effectiveDateTime: '2018-03-04T00:00:00.000Z', value: 3 });
    const err = (r: object) => ('error' in r ? String(r.error) : '');
    assert.match(err(bf.readMeasurement('', '12', birth, utc)), /date and time/);
    assert.match(err(bf.readMeasurement('2018-03-03T23:59', '12', birth, utc)), /before the birth/);
    assert.match(err(bf.readMeasurement('2018-02-30T10:00', '12', birth, () => Number.NaN)), /not valid/);
    for (const v of ['', 'abc', '-1', '1e3', '12,5', '0', '51']) {
      assert.match(err(bf.readMeasurement('2018-03-05T10:30', v, birth, utc)), /mg\/dL/, v);
    }
  });

  test('patient names from R4 and DSTU2 shapes', () => {
    assert.equal(bf.patientName({ name: [{ family: 'Bili', given: ['Baby'] }] }), 'Baby Bili');
    assert.equal(bf.patientName({ name: [{ family: ['Bili'], given: ['Baby'] }] }), 'Baby Bili');
    assert.equal(bf.patientName({ name: [{ text: 'Baby Boy Bili' }] }), 'Baby Boy Bili');
    assert.equal(bf.patientName({ name: [{}, { family: 'Doe' }] }), 'Doe');
    assert.equal(bf.patientName({}), 'Unnamed patient');
  });

  test('errors are put into words', () => {
    assert.match(bf.describeError(new Error("No 'state' parameter found. Please (re)launch the app."), 'authorize-ready'), /^Authorization is missing/);
    assert.match(bf.describeError(new Error('No state found! Please (re)launch the app.'), 'authorize-ready'), /^Authorization is missing/);
    assert.match(bf.describeError(new Error('access_denied: the user said no'), 'authorize-ready'), /^Authorization failed: access_denied: the user said no/);
    const http = (status: number, body = '') => Object.assign(new Error(`${status} X\nURL: http://x/Observation${body}`), { status });
    assert.match(bf.describeError(http(401), 'reading the patient'), /401 Unauthorized.*reading the patient.*Relaunch/);
    assert.match(bf.describeError(http(403), 'saving the measurement'), /Access denied \(403 Forbidden\) while saving the measurement/);
    const oo = JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid', diagnostics: 'value is required' }] });
    assert.equal(bf.describeError(http(400, `\n\n${oo}`), 'saving the measurement'), 'The FHIR server answered 400 while saving the measurement: value is required');
    assert.match(bf.describeError(new TypeError('Failed to fetch'), 'reading the patient'), /^Network error while reading the patient/);
    assert.match(bf.describeError(new Error('boom'), 'starting the app'), /starting the app: boom/);
  });
});
