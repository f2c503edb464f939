/**
 * Issue #7 "Bad input and faults": the database goes away mid-load. A TCP proxy between the node and
 * PostgreSQL (never the shared server itself) is cut during a write loop and restored: requests fail
 * with 503 OperationOutcome / OAuth `temporarily_unavailable`, the node recovers by itself, and every
 * acknowledged write is in the database afterwards.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createTestDatabase, postgresSkip, TEST_DATABASE_URL, type TestDatabase } from '../helpers/postgres.js';
import { cliJson, freePort, runCli, type ServerProcess, startServe, tempDir } from '../helpers/server.js';

/** A TCP relay that can be cut (every connection dropped, new ones refused) and restored. */
class CuttableProxy {
  private readonly sockets = new Set<net.Socket>();
  private up = true;
  readonly server: net.Server;
  constructor(target: { host: string; port: number }) {
    this.server = net.createServer((client) => {
      if (!this.up) {
        client.destroy();
        return;
      }
      const upstream = net.connect(target.port, target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }
  listen(port: number): Promise<void> {
    return new Promise((resolve) => this.server.listen(port, '127.0.0.1', resolve));
  }
  cut(): void {
    this.up = false;
    for (const s of this.sockets) s.destroy();
  }
  restore(): void {
    this.up = true;
  }
  close(): void {
    this.cut();
    this.server.close();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the database going away mid-load (PostgreSQL behind a cuttable TCP proxy)', { skip: await postgresSkip() }, () => {
  const tmp = tempDir('ss-outage-');
  let db: TestDatabase;
  let relay: CuttableProxy;
  let node: ServerProcess;
  let secret: string;

  before(async () => {
    db = await createTestDatabase();
    const direct = { DATABASE_URL: db.url };
    // Schema, sandbox and client directly, then the node through the relay.
    assert.equal(runCli(tmp.dir, ['sandbox', 'create', 'faults', '--open', '--open-write'], direct).status, 0);
    secret = cliJson(tmp.dir, ['client', 'add', 'faults', 'svc', '--grant', 'client_credentials', '--scope', 'system/Patient.rs'], direct).client_secret;
    const target = new URL(TEST_DATABASE_URL);
    relay = new CuttableProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const port = await freePort();
    await relay.listen(port);
    const viaRelay = new URL(db.url);
    viaRelay.hostname = '127.0.0.1';
    viaRelay.port = String(port);
    node = await startServe(tmp.dir, ['--no-demo'], { DATABASE_URL: viaRelay.toString() });
  });

  after(async () => {
    await node?.stop();
    relay?.close();
    await db?.drop();
    tmp.remove();
  });

  test('503 while it is away, recovery without a restart, no acknowledged write lost', async () => {
    const base = `${node.url}/faults/open`;
    const acknowledged: string[] = [];
    const statuses = new Map<number, number>();
    const outcomes: unknown[] = [];
    let stop = false;
    let n = 0;
    const worker = async () => {
      while (!stop) {
        const i = n++;
        let status = 0;
        try {
          const r = await fetch(`${base}/Patient`, {
            method: 'POST',
            headers: { 'content-type': 'application/fhir+json' },
            body: JSON.stringify({ resourceType: 'Patient', identifier: [{ system: 'urn:outage', value: String(i) }] }),
          });
          status = r.status;
          if (r.status === 201) acknowledged.push(r.headers.get('location')!.split('/Patient/')[1].split('/')[0]);
          else if (r.status === 503) outcomes.push(await r.json());
          else await r.text();
        } catch {
          status = -1;
        }
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status !== 201) await sleep(20);
      }
    };
    const workers = [worker(), worker(), worker()];
    // The first write loads the R4 definitions: wait for a steady flow rather than a fixed time.
    const warm = Date.now() + 20_000;
    while (acknowledged.length < 20 && Date.now() < warm) await sleep(25);
    const beforeCut = acknowledged.length;
    assert.ok(beforeCut > 0, 'writes succeed before the cut');

    relay.cut();
    await sleep(700);
    // While away: reads, writes, readiness and the token endpoint say "unavailable", in their formats.
    const read = await fetch(`${base}/Patient?_count=1`);
    assert.equal(read.status, 503);
    assert.equal((await read.json()).resourceType, 'OperationOutcome');
    assert.equal((await fetch(`${node.url}/readyz`)).status, 503);
    assert.equal((await fetch(`${node.url}/healthz`)).status, 200, 'the process itself is alive');
    const tok = await fetch(`${node.url}/faults/auth/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`svc:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&scope=system%2FPatient.rs',
    });
    assert.equal(tok.status, 503);
    assert.equal((await tok.json()).error, 'temporarily_unavailable');
    const duringCut = acknowledged.length;

    relay.restore();
    // Recovers by itself: writes are acknowledged again within a bounded time.
    const deadline = Date.now() + 15_000;
    while (acknowledged.length < duringCut + 30 && Date.now() < deadline) await sleep(50);
    stop = true;
    await Promise.all(workers);
    assert.ok(acknowledged.length >= duringCut + 30, `recovered: ${acknowledged.length - duringCut} writes after the restore`);
    assert.ok((statuses.get(503) ?? 0) > 0, `some writes met the outage: ${JSON.stringify([...statuses])}`);
    assert.equal(statuses.get(500) ?? 0, 0, `no 500s: ${JSON.stringify([...statuses])}`);
    for (const o of outcomes) assert.equal((o as { resourceType: string }).resourceType, 'OperationOutcome');
    assert.equal((await fetch(`${node.url}/readyz`)).status, 200);

    // Every acknowledged write is in the database (counted directly, not through the node).
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const rows = await c.query("SELECT id FROM resource WHERE rtype = 'Patient' AND deleted = 0");
      const stored = new Set(rows.rows.map((r: { id: string }) => r.id));
      const lost = acknowledged.filter((id) => !stored.has(id));
      assert.deepEqual(lost, [], 'acknowledged writes missing from the database');
      assert.ok(stored.size >= acknowledged.length);
    } finally {
      await c.end();
    }
  });
});
