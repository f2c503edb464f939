/**
 * The time budget of read queries through the public interface: a server whose budget is tiny
 * answers costly searches and history with a 400 (or, saturated, 503) OperationOutcome `too-costly`,
 * while /healthz and reads by id stay fast — no request holds the event loop (issue 12). On
 * PostgreSQL the budget is the server's own `statement_timeout`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { QueryBudgetExceeded } from '../../src/storage/backend.js';
import { openPostgresBackend } from '../../src/storage/postgres/backend.js';
import { createTestDatabase, postgresSkip } from '../helpers/postgres.js';
import { runCli, type ServerProcess, startServe, tempDir } from '../helpers/server.js';

const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.99))];

describe('query budget over HTTP (SQLite)', () => {
  const dir = tempDir('ss-budget-');
  let server: ServerProcess;
  let base: string;
  before(async () => {
    const made = runCli(dir.dir, ['sandbox', 'create', 'big', '--open', '--open-write', '--data', 'synthetic:3000']);
    assert.equal(made.status, 0, made.stderr);
    // 1 ms: every search and history query on these 3,000 resources is past it, while reads by id
    // (primary-key lookups on the server's own connection) are not budgeted.
    server = await startServe(dir.dir, ['--no-demo'], { SMART_SANDBOX_QUERY_BUDGET_MS: '1' });
    base = `${server.url}/big/open`;
  });
  after(async () => {
    await server?.stop();
    dir.remove();
  });

  test('costly searches and history answer too-costly at once; /healthz p99 stays under 100 ms meanwhile', async () => {
    const costly = [
      'Observation?_sort=-date,code,value-quantity&_count=100',
      'Observation?value-quantity=gt0&_total=accurate',
      'Observation?subject.name:contains=a&_total=accurate',
      'Observation/_history?_count=500',
      'Observation?status=final&_sort=-value-quantity,-date&_total=accurate',
    ];
    // Warm up first: the FHIR definitions load on the first request (about a second, once per process).
    for (const q of costly) await (await fetch(`${base}/${q}`)).arrayBuffer();
    const health: number[] = [];
    let probing = true;
    const probe = (async () => {
      while (probing) {
        const t = performance.now();
        const r = await fetch(`${server.url}/healthz`);
        await r.arrayBuffer();
        health.push(performance.now() - t);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    // Four clients, each sending costly requests back to back.
    const answers: { query: string; status: number; body: { resourceType: string; issue?: { code: string }[] } }[] = [];
    await Promise.all(
      Array.from({ length: 4 }, async (_, c) => {
        for (let i = 0; i < 8; i++) {
          const r = await fetch(`${base}/${costly[(c + i) % costly.length]}`);
          answers.push({ query: costly[(c + i) % costly.length], status: r.status, body: (await r.json()) as { resourceType: string; issue?: { code: string }[] } });
        }
      }),
    );
    probing = false;
    await probe;
    for (const a of answers) {
      assert.ok(a.status === 400 || a.status === 503, `status ${a.status} for ${a.query}`);
      assert.equal(a.body.resourceType, 'OperationOutcome');
      assert.equal(a.body.issue?.[0].code, 'too-costly');
    }
    assert.ok(answers.some((a) => a.status === 400), 'at least one query ran and was stopped at its budget');
    assert.ok(health.length >= 5, `only ${health.length} health probes`);
    assert.ok(p99(health) < 100, `/healthz p99 ${p99(health).toFixed(1)} ms (${health.map((h) => h.toFixed(0)).join(" ")})`);
    // Writes and reads by id are not budgeted searches: they keep working.
    const created = await fetch(`${base}/Patient`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Budget' }] }),
    });
    assert.equal(created.status, 201);
    const { id } = (await created.json()) as { id: string };
    const read = await fetch(`${base}/Patient/${id}`);
    assert.equal(read.status, 200);
  });
});

describe('query budget on PostgreSQL: statement_timeout', { skip: await postgresSkip() }, () => {
  test('a read query past the budget fails with QueryBudgetExceeded; writes and other reads go on', async () => {
    const db = await createTestDatabase();
    const backend = await openPostgresBackend(db.url, { queryBudgetMs: 50 });
    try {
      await assert.rejects(backend.resources.query('SELECT pg_sleep(2)', []), (e) => e instanceof QueryBudgetExceeded && !e.busy);
      assert.deepEqual(await backend.resources.query('SELECT 1 AS x', []), [{ x: 1 }]);
      const sandboxes = await backend.tenants.list();
      assert.ok(Array.isArray(sandboxes));
    } finally {
      await backend.close();
      await db.drop();
    }
  });
});
