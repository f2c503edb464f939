/**
 * Issue 17, without a server: the bound the writing connection itself keeps (the CLI, `import`, the
 * sample loader and the export worker have no checkpoint worker), the pragmas every connection gets,
 * the configuration, and the rate of the warning.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, configFromEnv, resolveConfig } from '../../src/config/config.js';
import { syntheticResources } from '../../src/sample/synthetic.js';
import { createServices } from '../../src/services.js';
import { buildApp } from '../../src/app.js';
import { sqliteOf } from '../../src/storage/sqlite/backend.js';
import { startCheckpointer } from '../../src/storage/sqlite/checkpointer.js';
import { PAGE_SIZE } from '../../src/storage/sqlite/open.js';
import { type Escalation, MIB, WalWarnings, walLimits } from '../../src/storage/sqlite/wal.js';

function tmp(): { dir: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-wal-limits-'));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

describe('WAL limit configuration', () => {
  test('SMART_SANDBOX_WAL_LIMIT is bytes, 64 MiB by default, at least 1 MiB', () => {
    assert.equal(resolveConfig().walLimitBytes, 64 * MIB);
    assert.equal(resolveConfig(configFromEnv({ SMART_SANDBOX_WAL_LIMIT: String(8 * MIB) })).walLimitBytes, 8 * MIB);
    for (const bad of ['1000', '64MiB', '-1', '2097152.5'])
      assert.throws(() => resolveConfig(configFromEnv({ SMART_SANDBOX_WAL_LIMIT: bad })), ConfigError, bad);
  });

  test('journal_size_limit is a quarter of the limit', () => {
    assert.deepEqual(walLimits(8 * MIB), { limitBytes: 8 * MIB, journalSizeLimitBytes: 2 * MIB });
  });
});

describe('WAL bound on a connection without a checkpoint worker', () => {
  test('a new database gets 1 KiB pages and journal_size_limit from the configured limit', async () => {
    const t = tmp();
    const services = await createServices(resolveConfig({ dataDir: t.dir, demo: false, walLimitBytes: 4 * MIB }));
    try {
      const { db } = sqliteOf(services.backend)!;
      assert.equal(db.pragma('page_size', { simple: true }), PAGE_SIZE);
      assert.equal(db.pragma('journal_size_limit', { simple: true }), MIB);
    } finally {
      await services.close();
      t.remove();
    }
  });

  test('bulk loads leave the WAL under the limit after each write set, even with automatic checkpoints off', async () => {
    const t = tmp();
    const limit = 2 * MIB;
    const services = await createServices(resolveConfig({ dataDir: t.dir, demo: false, walLimitBytes: limit }));
    try {
      const sqlite = sqliteOf(services.backend)!;
      // The starved case: nothing but the bound checkpoints (a concurrent writer would starve SQLite's
      // own passive checkpoints the same way).
      sqlite.db.pragma('wal_autocheckpoint = 0');
      const sandbox = await services.tenants.create('bulk');
      const batches = [...syntheticResources(3000)].reduce<unknown[][]>((acc, r, i) => {
        if (i % 200 === 0) acc.push([]);
        acc[acc.length - 1].push(r);
        return acc;
      }, []);
      // After each committed write set the WAL is back under the limit (it passes it by one write set
      // at most, before that set's commit checkpoints).
      let peak = 0;
      for (const batch of batches) {
        await services.fhir.bulkLoad(sandbox.key, batch as never);
        peak = Math.max(peak, sqlite.wal.bytes());
      }
      const status = sqlite.wal.status();
      assert.ok(status.escalations >= 1, 'the load never reached the limit: the test proves nothing');
      assert.ok(peak <= limit, `WAL ${peak} bytes after a write set, limit ${limit}`);
      assert.equal(status.lastEscalation?.busy, false);
    } finally {
      await services.close();
      t.remove();
    }
  });
});

describe('WAL bound with the checkpoint worker', () => {
  test('the worker escalates past the limit, an idle log is truncated, /readyz reports the WAL', async () => {
    const t = tmp();
    const limit = 2 * MIB;
    const config = resolveConfig({ dataDir: t.dir, demo: false, walLimitBytes: limit, logLevel: 'silent' });
    const services = await createServices(config);
    const sqlite = sqliteOf(services.backend)!;
    const escalations: Escalation[] = [];
    const checkpointer = startCheckpointer(sqlite.db, sqlite.wal, { onEscalation: (e) => escalations.push(e) });
    const app = await buildApp(config, services);
    try {
      const sandbox = await services.tenants.create('worker');
      const resources = [...syntheticResources(4000)];
      let peak = 0;
      let inline = 0;
      // A lower bound of the log written: growth between write sets, counted from 0 after a reset.
      let appended = 0;
      let previous = sqlite.wal.bytes();
      sqlite.wal.onInlineEscalation = () => inline++;
      // Small write sets, yielding between them as a server does between requests.
      for (let i = 0; i < resources.length; i += 10) {
        await services.fhir.bulkLoad(sandbox.key, resources.slice(i, i + 10));
        const bytes = sqlite.wal.bytes();
        peak = Math.max(peak, bytes);
        appended += bytes >= previous ? bytes - previous : bytes;
        previous = bytes;
        await new Promise((r) => setImmediate(r));
      }
      await new Promise((r) => setTimeout(r, 0));
      assert.ok(escalations.length >= 1, 'the worker never escalated: the test proves nothing');
      // The log cannot start over while a checkpoint copies it: it may pass the limit by what the
      // writer appends meanwhile. This in-process writer appends tens of MB/s (far more than HTTP
      // clients) on 2 shared cores, so one checkpoint's worth is several times this small limit; the
      // assertion is that the log stays bounded, far below what was written (the 60 s HTTP test
      // checks the margin at the default limit).
      const ceiling = 16 * limit;
      assert.ok(appended > 3 * ceiling, `only ${appended} bytes of log written: the bound proves nothing`);
      assert.ok(peak <= ceiling, `WAL ${peak} bytes, limit ${limit}`);
      // Without the escalation the log would have grown without end (starved passive checkpoints)
      // or would never have been truncated: either way the worker had to act.
      const ready = (await app.inject({ method: 'GET', url: '/readyz' })).json() as { status: string; wal: { escalations: number; limitBytes: number; bytes: number } };
      assert.equal(ready.status, 'ok');
      assert.equal(ready.wal.limitBytes, limit);
      assert.equal(ready.wal.escalations, escalations.length + inline);
      // Writes stopped: within 5 s the file is back under journal_size_limit.
      const deadline = Date.now() + 5000;
      while (sqlite.wal.bytes() > sqlite.wal.limits.journalSizeLimitBytes && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(sqlite.wal.bytes() <= sqlite.wal.limits.journalSizeLimitBytes, `WAL still ${sqlite.wal.bytes()} bytes`);
    } finally {
      await app.close();
      await checkpointer.stop();
      await services.close();
      t.remove();
    }
  });
});

describe('WAL warnings', () => {
  test('one warning per minute while the limit keeps being passed, counting the escalations in between', () => {
    const lines: string[] = [];
    let now = 0;
    const w = new WalWarnings((l) => lines.push(l), () => now);
    const limits = walLimits(64 * MIB);
    const e = { bytes: 70 * MIB, afterBytes: 0, ms: 3, busy: false };
    w.escalated(limits, e, 'the checkpoint worker');
    now = 10_000;
    w.escalated(limits, e, 'the checkpoint worker');
    now = 30_000;
    w.escalated(limits, e, 'the checkpoint worker');
    assert.equal(lines.length, 1);
    assert.match(lines[0], /^warning: SQLite WAL reached 70\.0 MiB, past its limit of 64\.0 MiB: the checkpoint worker ran a TRUNCATE checkpoint, now 0\.0 MiB after 3 ms$/);
    now = 60_000;
    w.escalated(limits, e, 'the checkpoint worker');
    assert.equal(lines.length, 2);
    assert.match(lines[1], /\(2 more since the last warning\)$/);
    // A checkpoint that could not finish is always reported: the WAL did not start over.
    now = 61_000;
    w.escalated(limits, { ...e, afterBytes: 70 * MIB, busy: true }, 'the checkpoint worker');
    assert.equal(lines.length, 3);
    assert.match(lines[2], /could not finish/);
  });
});
