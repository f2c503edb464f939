/**
 * Issue #7: the FHIR suites (REST, search, bundles, access, validation) once more on PostgreSQL, each
 * harness on its own fresh database (SMART_SANDBOX_TEST_BACKEND=postgres, see helpers.ts). Runs the
 * compiled suites in a child test runner so that they stay one source for both backends.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { postgresSkip } from '../helpers/postgres.js';

const SUITES = ['access', 'bundle', 'rest', 'search', 'search-more', 'validation'];
const here = path.dirname(fileURLToPath(import.meta.url));

describe('FHIR suites on PostgreSQL', { skip: await postgresSkip() }, () => {
  test(`${SUITES.join(', ')} pass on PostgreSQL`, () => {
    const files = SUITES.map((s) => path.join(here, `${s}.test.js`));
    const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=dot', ...files], {
      encoding: 'utf8',
      env: { ...process.env, SMART_SANDBOX_TEST_BACKEND: 'postgres' },
      timeout: 300_000,
    });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`.slice(-8000));
  });
});
