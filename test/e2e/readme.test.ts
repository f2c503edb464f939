/**
 * The README's "Launch an app from your own system" commands are copy-pasteable: this test runs its
 * shell blocks, as written, in bash against a real server, and checks what the last one prints.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT, type ServerProcess, startServe, tempDir } from '../helpers/server.js';

function readmeBlocks(): string[] {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Launch an app from your own system'), readme.indexOf('### Request and response'));
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
}

describe('README: launch an app from your own system', () => {
  const tmp = tempDir('ss-readme-');
  let server: ServerProcess;
  before(async () => {
    server = await startServe(tmp.dir);
  });
  after(async () => {
    await server?.stop();
    tmp.remove();
  });

  test('the shell commands register a launch and print it', () => {
    const blocks = readmeBlocks();
    assert.ok(blocks.length >= 4, 'client add, token, register, CLI launch');
    const [setup, token, register, cliLaunch] = blocks;
    const script = `set -euo pipefail\n${setup}\n${token}\n${register}\necho\necho ---\n${cliLaunch}`;
    const r = spawnSync('bash', ['-c', script], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, BASE: server.url, SMART_SANDBOX_DATA: tmp.dir, LOG_LEVEL: 'error' },
      timeout: 60_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const [http, cli] = r.stdout.split('\n---\n');
    const registered = JSON.parse(http.trim().split('\n').pop()!);
    assert.equal(registered.created_by, 'my-launcher');
    assert.deepEqual(registered.parameters, { patient: 'BILIBABY', need_patient_banner: false });
    assert.match(registered.launch_url, new RegExp(`^${server.url}/apps/bilirubin-chart/launch\\.html\\?iss=`));
    const launched = JSON.parse(cli);
    assert.equal(launched.created_by, 'cli');
    assert.deepEqual(launched.parameters, { need_patient_banner: false, patient: 'BILIBABY' });
    assert.match(launched.launch_url, new RegExp(`^${server.url}/apps/bilirubin-chart/launch\\.html`), 'the CLI prints the running server URL');
  });
});
