#!/usr/bin/env node
// Runs the compiled test files with node's test runner. Node 20's `--test` takes no globs, so the
// files are listed here. Usage: node scripts/run-tests.mjs [substring filter...] [--exclude=substring...]
// (a file runs when it matches any filter, or there is none, and matches no exclude).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = 'dist/test';
const files = [];
const walk = (d) => {
  for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.test.js')) files.push(p);
  }
};
if (fs.existsSync(root)) walk(root);
const args = process.argv.slice(2);
const excludes = args.filter((a) => a.startsWith('--exclude=')).map((a) => a.slice('--exclude='.length));
const filters = args.filter((a) => !a.startsWith('--exclude='));
// Only compiled tests whose source still exists: a renamed or deleted test leaves its old .js in dist.
const hasSource = (f) => fs.existsSync(f.replace(/^dist[\\/]/, '').replace(/\.js$/, '.ts'));
const chosen = files.filter((f) => hasSource(f) && (filters.length === 0 || filters.some((x) => f.includes(x))) && !excludes.some((x) => f.includes(x))).sort();
if (chosen.length === 0) {
  console.error('no test files found under dist/test (did the build run?)');
  process.exit(1);
}
// Read queries have a 250 ms time budget by default. Two test files run at once on a 2-core machine
// (CI: beside builds), so an ordinary search can take longer in wall time: the suite raises the budget,
// and the tests of the budget itself set their own.
const env = { ...process.env, SMART_SANDBOX_QUERY_BUDGET_MS: process.env.SMART_SANDBOX_QUERY_BUDGET_MS ?? '5000' };
// Tests that measure latency under full load run after the others, alone: a concurrent test file
// would measure the other file's load, not the server's (the 60 s WAL test, issue 17; the query budget's
// /healthz latency, issue 12).
const ALONE = [path.join('storage', 'wal-bound.test.js'), path.join('e2e', 'query-budget.test.js'), path.join('e2e', 'hostile-load.test.js')];
const alone = chosen.filter((f) => ALONE.some((a) => f.endsWith(a)));
const together = chosen.filter((f) => !alone.includes(f));
let status = 0;
for (const [files, concurrency] of [[together, 2], [alone, 1]]) {
  if (files.length === 0) continue;
  const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files], { stdio: 'inherit', env });
  status ||= r.status ?? 1;
}
process.exit(status);
