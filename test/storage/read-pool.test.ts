/**
 * The SQLite read pool: read queries run on worker-thread connections and settle by their time
 * budget, so a costly query never holds the event loop (issue 12, "nothing blocks the event loop").
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { QueryBudgetExceeded } from '../../src/storage/backend.js';
import { openSqlite, type Sqlite } from '../../src/storage/sqlite/open.js';
import { SqliteReadPool } from '../../src/storage/sqlite/read-pool.js';
import { tempDir } from '../helpers/server.js';

/** A query SQLite needs seconds for, and cannot be interrupted in: counting to 3·10^6. */
const SLOW = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT count(*) AS n FROM c';

/** Largest gap between event-loop ticks (every 5 ms) while `work` runs. */
async function worstTickGap<T>(work: () => Promise<T>): Promise<{ gap: number; result: PromiseSettledResult<T> }> {
  let last = performance.now();
  let gap = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    gap = Math.max(gap, now - last);
    last = now;
  }, 5);
  const [result] = await Promise.allSettled([work()]);
  clearInterval(timer);
  return { gap, result };
}

describe('SQLite read pool with a time budget', () => {
  const dir = tempDir('ss-readpool-');
  let db: Sqlite;
  let pool: SqliteReadPool;
  before(() => {
    db = openSqlite(dir.dir);
    db.exec("CREATE TABLE t (a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'one'), (2, 'two')");
    pool = new SqliteReadPool(db.name, { size: 2, budgetMs: 100, maxAbandoned: 1, queueMs: 400 });
  });
  after(async () => {
    await pool.close();
    db.close();
    dir.remove();
  });

  test('answers reads, with parameters, and sees what the writer committed', async () => {
    assert.deepEqual(await pool.all('SELECT a, b FROM t WHERE a = ?', [2]), [{ a: 2, b: 'two' }]);
    db.prepare('INSERT INTO t VALUES (?, ?)').run(3, 'three');
    assert.deepEqual(await pool.all('SELECT count(*) AS n FROM t', []), [{ n: 3 }]);
  });

  test('a query past its budget fails with QueryBudgetExceeded while the event loop keeps running', async () => {
    const { gap, result } = await worstTickGap(() => pool.all(SLOW, []));
    assert.equal(result.status, 'rejected');
    const err = (result as PromiseRejectedResult).reason;
    assert.ok(err instanceof QueryBudgetExceeded, String(err));
    assert.equal(err.busy, false);
    // The loop was never held for the query's seconds of work.
    assert.ok(gap < 100, `event loop held for ${gap.toFixed(0)} ms`);
    // The pool replaced the abandoned worker: ordinary reads go on.
    assert.deepEqual(await pool.all('SELECT count(*) AS n FROM t', []), [{ n: 3 }]);
  });

  test('abandoned workers are bounded: beyond the limit queries fail as busy instead of piling up threads', async () => {
    const results = await Promise.allSettled([pool.all(SLOW, []), pool.all(SLOW, []), pool.all(SLOW, []), pool.all(SLOW, [])]);
    const reasons = results.map((r) => (r as PromiseRejectedResult).reason as QueryBudgetExceeded);
    assert.ok(reasons.every((e) => e instanceof QueryBudgetExceeded));
    // size 2 + 1 abandoned (still running from the test before, or from this one): some never started.
    assert.ok(reasons.some((e) => e.busy), 'some queries found no free connection');
  });

  test('once the abandoned queries end, the pool serves again', async () => {
    for (let i = 0; ; i++) {
      try {
        assert.deepEqual(await pool.all('SELECT 1 AS x', []), [{ x: 1 }]);
        return;
      } catch (e) {
        assert.ok(e instanceof QueryBudgetExceeded && e.busy && i < 200, String(e));
      }
    }
  });

  test('SQL errors reach the caller as errors with their code', async () => {
    await assert.rejects(pool.all('SELECT * FROM no_such_table', []), (e: Error & { code?: string }) => /no such table/.test(e.message) && e.code === 'SQLITE_ERROR');
  });

  test('a closed pool refuses work', async () => {
    const p = new SqliteReadPool(db.name, { size: 1, budgetMs: 1000 });
    assert.deepEqual(await p.all('SELECT 1 AS x', []), [{ x: 1 }]);
    await p.close();
    await assert.rejects(p.all('SELECT 1', []), /closed/);
  });
});
