/**
 * Features written against SQLite first — Bulk Data $export (test/bulk) and simulated launch errors
 * (test/launch/simulated-errors) — once more on PostgreSQL: the same compiled suites in a child test
 * runner with SMART_SANDBOX_TEST_BACKEND=postgres, each data dir on its own fresh database
 * (test/helpers/postgres.ts testDatabaseUrlFor), export worker threads included.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { postgresSkip } from '../helpers/postgres.js';

/**
 * The child runner's environment: PostgreSQL as the backend, and without NODE_TEST_CONTEXT — which
 * the parent runner sets and which makes a child `node --test` skip every file ("run() is being
 * called recursively"), so that the suites would pass without running.
 */
function childTestEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, SMART_SANDBOX_TEST_BACKEND: 'postgres' };
  delete env.NODE_TEST_CONTEXT;
  return env;
}

const SUITES = ['bulk/export', 'bulk/negative', 'bulk/backend-group', 'bulk/ownership', 'launch/simulated-errors'];
const testRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('bulk export and simulated errors on PostgreSQL', { skip: await postgresSkip() }, () => {
  test(`${SUITES.join(', ')} pass on PostgreSQL`, () => {
    const files = SUITES.map((s) => path.join(testRoot, `${s}.test.js`));
    const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=dot', ...files], {
      encoding: 'utf8',
      env: childTestEnv(),
      timeout: 900_000, // about 270 s on a loaded 2-core machine
    });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`.slice(-8000));
  });
});
