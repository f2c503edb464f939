/**
 * The worst requests for each limit (src/config/limits.ts), sent to a running `smart-sandbox serve`
 * over real HTTP while `/healthz` is polled: every one is refused with a 400 OperationOutcome naming
 * its limit, none is a 5xx, and /healthz answers with a p99 under 100 ms throughout — nothing that is
 * refused holds the event loop first. Also: JSON bodies of the launch and console APIs share the
 * limits, and bulk-export responses are never cached.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { Worker } from 'node:worker_threads';
import { after, before, describe, test } from 'node:test';
import { LIMITS } from '../../src/config/limits.js';
import { cliJson, type ServerProcess, startServe, tempDir } from '../helpers/server.js';

const ADMIN = 'hostile-load-admin-token-0123456789';

interface Worst {
  name: string;
  limit: string;
  /** 400, or 413 for a body over a size limit. */
  status?: number;
  /** Announce this many body bytes but send none: the server must answer from the headers alone. */
  announce?: number;
  url: string;
  init: RequestInit;
}

async function clientToken(url: string, dir: string, id: string, scope: string): Promise<string> {
  const c = cliJson(dir, ['client', 'add', 'demo', id, '--grant', 'client_credentials', '--scope', scope]);
  const r = await fetch(`${url}/demo/auth/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${id}:${c.client_secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope }),
  });
  const body = await r.json();
  assert.equal(r.status, 200, JSON.stringify(body));
  return body.access_token as string;
}

/** Sends only the headers of a request announcing `w.announce` body bytes; the answer must not wait for them. */
function announced(w: Worst): Promise<{ status: number; text: () => Promise<string> }> {
  return new Promise((resolve, reject) => {
    const req = http.request(w.url, { method: w.init.method, headers: { ...(w.init.headers as Record<string, string>), 'content-length': String(w.announce) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, text: async () => text });
        req.destroy();
      });
    });
    req.on('error', reject);
    req.flushHeaders();
  });
}

describe('hostile input against a running server', () => {
  const tmp = tempDir('ss-hostile-');
  let server: ServerProcess;
  let worst: Worst[];

  before(async () => {
    server = await startServe(tmp.dir, [], { SMART_SANDBOX_ADMIN_TOKEN: ADMIN });
    const token = await clientToken(server.url, tmp.dir, 'hostile', 'system/*.cruds');
    const orchestrator = await clientToken(server.url, tmp.dir, 'hostile-launcher', 'smart/orchestrate_launch');
    const iss = `${server.url}/demo/data`;
    const fhir = { authorization: `Bearer ${token}` };
    const form = { ...fhir, 'content-type': 'application/x-www-form-urlencoded' };
    const json = { ...fhir, 'content-type': 'application/fhir+json' };
    // Warm-up: the R4 definitions load lazily on the first search and the first validated write
    // (src/fhir/service.ts), a one-time cost of a fresh process, not of any request below.
    assert.equal((await fetch(`${iss}/Patient?name=x&_sort=family`, { headers: fhir })).status, 200);
    const warm = await fetch(`${iss}/Basic`, { method: 'POST', headers: json, body: '{"resourceType":"Basic","code":{"text":"warm-up"}}' });
    assert.equal(warm.status, 201, await warm.text());
    const nested = (depth: number) => `${'{"a":['.repeat(depth)}${']}'.repeat(depth)}`;
    const many = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join(',');
    worst = [
      { name: 'GET _sort with 300 keys', limit: 'sortKeys', url: `${iss}/Patient?_sort=${many(300, (i) => (i % 2 ? 'family' : '-birthdate'))}`, init: { headers: fhir } },
      {
        name: 'POST _search with 6,000 _sort keys',
        limit: 'sortKeys',
        url: `${iss}/Patient/_search`,
        init: { method: 'POST', headers: form, body: new URLSearchParams({ _sort: many(6000, () => 'family') }).toString() },
      },
      { name: 'OR-list of 1,000 values', limit: 'orValues', url: `${iss}/Patient?_id=${many(1000, (i) => `p${i}`)}`, init: { headers: fhir } },
      {
        name: 'POST _search OR-list of 1,500 values',
        limit: 'orValues',
        url: `${iss}/Observation/_search`,
        init: { method: 'POST', headers: form, body: new URLSearchParams({ code: many(1500, (i) => `http://loinc.org|${i}`) }).toString() },
      },
      { name: 'chain of 1,500 hops', limit: 'chainDepth', url: `${iss}/Observation?subject${'.partof'.repeat(1500)}=x`, init: { headers: fhir } },
      {
        name: 'POST _search chain of 4,500 hops',
        limit: 'chainDepth',
        url: `${iss}/Observation/_search`,
        init: { method: 'POST', headers: form, body: `subject${'.organization'.repeat(4500)}=x` },
      },
      {
        name: '_has nested 2,500 levels (POST)',
        limit: 'hasDepth',
        url: `${iss}/Patient/_search`,
        init: { method: 'POST', headers: form, body: `${'_has:Observation:subject:'.repeat(2500)}code=x` },
      },
      {
        name: '2,000 _include',
        limit: 'includes',
        url: `${iss}/Observation/_search`,
        init: { method: 'POST', headers: form, body: Array.from({ length: 2000 }, () => '_include=Observation:subject').join('&') },
      },
      {
        name: 'POST _search form announcing 15 MB',
        limit: 'formBytes',
        status: 413,
        announce: 15_000_000,
        url: `${iss}/Patient/_search`,
        init: { method: 'POST', headers: form },
      },
      { name: '_count of 10^20', limit: 'count', url: `${iss}/Observation?_count=100000000000000000000`, init: { headers: fhir } },
      { name: '_offset 2^63 on search', limit: 'offset', url: `${iss}/Observation?_offset=9223372036854775808`, init: { headers: fhir } },
      { name: '_offset 2^63 on history', limit: 'offset', url: `${iss}/Observation/_history?_offset=9223372036854775808`, init: { headers: fhir } },
      {
        name: 'resource nested 50,000 levels',
        limit: 'jsonDepth',
        url: `${iss}/Patient`,
        init: { method: 'POST', headers: json, body: `{"resourceType":"Patient","extension":[${nested(50_000)}]}` },
      },
      {
        name: 'Patient with 100,000 names (2 MB)',
        limit: 'jsonArrayLength',
        url: `${iss}/Patient`,
        init: { method: 'POST', headers: json, body: JSON.stringify({ resourceType: 'Patient', name: Array.from({ length: 100_000 }, (_, i) => ({ family: `F${i}` })) }) },
      },
      {
        name: 'Patient of 0.9 MB with 270,000 search index entries (prepared off the event loop)',
        limit: 'indexRows',
        url: `${iss}/Patient`,
        init: {
          method: 'POST',
          headers: json,
          body: JSON.stringify({ resourceType: 'Patient', name: Array.from({ length: 1000 }, (_, i) => ({ family: `F${i}`, given: Array.from({ length: 90 }, (_, j) => `G${i}x${j}`) })) }),
        },
      },
      {
        name: 'Patient of 2 MB',
        limit: 'resourceBytes',
        url: `${iss}/Patient`,
        init: {
          method: 'POST',
          headers: json,
          body: JSON.stringify({ resourceType: 'Patient', text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${'x'.repeat(2_000_000)}</div>` } }),
        },
      },
      {
        name: 'launch parameters nested 30,000 levels',
        limit: 'jsonDepth',
        url: `${iss}/_services/smart/Launch`,
        init: {
          method: 'POST',
          headers: { authorization: `Bearer ${orchestrator}`, 'content-type': 'application/json' },
          // Arrays: 30,000 levels fit the launch API's 64 KiB body limit.
          body: `{"client_id":"bilirubin_chart","parameters":{"patient":"BILIBABY","deep":${'['.repeat(30_000)}${']'.repeat(30_000)}}}`,
        },
      },
      {
        name: 'console API body nested 50,000 levels',
        limit: 'jsonDepth',
        url: `${server.url}/api/sandboxes`,
        init: { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: `{"id":"x","data":${nested(50_000)}}` },
      },
    ];
  });

  after(async () => {
    await server?.stop();
    tmp.remove();
  });

  test('each worst request is a 400 naming its limit, and /healthz keeps a p99 under 100 ms meanwhile', async (t) => {
    // The poller runs on its own thread, so that building and sending the worst requests in this
    // process cannot delay its samples: what it measures is the server's responsiveness.
    const poller = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       const latencies = [];
       let sending = true;
       parentPort.on('message', () => { sending = false; });
       (async () => {
         await (await fetch(workerData + '/healthz')).arrayBuffer(); // loads fetch itself: not a sample
         parentPort.postMessage('ready');
         while (sending) {
           const t0 = performance.now();
           const r = await fetch(workerData + '/healthz');
           await r.arrayBuffer();
           latencies.push(performance.now() - t0);
           await new Promise((resolve) => setTimeout(resolve, 2));
         }
         parentPort.postMessage(latencies);
       })();`,
      { eval: true, workerData: server.url },
    );
    const sampled = new Promise<number[]>((resolve, reject) => {
      poller.on('message', (m) => {
        if (Array.isArray(m)) resolve(m);
      });
      poller.once('error', reject);
    });
    await new Promise((resolve) => poller.once('message', resolve)); // ready
    const failures: string[] = [];
    const slowest: [number, string][] = [];
    try {
      for (let round = 0; round < 3; round++) {
        // One at a time: each request on its own must not hold the server (machine noise stays low).
        for (let i = 0; i < worst.length; i += 1) {
          await Promise.all(
            worst.slice(i, i + 1).map(async (w) => {
              const t0 = performance.now();
              const r = w.announce ? await announced(w) : await fetch(w.url, w.init);
              const text = await r.text();
              slowest.push([performance.now() - t0, w.name]);
              const allowed = `limit ${w.limit} (at most ${LIMITS[w.limit as keyof typeof LIMITS]}`;
              if (r.status !== (w.status ?? 400) || !text.includes(allowed)) {
                failures.push(`${w.name}: ${r.status} ${text.slice(0, 200)}`);
              } else if (JSON.parse(text).resourceType !== 'OperationOutcome') {
                failures.push(`${w.name}: not an OperationOutcome`);
              }
            }),
          );
        }
      }
    } finally {
      poller.postMessage('stop');
    }
    const latencies = await sampled;
    await poller.terminate();
    assert.deepEqual(failures, []);
    latencies.sort((a, b) => a - b);
    const p99 = latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))];
    assert.ok(latencies.length >= 20, `only ${latencies.length} /healthz samples`);
    slowest.sort((a, b) => b[0] - a[0]);
    const tail = latencies.slice(-5).map((x) => x.toFixed(0)).join(', ');
    const top = slowest.slice(0, 3).map(([ms, name]) => `${name} ${ms.toFixed(0)} ms`).join('; ');
    t.diagnostic(`/healthz p99 ${p99.toFixed(1)} ms over ${latencies.length} samples; slowest ${tail} ms`);
    assert.ok(p99 < 100, `/healthz p99 ${p99.toFixed(1)} ms over ${latencies.length} samples (slowest ${tail} ms); slowest requests: ${top}`);
  });

  test('bulk export responses carry no-store and vary by Authorization and Origin', async () => {
    const r = await fetch(`${server.url}/demo/data/$export-status/nope`, { headers: { origin: 'http://app.example' } });
    assert.ok(r.status >= 400 && r.status < 500);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.match(r.headers.get('vary') ?? '', /Authorization/);
    assert.match(r.headers.get('vary') ?? '', /Origin/);
  });
});
