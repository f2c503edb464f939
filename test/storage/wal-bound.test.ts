/**
 * Issue 17: sustained writes must not grow SQLite's write-ahead log without bound. A real server
 * process takes validated Observation creates over HTTP at full speed for 60 s (5 connections, as the
 * report that found the problem) while this test polls the WAL file's size. It asserts:
 * - the WAL never passes its limit plus one checkpoint's worth (the log cannot start over while a
 *   checkpoint copies it; writers keep appending meanwhile): at most the margin the checkpoint worker
 *   has before a writing request checkpoints itself (wal.ts BACKSTOP_SHARE, 16 MiB), plus one create;
 * - the limit was really reached (escalated checkpoints ran, `/readyz` says so, a warning was logged);
 * - after the writes stop, the file shrinks to `journal_size_limit` within 5 s;
 * - write p99 stays under 50 ms while the escalated checkpoints run.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import autocannon from 'autocannon';
import { BACKSTOP_SHARE, DEFAULT_WAL_LIMIT_BYTES, MIB, walLimits } from '../../src/storage/sqlite/wal.js';
import { runCli, startServe, tempDir } from '../helpers/server.js';

const SECONDS = 60;
const LIMIT = DEFAULT_WAL_LIMIT_BYTES;
const JOURNAL_SIZE_LIMIT = walLimits(LIMIT).journalSizeLimitBytes;

const observation = (i: number) =>
  JSON.stringify({
    resourceType: 'Observation',
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: '58941-6', display: 'Transcutaneous Bilirubin' }] },
    subject: { reference: 'Patient/wal-1' },
    effectiveDateTime: '2018-03-06T10:00:00Z',
    valueQuantity: { value: 5 + (i % 100) / 10, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
  });

async function until(cond: () => boolean, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > timeoutMs) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return performance.now() - t0;
}

describe('SQLite WAL under sustained writes (issue 17)', () => {
  const tmp = tempDir('ss-wal-');
  after(() => tmp.remove());

  test(`${SECONDS} s of validated creates at full speed: bounded WAL, shrinks after, p99 < 50 ms`, { timeout: (SECONDS + 90) * 1000 }, async (t) => {
    assert.equal(runCli(tmp.dir, ['sandbox', 'create', 'wal', '--open', '--open-write']).status, 0);
    const server = await startServe(tmp.dir, ['--no-demo'], { SMART_SANDBOX_WAL_LIMIT: String(LIMIT) });
    const wal = path.join(tmp.dir, 'smart-sandbox.db-wal');
    const walBytes = () => {
      try {
        return fs.statSync(wal).size;
      } catch {
        return 0;
      }
    };
    const base = `${server.url}/wal/open`;
    const headers = { 'content-type': 'application/fhir+json', prefer: 'return=minimal' };
    try {
      const put = await fetch(`${base}/Patient/wal-1`, { method: 'PUT', headers, body: JSON.stringify({ resourceType: 'Patient', id: 'wal-1', name: [{ family: 'Wal' }] }) });
      assert.equal(put.status, 201, await put.text());
      // Warm-up: the first write loads the R4 definitions (seconds), which is not what is measured here.
      for (let i = 0; i < 20; i++) {
        const r = await fetch(`${base}/Observation`, { method: 'POST', headers, body: observation(i) });
        assert.equal(r.status, 201, await r.text());
      }

      let peak = 0;
      let samples = 0;
      const poll = setInterval(() => {
        peak = Math.max(peak, walBytes());
        samples++;
      }, 5);
      let load: autocannon.Result;
      try {
        load = await autocannon({
          url: `${base}/Observation`,
          method: 'POST',
          headers,
          body: observation(0),
          connections: 5,
          duration: SECONDS,
        });
      } finally {
        clearInterval(poll);
      }
      peak = Math.max(peak, walBytes());
      const ready = (await (await fetch(`${server.url}/readyz`)).json()) as {
        status: string;
        wal: { bytes: number; limitBytes: number; journalSizeLimitBytes: number; escalations: number; lastEscalation?: { ms: number } };
      };
      const shrinkMs = await until(() => walBytes() <= JOURNAL_SIZE_LIMIT, 5000);
      const creates = load.requests.total;
      t.diagnostic(
        `${creates} creates in ${SECONDS} s (${Math.round(load.requests.average)}/s), p50 ${load.latency.p50} ms, p99 ${load.latency.p99} ms, max ${load.latency.max} ms; ` +
          `WAL peak ${(peak / MIB).toFixed(1)} MiB over ${samples} samples, ${ready.wal.escalations} escalated checkpoints (the last took ${ready.wal.lastEscalation?.ms} ms), shrank in ${Math.round(shrinkMs)} ms`,
      );

      assert.equal(load.errors + load.timeouts, 0, 'no request failed');
      assert.equal(load.non2xx, 0, 'every create answered 201');
      // The limit was reached and the escalation ran: without it the WAL only grows.
      assert.equal(ready.status, 'ok');
      assert.equal(ready.wal.limitBytes, LIMIT);
      assert.equal(ready.wal.journalSizeLimitBytes, JOURNAL_SIZE_LIMIT);
      assert.ok(ready.wal.escalations >= 1, `the WAL never reached its limit (${creates} creates): the test proves nothing`);
      assert.match(server.output(), /warning: SQLite WAL reached [\d.]+ MiB, past its limit of 64\.0 MiB/);
      const bound = LIMIT * (1 + BACKSTOP_SHARE) + MIB;
      assert.ok(peak <= bound, `the WAL reached ${(peak / MIB).toFixed(1)} MiB, past ${(bound / MIB).toFixed(1)} MiB`);
      assert.ok(walBytes() <= JOURNAL_SIZE_LIMIT, `the WAL is still ${(walBytes() / MIB).toFixed(1)} MiB 5 s after the writes stopped`);
      assert.ok(load.latency.p99 < 50, `write p99 ${load.latency.p99} ms`);
    } finally {
      await server.stop();
    }
  });
});
