/**
 * $export refusals (issue 8): headers, parameters, scopes, foreign tokens on status and file URLs,
 * cancel, one active export per client (429), restart survival, and the sweeper.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type BulkServer, download, exportAll, kickOff, poll, startBulkServer } from './helpers.js';

describe('$export refusals and job lifecycle', () => {
  let s: BulkServer;
  let sys: string;
  before(async () => {
    s = await startBulkServer();
    sys = await s.systemToken('exporter', 'system/*.rs');
  });
  after(() => s.close());

  const outcome = async (r: Response, status: number, re: RegExp) => {
    const body = await r.json();
    assert.equal(r.status, status, JSON.stringify(body));
    assert.equal(body.resourceType, 'OperationOutcome');
    assert.match(body.issue[0].diagnostics, re);
  };

  test('missing Prefer: respond-async or Accept: application/fhir+json → 400', async () => {
    await outcome(await kickOff(`${s.urls.iss}/$export`, sys, { headers: { prefer: '' } }), 400, /Prefer: respond-async/);
    await outcome(await kickOff(`${s.urls.iss}/$export`, sys, { headers: { accept: 'application/json' } }), 400, /Accept: application\/fhir\+json/);
  });

  test('unsupported _outputFormat, includeAssociatedData, unknown parameter, bad _since/_type/_typeFilter → 400', async () => {
    await outcome(await kickOff(`${s.urls.iss}/$export?_outputFormat=text/csv`, sys), 400, /_outputFormat/);
    await outcome(await kickOff(`${s.urls.iss}/$export?includeAssociatedData=LatestProvenanceResources`, sys), 400, /includeAssociatedData/);
    await outcome(await kickOff(`${s.urls.iss}/$export?_bogus=1`, sys), 400, /_bogus/);
    await outcome(await kickOff(`${s.urls.iss}/$export?_since=yesterday`, sys), 400, /_since/);
    await outcome(await kickOff(`${s.urls.iss}/$export?_type=Nope`, sys), 400, /unknown resource type/);
    await outcome(await kickOff(`${s.urls.iss}/$export?_typeFilter=${encodeURIComponent('Observation?nonsense=1')}`, sys), 400, /nonsense/);
    await outcome(await kickOff(`${s.urls.iss}/Patient/$export?_type=Practitioner`, sys), 400, /outside the Patient compartment/);
    await outcome(await kickOff(`${s.urls.iss}/$export?patient=Patient/BILIBABY`, sys), 400, /POST/);
    for (const f of ['application/fhir+ndjson', 'application/ndjson', 'ndjson']) {
      const ok = await exportAll(`${s.urls.iss}/$export?_type=Organization&_outputFormat=${encodeURIComponent(f)}`, sys);
      assert.equal(ok.manifest.output[0].type, 'Organization');
    }
  });

  test('Prefer: handling=lenient ignores unsupported parameters and reports them in the error file', async () => {
    const { manifest } = await exportAll(`${s.urls.iss}/$export?_type=Organization&_bogus=1`, sys, { headers: { prefer: 'respond-async, handling=lenient' } });
    assert.equal(manifest.error.length, 1);
    const r = await fetch(manifest.error[0].url, { headers: { authorization: `Bearer ${sys}` } });
    assert.equal(r.headers.get('content-type'), 'application/fhir+ndjson');
    const oo = JSON.parse((await r.text()).trim());
    assert.equal(oo.resourceType, 'OperationOutcome');
    assert.match(oo.issue[0].diagnostics, /_bogus/);
  });

  test('no token → 401; a _type outside the scopes → 403; unknown Group → 404', async () => {
    const r = await fetch(`${s.urls.iss}/$export`, { headers: { accept: 'application/fhir+json', prefer: 'respond-async' } });
    assert.equal(r.status, 401);
    const obs = await s.systemToken('obs-only', 'system/Observation.rs');
    await outcome(await kickOff(`${s.urls.iss}/$export?_type=Observation,Patient`, obs), 403, /Patient/);
    await outcome(await kickOff(`${s.urls.iss}/Group/nope/$export`, sys), 404, /not found/);
  });

  test('status and file URLs: a foreign client’s token gets 404 (revealing nothing), no token 401', async () => {
    const { manifest, statusUrl } = await exportAll(`${s.urls.iss}/$export?_type=Patient`, sys);
    const other = await s.systemToken('other-client', 'system/*.rs');
    for (const url of [statusUrl, manifest.output[0].url]) {
      const foreign = await fetch(url, { headers: { authorization: `Bearer ${other}` } });
      assert.equal(foreign.status, 404, url);
      const body = await foreign.text();
      assert.ok(!body.includes('BILIBABY') && !body.includes('Patient.ndjson'));
      assert.equal((await fetch(url)).status, 401);
      assert.equal((await fetch(url, { headers: { authorization: 'Bearer not-a-real-token-aaaaaaaaaaaa' } })).status, 401);
    }
    assert.equal((await fetch(statusUrl, { method: 'DELETE', headers: { authorization: `Bearer ${other}` } })).status, 404);
    // The owner still reads it.
    const own = await download(manifest, sys);
    assert.equal(own.get('Patient')!.length, 25);
  });

  test('one active export per client: a second kick-off → 429 with Retry-After; cancel deletes job and files', async () => {
    await s.services.bulk.stop(); // keep jobs queued so the test does not race the runner
    try {
      const first = await kickOff(`${s.urls.iss}/$export`, sys);
      assert.equal(first.status, 202);
      const statusUrl = first.headers.get('content-location')!;
      const second = await kickOff(`${s.urls.iss}/Patient/$export`, sys);
      assert.equal(second.status, 429);
      assert.ok(Number(second.headers.get('retry-after')) > 0);
      // Another client is not limited by it.
      const other = await kickOff(`${s.urls.iss}/$export?_type=Organization`, await s.systemToken('other-2', 'system/*.rs'));
      assert.equal(other.status, 202);
      const running = await fetch(statusUrl, { headers: { authorization: `Bearer ${sys}` } });
      assert.equal(running.status, 202);
      assert.ok(running.headers.get('x-progress'));
      assert.ok(Number(running.headers.get('retry-after')) > 0);
      const del = await fetch(statusUrl, { method: 'DELETE', headers: { authorization: `Bearer ${sys}` } });
      assert.equal(del.status, 202);
      assert.equal((await fetch(statusUrl, { headers: { authorization: `Bearer ${sys}` } })).status, 404);
      const again = await kickOff(`${s.urls.iss}/$export?_type=Organization`, sys);
      assert.equal(again.status, 202);
      await fetch(again.headers.get('content-location')!, { method: 'DELETE', headers: { authorization: `Bearer ${sys}` } });
    } finally {
      await s.services.bulk.start();
    }
  });

  test('cancel of a finished export deletes its files', async () => {
    const { manifest, statusUrl } = await exportAll(`${s.urls.iss}/$export?_type=Practitioner`, sys);
    const job = statusUrl.split('/').pop()!;
    const dir = path.join(s.dir, 'exports', String(s.sandbox.key), job);
    assert.ok(fs.existsSync(path.join(dir, 'Practitioner.ndjson')));
    assert.equal((await fetch(statusUrl, { method: 'DELETE', headers: { authorization: `Bearer ${sys}` } })).status, 202);
    assert.equal(fs.existsSync(dir), false);
    assert.equal((await fetch(manifest.output[0].url, { headers: { authorization: `Bearer ${sys}` } })).status, 404);
  });

  test('the sweeper deletes exports after the retention time', async () => {
    const { manifest, statusUrl } = await exportAll(`${s.urls.iss}/$export?_type=Organization`, sys);
    const job = statusUrl.split('/').pop()!;
    const dir = path.join(s.dir, 'exports', String(s.sandbox.key), job);
    assert.ok(fs.existsSync(dir));
    assert.equal(await s.services.bulk.sweep(Date.now() + 30_000), 0); // retention is 1 h by default
    assert.ok((await s.services.bulk.sweep(Date.now() + 3600_000 + 1000)) >= 1);
    assert.equal(fs.existsSync(dir), false);
    assert.equal((await fetch(statusUrl, { headers: { authorization: `Bearer ${sys}` } })).status, 404);
    assert.equal((await fetch(manifest.output[0].url, { headers: { authorization: `Bearer ${sys}` } })).status, 404);
  });
});

describe('$export survives a restart', () => {
  test('queued and interrupted (running) jobs resume after a restart and complete', async () => {
    let s = await startBulkServer();
    const dir = s.dir;
    const tok = await s.systemToken('exporter', 'system/*.rs');
    const tok2 = await s.systemToken('exporter-2', 'system/*.rs');
    await s.services.bulk.stop();
    const a = await kickOff(`${s.urls.iss}/Group/demo-patients/$export?_type=Patient`, tok);
    const b = await kickOff(`${s.urls.iss}/$export?_type=Organization`, tok2);
    assert.equal(a.status, 202);
    assert.equal(b.status, 202);
    // Simulate a crash in the middle of job b: claimed (running) but never finished.
    const jobB = b.headers.get('content-location')!.split('/').pop()!;
    assert.equal(await s.services.bulk.jobs.claim(jobB), true);
    await s.close({ keepData: true });

    s = await startBulkServer({ dir });
    // Same data dir, new port: the status URLs keep their path.
    const moved = (r: Response) => `${s.config.publicUrl}${new URL(r.headers.get('content-location')!).pathname}`;
    try {
      const ra = await poll(moved(a), tok);
      assert.equal(ra.status, 200, JSON.stringify(ra.body));
      assert.equal(ra.body.output[0].count, 25);
      const rb = await poll(moved(b), tok2);
      assert.equal(rb.status, 200, JSON.stringify(rb.body));
      assert.equal(rb.body.output[0].count, 3);
      assert.equal((await s.services.bulk.jobs.byId(jobB))?.attempts, 2);
    } finally {
      await s.close();
      assert.equal(fs.existsSync(dir), false);
    }
  });
});
