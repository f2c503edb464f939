/**
 * Soak (issue 12 item 8): SOAK_SECONDS (default 60) of mixed load on one `serve` child — token reads,
 * searches, validated writes, whole SSO launches (register → authorize → token) and one Bulk Data
 * export — with 0 errors and a flat heap: heap used after a full GC may grow less than 10% from the
 * end of the warm-up (SOAK_WARMUP seconds, default 10) to the end of the run. The child runs with
 * --expose-gc and bench/gc-probe.ts, which answers heap samples over IPC.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { launchOnce } from './auth.js';
import { CLI, freePort, type Result, tmpDir, waitFor } from './harness.js';

const ADMIN = 'soak-admin-token-0123456789abcdef';
const SECRET = 'soak-svc-secret-0123456789abcdef';
const SECONDS = Number(process.env.SOAK_SECONDS ?? 60);
const WARMUP = Number(process.env.SOAK_WARMUP ?? 10);
/** Closed-loop workers per kind of request. */
const WORKERS = { read: 3, search: 2, write: 1, launch: 2 } as const;
type Kind = keyof typeof WORKERS | 'export';

interface Heap {
  heapUsed: number;
  rss: number;
  gc: boolean;
}

function heapSample(child: ChildProcess): Promise<Heap> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no heap sample from the server within 30 s')), 30_000);
    const on = (m: Heap & { type?: string }) => {
      if (m?.type !== 'heap') return;
      clearTimeout(timer);
      child.off('message', on);
      resolve(m);
    };
    child.on('message', on);
    child.send({ type: 'heap' });
  });
}

async function json(url: string, init: RequestInit & { expect?: number } = {}): Promise<any> {
  const r = await fetch(url, init);
  const text = await r.text();
  if (r.status !== (init.expect ?? 200)) throw new Error(`${init.method ?? 'GET'} ${url}: ${r.status} ${text.slice(0, 200)}`);
  return text ? JSON.parse(text) : undefined;
}

