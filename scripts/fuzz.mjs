#!/usr/bin/env node
// `npm run fuzz`: the fuzz suite (test/fuzz) with FUZZ_RUNS times more runs per property (default 25)
// than the bounded run in `npm test`. Replay a failure with the FUZZ_PROPERTY, FUZZ_SEED and
// FUZZ_PATH values it printed; see test/fuzz/harness.ts for the other knobs.
import { spawnSync } from 'node:child_process';

const env = { ...process.env, FUZZ_RUNS: process.env.FUZZ_RUNS ?? '25' };
console.log(`fuzz: FUZZ_RUNS=${env.FUZZ_RUNS}${env.FUZZ_SEED ? ` FUZZ_SEED=${env.FUZZ_SEED}` : ''}${env.FUZZ_PROPERTY ? ` FUZZ_PROPERTY=${env.FUZZ_PROPERTY}` : ''}`);
const r = spawnSync(process.execPath, ['scripts/run-tests.mjs', 'test/fuzz/'], { stdio: 'inherit', env });
process.exit(r.status ?? 1);
