/**
 * Issue #7: the FHIR suites (REST, search, bundles, access, validation) and the authorization-server
 * suites (authorize, EHR launch, token, backend services, verifier) and the console suites once more on PostgreSQL, each
 * harness on its own fresh database (SMART_SANDBOX_TEST_BACKEND=postgres, see test/fhir/helpers.ts).
 * The compiled suites run in a child test runner, so they stay one source for both backends.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
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

const here = path.dirname(fileURLToPath(import.meta.url));
const SUITES: Record<string, string[]> = {
  fhir: ['access', 'bundle', 'compartment-edges', 'rest', 'search', 'search-more', 'search-semantics', 'validate-operation', 'validation', 'limits', 'caching'],
  auth: ['authorize', 'backend', 'ehr-launch', 'token', 'verifier-discovery', 'refresh-reuse'],
  console: ['access', 'api', 'pages'],
};

describe('suites on PostgreSQL', { skip: await postgresSkip() }, () => {
  for (const [area, names] of Object.entries(SUITES)) {
    test(`${area}: ${names.join(', ')}`, () => {
      const files = names.map((s) => path.join(here, '..', area, `${s}.test.js`));
      const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=dot', ...files], {
        encoding: 'utf8',
        env: childTestEnv(),
        timeout: 600_000,
      });
      assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`.slice(-8000));
    });
  }
});
