/**
 * `npm run bench`: every scenario beside a bare node:http baseline measured in the same run, reported
 * as ratios. Loopback only, bounded in time (BENCH_SECONDS per scenario, default 5; soak and sustained
 * writes run 60 s). `node dist/bench/run.js soak` (or any scenario group names: fhir, loader, postgres,
 * bulk, soak, sustained; `npm run bench -- sustained` likewise)
 * runs only those groups, still beside the baseline, and writes bench/results/<names>.md instead of
 * latest.md.
 */
import fs from 'node:fs';
import { benchAuth } from './auth.js';
import { benchBulk } from './bulk.js';
import { benchBulkLoader, benchFhir } from './fhir.js';
import { cannon, type Result, report, startBare } from './harness.js';
import { benchPostgres } from './postgres.js';
import { benchSearch } from './search.js';
import { benchSoak } from './soak.js';
import { benchSustainedWrites } from './sustained.js';

/** Scenario groups in the order of a full run; `fhir` keeps one server for FHIR, auth and search. */
const GROUPS: Record<string, (results: Result[]) => Promise<void>> = {
  fhir: async (results) => {
    const { server } = await benchFhir(results);
    const openRead = results.find((r) => r.name.startsWith('FHIR read Patient/BILIBABY (open'))!.rate;
    await benchAuth(results, server, openRead);
    await benchSearch(results, server);
    await server.stop();
  },
  loader: benchBulkLoader,
  postgres: benchPostgres,
  bulk: benchBulk,
  soak: benchSoak,
  /** 60 s of validated creates: throughput, p99 and the WAL's peak and bytes per create (issue 17). */
  sustained: benchSustainedWrites,
};

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const unknown = only.filter((g) => !(g in GROUPS));
  if (unknown.length) throw new Error(`unknown scenario group(s) ${unknown.join(', ')}; choose from ${Object.keys(GROUPS).join(', ')}`);
  const results: Result[] = [];
  const bare = await startBare();
  const baseline = await cannon('bare node:http 1 KB', bare.url);
  bare.stop();
  results.push(baseline);

  for (const [name, run] of Object.entries(GROUPS)) if (only.length === 0 || only.includes(name)) await run(results);

  const text = report(results, baseline.rate);
  process.stdout.write(`${text}\n`);
  fs.mkdirSync('bench/results', { recursive: true });
  fs.writeFileSync(`bench/results/${only.length ? only.join('-') : 'latest'}.md`, `${new Date().toISOString()}\n\n${text}\n`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
