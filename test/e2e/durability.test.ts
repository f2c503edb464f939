/**
 * Issue #2: "A kill -9 loses no acknowledged write". Creates run against a real server process;
 * the process is killed with SIGKILL mid-load; after a restart every create that was answered 201
 * is still there.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { runCli, startServe, tempDir } from '../helpers/server.js';

describe('durability', () => {
  const tmp = tempDir('ss-kill-');
  after(() => tmp.remove());

  test('kill -9 during a write load loses no acknowledged create', async () => {
    assert.equal(runCli(tmp.dir, ['sandbox', 'create', 'dur', '--open', '--open-write']).status, 0);
    const server = await startServe(tmp.dir, ['--no-demo']);
    const base = `${server.url}/dur/open`;
    const acknowledged: string[] = [];
    let stop = false;
    const writer = async (w: number) => {
      for (let i = 0; !stop; i++) {
        try {
          const r = await fetch(`${base}/Patient`, {
            method: 'POST',
            headers: { 'content-type': 'application/fhir+json', prefer: 'return=minimal' },
            body: JSON.stringify({ resourceType: 'Patient', name: [{ family: `W${w}`, given: [`N${i}`] }] }),
          });
          if (r.status === 201) acknowledged.push(r.headers.get('location')!);
          await r.arrayBuffer();
        } catch {
          return; // the server is gone
        }
      }
    };
    const writers = Array.from({ length: 8 }, (_, w) => writer(w));
    while (acknowledged.length < 300) await new Promise((r) => setTimeout(r, 10));
    await server.stop('SIGKILL');
    stop = true;
    await Promise.all(writers);
    assert.ok(acknowledged.length >= 300);

    const restarted = await startServe(tmp.dir, ['--no-demo']);
    try {
      let missing = 0;
      for (const location of acknowledged) {
        const path = new URL(location).pathname.split('/_history')[0];
        const r = await fetch(`${restarted.url}${path}`);
        if (r.status !== 200) missing++;
        await r.arrayBuffer();
      }
      assert.equal(missing, 0, `${missing} of ${acknowledged.length} acknowledged creates lost`);
    } finally {
      await restarted.stop();
    }
  });
});
