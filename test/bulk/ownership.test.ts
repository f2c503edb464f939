/**
 * Issue 12: an export belongs to the client AND the user (or system client) that started it. Two
 * users of one public app: neither sees, downloads nor cancels the other's export (404, the answer
 * for an unknown job), and the one-active-export limit counts per user. A Group exported under a
 * patient token lists that patient's member entry only (SUBSETTED).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type BulkServer, download, exportAll, kickOff, poll, startBulkServer } from './helpers.js';

const SUBSETTED = 'SUBSETTED';

describe('$export jobs belong to a client and a user', () => {
  let s: BulkServer;
  let alice: string;
  let bob: string;
  before(async () => {
    s = await startBulkServer();
    alice = await s.userToken('family-app', 'alice', 'BILIBABY');
    bob = await s.userToken('family-app', 'bob', 'SMART-1288992');
  });
  after(() => s.close());

  const auth = (t: string) => ({ authorization: `Bearer ${t}` });

  test('another user of the same public app gets 404 on status, files and cancel; the owner keeps them', async () => {
    const { manifest, statusUrl } = await exportAll(`${s.urls.iss}/Patient/$export?_type=Patient`, alice);
    const sys = await s.systemToken('family-app-backend', 'system/*.rs');
    for (const other of [bob, sys]) {
      for (const url of [statusUrl, manifest.output[0].url]) {
        const r = await fetch(url, { headers: auth(other) });
        assert.equal(r.status, 404, url);
        const body = await r.text();
        assert.ok(!body.includes('BILIBABY') && !body.includes('ndjson'), body);
      }
      assert.equal((await fetch(statusUrl, { method: 'DELETE', headers: auth(other) })).status, 404);
    }
    assert.equal((await fetch(statusUrl, { headers: auth(alice) })).status, 200, 'the owner still sees it after the refused cancel');
    const own = await download(manifest, alice);
    assert.deepEqual(
      own.get('Patient')!.map((p) => p.id),
      ['BILIBABY'],
    );
  });

  test('the one-active-export limit counts per user: bob is not blocked by alice, alice is', async () => {
    await s.services.bulk.stop(); // keep the jobs queued
    try {
      const a = await kickOff(`${s.urls.iss}/Patient/$export`, alice);
      assert.equal(a.status, 202);
      assert.equal((await kickOff(`${s.urls.iss}/Patient/$export`, alice)).status, 429);
      const b = await kickOff(`${s.urls.iss}/Patient/$export`, bob);
      assert.equal(b.status, 202, await b.clone().text());
      for (const [r, t] of [
        [a, alice],
        [b, bob],
      ] as const) {
        const del = await fetch(r.headers.get('content-location')!, { method: 'DELETE', headers: auth(t) });
        assert.equal(del.status, 202);
      }
    } finally {
      await s.services.bulk.start();
    }
  });

  test('a Group exported under a patient token lists only that patient as member, marked SUBSETTED', async () => {
    const { manifest, statusUrl } = await exportAll(`${s.urls.iss}/Group/demo-patients/$export?_type=Group,Patient`, alice);
    const files = await download(manifest, alice);
    const [group] = files.get('Group')!;
    assert.equal(group.id, 'demo-patients');
    assert.deepEqual(
      group.member.map((m: any) => m.entity.reference),
      ['Patient/BILIBABY'],
    );
    assert.ok(group.meta.tag.some((t: any) => t.code === SUBSETTED && t.system === 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue'));
    assert.deepEqual(
      files.get('Patient')!.map((p) => p.id),
      ['BILIBABY'],
    );
    // The same Group exported by a system client is whole (several members, no SUBSETTED).
    const sys = await s.systemToken('group-exporter', 'system/*.rs');
    const whole = await exportAll(`${s.urls.iss}/Group/demo-patients/$export?_type=Group`, sys);
    const [full] = (await download(whole.manifest, sys)).get('Group')!;
    assert.ok(full.member.length > 1);
    assert.ok(!(full.meta?.tag ?? []).some((t: any) => t.code === SUBSETTED));
    const done = await poll(statusUrl, alice);
    assert.equal(done.status, 200);
  });
});
