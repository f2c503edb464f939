/**
 * `npm run bench`: every scenario beside a bare node:http baseline measured in the same run, reported
 * as ratios. Loopback only, bounded in time (BENCH_SECONDS per scenario, default 5; the sustained
 * writes run 60 s). `npm run bench -- sustained` runs only the baseline and the sustained writes and
 * writes bench/results/sustained.md.
 */
import fs from 'node:fs';
import { benchAuth } from './auth.js';
import { benchBulk } from './bulk.js';
import { benchBulkLoader, benchFhir } from './fhir.js';
import { cannon, type Result, report, startBare } from './harness.js';
import { benchPostgres } from './postgres.js';
import { benchSearch } from './search.js';
import { benchSustainedWrites } from './sustained.js';

async function main(): Promise<void> {
  const only = process.argv[2];
  if (only !== undefined && only !== 'sustained') throw new Error(`unknown scenario group ${only} (known: sustained)`);
  const results: Result[] = [];
  const bare = await startBare();
  const baseline = await cannon('bare node:http 1 KB', bare.url);
  bare.stop();
  results.push(baseline);
  if (only === 'sustained') {
    await benchSustainedWrites(results);
    const text = report(results, baseline.rate);
    process.stdout.write(`${text}\n`);
    fs.mkdirSync('bench/results', { recursive: true });
    fs.writeFileSync('bench/results/sustained.md', `${new Date().toISOString()}\n\n${text}\n`);
    return;
  }

  const { server } = await benchFhir(results);
  const openRead = results.find((r) => r.name.startsWith('FHIR read Patient/BILIBABY (open'))!.rate;
  await benchAuth(results, server, openRead);
  await benchSearch(results, server);
  await server.stop();
  await benchBulkLoader(results);
  await benchPostgres(results);
  await benchBulk(results);
  await benchSustainedWrites(results);

  const text = report(results, baseline.rate);
  process.stdout.write(`${text}\n`);
  fs.mkdirSync('bench/results', { recursive: true });
  fs.writeFileSync('bench/results/latest.md', `${new Date().toISOString()}\n\n${text}\n`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
