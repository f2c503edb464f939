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
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-reporter=spec', ...chosen], { stdio: 'inherit' });
process.exit(r.status ?? 1);
