/**
 * Growth run (issue #3), by hand, outside CI: `node dist/bench/growth.js [10000,30000,100000,300000]`.
 * Loads synthetic resources with the bulk loader into one sandbox in steps (cumulative totals), and
 * at each step measures in process the p50/p99 latency of a fixed patient's searches through the
 * repository, rendered as searchset Bundles:
 * - `Observation?patient=X&_count=20` with no patient grant (driven by the reference index);
 * - `Patient/X/Observation?_count=20` confined to the compartment (a patient/ grant's plan).
 * Flat columns mean the patient search latency does not grow with the database.
 */
import { resolveConfig } from '../src/config/config.js';
import { syntheticResources } from '../src/sample/synthetic.js';
import { createServices } from '../src/services.js';
import { tmpDir } from './harness.js';
import fs from 'node:fs';

const steps = (process.argv[2] ?? '10000,30000,100000,300000').split(',').map(Number);
const ITERATIONS = Number(process.env.GROWTH_ITERATIONS ?? 500);
const PATIENT = 'syn1-pat-1';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function measure(fn: () => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < 50; i++) await fn(); // warm the statement cache and the page cache
  const times: number[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

async function main(): Promise<void> {
  if (steps.some((n, i) => !Number.isSafeInteger(n) || n <= 0 || (i > 0 && n <= steps[i - 1]))) {
    throw new Error('steps must be increasing positive integers, e.g. 10000,30000,100000,300000');
  }
  const dataDir = tmpDir();
  // DATABASE_URL=postgres://… runs the same growth on PostgreSQL (use a database made for it).
  const services = await createServices(resolveConfig({ dataDir, demo: false, logLevel: 'silent', databaseUrl: process.env.DATABASE_URL }));
  const lines = ['| resources | load s | hits | patient=X&_count=20 p50 / p99 ms | Patient/X/Observation p50 / p99 ms |', '|---|---|---|---|---|'];
  process.stdout.write(`growth run in ${dataDir}, ${ITERATIONS} searches per step\n`);
  try {
    const sandbox = (await services.tenants.create('growth'));
    const open = services.fhir.repository(sandbox, { kind: 'open', write: false }, 'open');
    let loaded = 0;
    for (const [i, target] of steps.entries()) {
      // Each step adds a new seed's records (ids carry the seed), so the first patient stays fixed.
      const t0 = performance.now();
      let batch = [];
      for (const r of syntheticResources(target - loaded, i + 1)) {
        batch.push(r);
        if (batch.length === 2000) {
          (await services.fhir.bulkLoad(sandbox.key, batch));
          batch = [];
        }
      }
      if (batch.length) (await services.fhir.bulkLoad(sandbox.key, batch));
      const loadSeconds = (performance.now() - t0) / 1000;
      loaded = target;
      const byRef = async () => open.searchBundle(await open.search(['Observation'], [['patient', PATIENT], ['_count', '20']]), 'Observation');
      const inCompartment = async () => open.searchBundle(await open.search(['Observation'], [['_count', '20']], { compartment: PATIENT }), `Patient/${PATIENT}/Observation`);
      const hits = (await open.search(['Observation'], [['patient', PATIENT], ['_count', '20']])).matches.length;
      const a = await measure(byRef);
      const b = await measure(inCompartment);
      const line = `| ${loaded.toLocaleString('en')} | ${loadSeconds.toFixed(1)} | ${hits} | ${a.p50.toFixed(2)} / ${a.p99.toFixed(2)} | ${b.p50.toFixed(2)} / ${b.p99.toFixed(2)} |`;
      lines.push(line);
      process.stdout.write(`${line}\n`);
    }
    process.stdout.write(`\n${lines.join('\n')}\n`);
  } finally {
    await services.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
