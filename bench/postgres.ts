/**
 * The same FHIR scenarios on PostgreSQL (issue #7), reported as ratios of this run's SQLite figures: a
 * network round trip per query costs; the aim is ≥ 0.5× SQLite on reads and searches. Runs when a
 * server answers at TEST_DATABASE_URL (default local, trust auth) on a database created for the run
 * and dropped after; skipped with a note otherwise.
 */
import crypto from 'node:crypto';
import pg from 'pg';
import { cannon, cli, type Result, startServer, tmpDir, waitFor } from './harness.js';
import { patientWithObservations } from './search.js';

const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const observation = JSON.stringify({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '58941-6', display: 'Transcutaneous Bilirubin' }] },
  subject: { reference: 'Patient/BILIBABY' },
  effectiveDateTime: '2018-03-06T10:00:00Z',
  valueQuantity: { value: 10.2, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
});

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3000 });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

export async function benchPostgres(results: Result[]): Promise<void> {
  const name = `ss_bench_${crypto.randomBytes(5).toString('hex')}`;
  try {
    await admin(`CREATE DATABASE ${name}`);
  } catch (e) {
    results.push({ name: 'PostgreSQL scenarios', rate: 0, unit: '', note: `skipped: no server at ${ADMIN_URL} (${(e as Error).message})` });
    return;
  }
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const env = { DATABASE_URL: url.toString() };
  const dataDir = tmpDir();
  const sqlite = (prefix: string) => results.find((r) => r.name.startsWith(prefix))?.rate;
  const ratio = (r: Result, prefix: string): Result => {
    const base = sqlite(prefix);
    return { ...r, name: `PostgreSQL: ${r.name}`, note: base ? `${(r.rate / base).toFixed(2)}× SQLite` : undefined };
  };
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  try {
    server = await startServer(dataDir, [], '/healthz', env);
    await cli(dataDir, ['sandbox', 'update', 'demo', '--open', '--open-write'], env);
    const base = `${server.url}/demo/open`;
    await waitFor(`${base}/Patient/BILIBABY`);
    const read = await cannon('FHIR read Patient/BILIBABY (open base, no token)', `${base}/Patient/BILIBABY`, {}, { target: '≥ 0.5× SQLite' });
    results.push(ratio(read, 'FHIR read Patient/BILIBABY'));
    // The same patient as the SQLite search scenario: the first demo patient with 20 observations.
    const id = await patientWithObservations(base, 20);
    const search = await cannon(`FHIR search Observation?patient=${id}&_count=20 (20 hits)`, `${base}/Observation?patient=${encodeURIComponent(id)}&_count=20`, {}, { target: '≥ 0.5× SQLite' });
    results.push(ratio(search, 'FHIR search Observation?patient='));
    const create = await cannon(
      'FHIR create Observation (validated)',
      `${base}/Observation`,
      { method: 'POST', body: observation, headers: { 'content-type': 'application/fhir+json', prefer: 'return=minimal' } },
      {},
    );
    results.push(ratio(create, 'FHIR create Observation'));
  } finally {
    await server?.stop();
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
  }
}
