/**
 * FHIR API scenarios (issue #2): first start with seeding, restart to first request, read by id,
 * create Observation / Patient with validation, transaction ingest, and the bulk loader.
 */
import { resolveConfig } from '../src/config/config.js';
import { syntheticResources } from '../src/sample/synthetic.js';
import { createServices } from '../src/services.js';
import { cannon, cli, type Result, type Server, startServer, tmpDir, waitFor } from './harness.js';

const observation = JSON.stringify({
  resourceType: 'Observation',
  status: 'final',
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
  code: { coding: [{ system: 'http://loinc.org', code: '58941-6', display: 'Transcutaneous Bilirubin' }] },
  subject: { reference: 'Patient/BILIBABY' },
  effectiveDateTime: '2018-03-06T10:00:00Z',
  valueQuantity: { value: 10.2, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
});

const patient = JSON.stringify({
  resourceType: 'Patient',
  active: true,
  name: [{ family: 'Benchmark', given: ['Bea'] }],
  gender: 'female',
  birthDate: '1990-05-17',
  identifier: [{ system: 'http://example.org/mrn', value: 'B-1' }],
  address: [{ line: ['1 Main St'], city: 'Boston', state: 'MA', postalCode: '02110' }],
});

/** A transaction of one new Patient and 99 Observations referencing it by urn:uuid. */
function transactionBody(): string {
  const pid = 'urn:uuid:0b6c4a52-2f3c-4c1e-9d1b-3b2c0b0f0001';
  const entry: unknown[] = [{ fullUrl: pid, resource: JSON.parse(patient), request: { method: 'POST', url: 'Patient' } }];
  for (let i = 0; i < 99; i++) {
    const o = JSON.parse(observation);
    o.subject = { reference: pid };
    o.valueQuantity.value = 5 + (i % 10);
    entry.push({ resource: o, request: { method: 'POST', url: 'Observation' } });
  }
  return JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry });
}

export interface FhirBenchState {
  server: Server;
  dataDir: string;
}

export async function benchFhir(results: Result[]): Promise<FhirBenchState> {
  const dataDir = tmpDir();
  const first = await startServer(dataDir);
  results.push({ name: 'first start with demo seeding (spawn → /healthz)', rate: first.readyMs, unit: 'ms', target: '< 5,000 ms' });
  await first.stop();

  await cli(dataDir, ['sandbox', 'update', 'demo', '--open', '--open-write']);
  const server = await startServer(dataDir, [], '/healthz');
  await server.stop();
  // Restart to first request: spawn → first successful FHIR read.
  const t0 = performance.now();
  const restarted = await startServer(dataDir, [], '/demo/open/Patient/BILIBABY');
  results.push({ name: 'restart to first FHIR read (spawn → 200)', rate: performance.now() - t0, unit: 'ms', target: '< 1,000 ms' });
  const base = `${restarted.url}/demo/open`;
  await waitFor(`${base}/Patient/BILIBABY`);

  results.push(await cannon('FHIR read Patient/BILIBABY (open base, no token)', `${base}/Patient/BILIBABY`, {}, { target: '≥ 0.2× bare (stretch 0.35×)' }));
  results.push(
    await cannon(
      'FHIR create Observation (validated)',
      `${base}/Observation`,
      { method: 'POST', body: observation, headers: { 'content-type': 'application/fhir+json', prefer: 'return=minimal' } },
      { target: '≥ 1,500/s' },
    ),
  );
  results.push(
    await cannon(
      'FHIR create Patient (validated)',
      `${base}/Patient`,
      { method: 'POST', body: patient, headers: { 'content-type': 'application/fhir+json', prefer: 'return=minimal' } },
      { target: '≥ 500/s' },
    ),
  );
  const tx = await cannon(
    'transaction ingest, 100 resources per Bundle (validated)',
    base,
    { method: 'POST', body: transactionBody(), headers: { 'content-type': 'application/fhir+json' }, connections: 4 },
    { target: '≥ 1,000 resources/s' },
  );
  results.push({ ...tx, rate: tx.rate * 100, unit: 'resources/s', note: `${tx.rate.toFixed(1)} bundles/s` });
  return { server: restarted, dataDir };
}

/** The bulk loader in process: structure-checked generated data, no HTTP. */
export async function benchBulkLoader(results: Result[], count = 20_000): Promise<void> {
  const dataDir = tmpDir();
  const services = await createServices(resolveConfig({ dataDir, demo: false }));
  try {
    const sandbox = (await services.tenants.create('bulk'));
    const resources = [...syntheticResources(count)];
    const t0 = performance.now();
    for (let i = 0; i < resources.length; i += 2000) (await services.fhir.bulkLoad(sandbox.key, resources.slice(i, i + 2000)));
    const seconds = (performance.now() - t0) / 1000;
    results.push({ name: `bulk loader, ${count.toLocaleString('en')} synthetic resources (in process)`, rate: count / seconds, unit: 'resources/s', target: '≥ 3,000 resources/s' });
  } finally {
    await services.close();
  }
}