const OBSERVATION = JSON.stringify({
  resourceType: 'Observation',
  status: 'final',
  // Not the bilirubin code: the searches below keep returning BILIBABY's 8 bilirubin results.
  code: { coding: [{ system: 'http://loinc.org', code: '8480-6', display: 'Systolic blood pressure' }] },
  subject: { reference: 'Patient/BILIBABY' },
  effectiveDateTime: '2018-03-06T10:00:00Z',
  valueQuantity: { value: 120, unit: 'mm[Hg]', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
});

/** One SSO launch of the demo app (bench/auth.ts), then the launched app's first read with its token. */
async function launch(base: string, token: string, persona: string): Promise<void> {
  const tok = await launchOnce(base, token, persona);
  await json(`${base}/demo/data/Patient/BILIBABY`, { headers: { authorization: `Bearer ${tok.access_token}` } });
}

/** Kicks off a system export, polls it to completion and downloads every file; returns the resource count. */
async function bulkExport(iss: string, token: string): Promise<number> {
  const auth = { authorization: `Bearer ${token}` };
  const k = await fetch(`${iss}/$export?_type=Patient,Observation,Condition,Encounter`, { headers: { ...auth, accept: 'application/fhir+json', prefer: 'respond-async' } });
  await k.arrayBuffer();
  if (k.status !== 202) throw new Error(`$export kick-off: ${k.status}`);
  const status = k.headers.get('content-location')!;
  for (;;) {
    const r = await fetch(status, { headers: auth });
    if (r.status === 200) {
      const manifest = await r.json();
      let n = 0;
      for (const o of manifest.output as { url: string }[]) n += (await (await fetch(o.url, { headers: auth })).text()).split('\n').filter(Boolean).length;
      return n;
    }
    await r.arrayBuffer();
    if (r.status !== 202) throw new Error(`$export status: ${r.status}`);
    await new Promise((res) => setTimeout(res, 500));
  }
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : 0;
};

export async function benchSoak(results: Result[]): Promise<void> {
  const dataDir = tmpDir();
  const port = await freePort();
  const child = spawn(process.execPath, ['--expose-gc', '--import', path.resolve('dist/bench/gc-probe.js'), CLI, 'serve', '--port', String(port), '--data-dir', dataDir], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    env: { ...process.env, LOG_LEVEL: 'error', SMART_SANDBOX_ADMIN_TOKEN: ADMIN },
  });
  const base = `http://127.0.0.1:${port}`;
  const iss = `${base}/demo/data`;
  try {
    await waitFor(`${base}/healthz`, 120_000);
    const admin = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
    await json(`${base}/api/sandboxes/demo/apps`, {
      method: 'POST',
      expect: 201,
      headers: admin,
      body: JSON.stringify({ clientId: 'soak-svc', secret: SECRET, grantTypes: ['client_credentials'], scope: 'system/*.* smart/orchestrate_launch' }),
    });
    const { personas } = await json(`${base}/api/sandboxes/demo/personas`, { headers: admin });
    const persona = personas.find((p: { resource: string }) => p.resource.startsWith('Practitioner/')).username;
    let token = '';
    let tokenAt = 0;
    const currentToken = async () => {
      // Backend tokens live 5 minutes (SMART Backend Services): renew well before.
      if (token === '' || performance.now() - tokenAt > 120_000) {
        token = (
          await json(`${base}/demo/auth/token`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`soak-svc:${SECRET}`).toString('base64')}` },
            body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'system/*.* smart/orchestrate_launch' }),
          })
        ).access_token;
        tokenAt = performance.now();
      }
      return token;
    };
    await currentToken();

    const ops: Record<Kind, () => Promise<unknown>> = {
      read: async () => json(`${iss}/Patient/BILIBABY`, { headers: { authorization: `Bearer ${await currentToken()}` } }),
      search: async () => {
        const q = Math.random() < 0.5 ? `Observation?patient=BILIBABY&code=http://loinc.org|58941-6&_count=50&_sort=-date` : 'Patient?gender=female&_count=20&_summary=true';
        return json(`${iss}/${q}`, { headers: { authorization: `Bearer ${await currentToken()}` } });
      },
      write: async () => json(`${iss}/Observation`, { method: 'POST', expect: 201, headers: { authorization: `Bearer ${await currentToken()}`, 'content-type': 'application/fhir+json', prefer: 'return=minimal' }, body: OBSERVATION }),
      launch: async () => launch(base, await currentToken(), persona),
      export: async () => bulkExport(iss, await currentToken()),
    };

    const latencies: number[] = [];
    const counts: Record<Kind, number> = { read: 0, search: 0, write: 0, launch: 0, export: 0 };
    let errors = 0;
    let firstError: string | undefined;
    const once = async (kind: Kind) => {
      const t0 = performance.now();
      try {
        const out = await ops[kind]();
        latencies.push(performance.now() - t0);
        counts[kind]++;
        return out;
      } catch (e) {
        errors++;
        firstError ??= `${kind}: ${(e as Error).message}`;
      }
    };

    const t0 = performance.now();
    const deadline = t0 + SECONDS * 1000;
    const heap: { at: number; mb: number }[] = [];
    let baseline: Heap | undefined;
    const sampler = (async () => {
      // Baseline at the end of the warm-up, then every 5 s.
      await new Promise((r) => setTimeout(r, WARMUP * 1000));
      baseline = await heapSample(child);
      heap.push({ at: (performance.now() - t0) / 1000, mb: baseline.heapUsed / 2 ** 20 });
      while (performance.now() < deadline - 5000) {
        await new Promise((r) => setTimeout(r, 5000));
        const s = await heapSample(child);
        heap.push({ at: (performance.now() - t0) / 1000, mb: s.heapUsed / 2 ** 20 });
      }
    })();
    let exported = 0;
    const exporter = (async () => {
      // One export, started after the warm-up so that its memory counts against the soak.
      await new Promise((r) => setTimeout(r, (WARMUP + 5) * 1000));
      exported = ((await once('export')) as number | undefined) ?? 0;
    })();
    const loops = (Object.keys(WORKERS) as (keyof typeof WORKERS)[]).flatMap((kind) =>
      Array.from({ length: WORKERS[kind] }, async () => {
        while (performance.now() < deadline) await once(kind);
      }),
    );
    await Promise.all([...loops, sampler, exporter]);
    const elapsed = (performance.now() - t0) / 1000;
    const final = await heapSample(child);
    if (!baseline) throw new Error('no baseline heap sample');
    if (!final.gc) throw new Error('the server did not run with --expose-gc: heap samples would include garbage');
    const growth = (final.heapUsed - baseline.heapUsed) / baseline.heapUsed;
    const mb = (b: number) => (b / 2 ** 20).toFixed(1);
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    results.push({
      name: `soak: ${SECONDS} s mixed load (token reads, searches, writes, SSO launches, 1 bulk export), ${Object.values(WORKERS).reduce((a, b) => a + b, 0)} workers`,
      rate: total / elapsed,
      unit: 'ops/s',
      p50: Math.round(pct(latencies, 50)),
      p99: Math.round(pct(latencies, 99)),
      errors,
      target: '0 errors; heap after GC < +10% after warm-up',
      note:
        `${firstError ? `first error: ${firstError}; ` : ''}heap used after GC ${mb(baseline.heapUsed)} → ${mb(final.heapUsed)} MB (${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)}%) ` +
        `from ${WARMUP} s to the end (samples ${heap.map((h) => h.mb.toFixed(1)).join(', ')} MB), rss ${mb(final.rss)} MB; ` +
        `${counts.read} reads, ${counts.search} searches, ${counts.write} writes, ${counts.launch} launches, export of ${exported} resources` +
        (growth >= 0.1 || errors > 0 ? ' — **missed**' : ''),
    });
  } finally {
    await new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }
}
