/**
 * Bulk Data `$export` (issue 8): a synthetic sandbox (100k resources by default, bulk-loaded in
 * process like benchBulkLoader) exported by a system/*.rs token from a `serve` child process.
 * Reports the export rate (resources/s written to NDJSON) and the API's authenticated read throughput
 * while an export runs vs idle (target: within 20% of idle), for each runner (worker thread, inline).
 */
import { resolveConfig } from '../src/config/config.js';
import { syntheticResources } from '../src/sample/synthetic.js';
import { createServices } from '../src/services.js';
import { cannon, type Result, settings, startServer, tmpDir } from './harness.js';

const HEADERS = { accept: 'application/fhir+json', prefer: 'respond-async' };
const SECRET = 'bench-bulk-secret-0123456789abcdef';

async function load(dataDir: string, count: number): Promise<void> {
  const services = await createServices(resolveConfig({ dataDir, demo: false }));
  try {
    const sandbox = await services.tenants.create('bulk');
    let batch = [];
    for (const r of syntheticResources(count)) {
      batch.push(r);
      if (batch.length === 2000) {
        await services.fhir.bulkLoad(sandbox.key, batch);
        batch = [];
      }
    }
    if (batch.length) await services.fhir.bulkLoad(sandbox.key, batch);
    await services.auth.clients.add(sandbox.key, { clientId: 'bench-exporter', secret: SECRET, grantTypes: ['client_credentials'], scope: 'system/*.rs' });
  } finally {
    await services.close();
  }
}

async function token(issuer: string): Promise<string> {
  const r = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`bench-exporter:${SECRET}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'system/*.rs' }),
  });
  const b = await r.json();
  if (r.status !== 200) throw new Error(`token: ${r.status} ${JSON.stringify(b)}`);
  return b.access_token;
}

/** Kicks off a system export; resolves with (resources written, seconds) when the manifest is ready. */
async function runExport(iss: string, tok: string): Promise<{ started: Promise<void>; done: Promise<{ count: number; seconds: number }> }> {
  const t0 = performance.now();
  const k = await fetch(`${iss}/$export`, { headers: { ...HEADERS, authorization: `Bearer ${tok}` } });
  if (k.status !== 202) throw new Error(`kick-off: ${k.status} ${await k.text()}`);
  const status = k.headers.get('content-location')!;
  let markStarted: () => void = () => {};
  const started = new Promise<void>((r) => (markStarted = r));
  const done = (async () => {
    for (;;) {
      const r = await fetch(status, { headers: { authorization: `Bearer ${tok}` } });
      if (r.status === 200) {
        const m = await r.json();
        markStarted();
        return { count: m.output.reduce((n: number, o: { count: number }) => n + o.count, 0), seconds: (performance.now() - t0) / 1000 };
      }
      if (r.status !== 202) throw new Error(`status: ${r.status} ${await r.text()}`);
      if (/written/.test(r.headers.get('x-progress') ?? '')) markStarted();
      await r.arrayBuffer();
      await new Promise((res) => setTimeout(res, 250));
    }
  })();
  return { started, done };
}

export async function benchBulk(results: Result[], count = 100_000, runners: ('worker' | 'inline')[] = ['worker', 'inline']): Promise<void> {
  const dataDir = tmpDir();
  await load(dataDir, count);
  const label = count.toLocaleString('en');
  for (const runner of runners) {
    process.env.SMART_SANDBOX_BULK_RUNNER = runner;
    const server = await startServer(dataDir, ['--no-demo']);
    delete process.env.SMART_SANDBOX_BULK_RUNNER;
    try {
      const iss = `${server.url}/bulk/data`;
      const tok = await token(`${server.url}/bulk/auth`);
      const first = await (await fetch(`${iss}/Patient?_count=1`, { headers: { authorization: `Bearer ${tok}` } })).json();
      const readUrl = `${iss}/Patient/${first.entry[0].resource.id}`;
      const read = { headers: { authorization: `Bearer ${tok}` } };

      // 1. Export alone: resources/s written.
      const alone = await (await runExport(iss, tok)).done;
      results.push({ name: `$export ${label} resources, system/*.rs (${runner} runner), alone`, rate: alone.count / alone.seconds, unit: 'resources/s', note: `${alone.count} in ${alone.seconds.toFixed(1)} s` });

      // 2. Idle read throughput, then the same while an export runs.
      const idle = await cannon(`FHIR read by id with token, idle (${runner} runner server)`, readUrl, read);
      results.push(idle);
      const during = await runExport(iss, tok);
      await during.started;
      const saved = settings.warmupSeconds;
      settings.warmupSeconds = 0; // the export must still be running while we measure
      const busy = await cannon(`FHIR read by id with token, during $export (${runner} runner)`, readUrl, read);
      settings.warmupSeconds = saved;
      const exp = await during.done;
      const ratio = busy.rate / idle.rate;
      const overlapped = exp.seconds >= settings.seconds;
      results.push({
        ...busy,
        target: '≥ 0.8× idle',
        note: `${(ratio * 100).toFixed(0)}% of idle; export took ${exp.seconds.toFixed(1)} s under load${overlapped ? '' : ' (shorter than the measurement: ratio is optimistic)'}`,
      });
    } finally {
      await server.stop();
    }
  }
}
