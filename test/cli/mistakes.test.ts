/**
 * The command line as users meet it: every mistake we could make by hand (a sandbox that does not
 * exist, a folder that does not exist, a busy port, a data dir that is a file, unknown commands and
 * options) answers with one line on stderr and exit 1 (2 for bad usage), never a stack trace; import
 * is all or nothing, has --validate-only, and reports progress in resources with a rate.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT, cliJson, runCli, tempDir } from '../helpers/server.js';
import { assertOneLine } from './one-line.js';

describe('smart-sandbox CLI: user mistakes and import', () => {
  const tmp = tempDir('ss-cli-mistakes-');
  const file = (name: string, text: string) => {
    const p = path.join(tmp.dir, name);
    fs.writeFileSync(p, text);
    return p;
  };
  const count = (sandbox: string) => cliJson(tmp.dir, ['sandbox', 'export', sandbox]).entry?.length ?? 0;
  before(() => {
    cliJson(tmp.dir, ['sandbox', 'create', 'target']);
  });
  after(() => tmp.remove());

  test('--version prints the package version', () => {
    const r = runCli(tmp.dir, ['--version']);
    assert.equal(r.status, 0);
    assert.equal(r.stdout.trim(), JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
  });

  test('a sandbox that does not exist: reset, export, update, delete, launch, client, import', () => {
    for (const args of [
      ['sandbox', 'reset', 'nope'],
      ['sandbox', 'export', 'nope'],
      ['sandbox', 'update', 'nope', '--name', 'x'],
      ['sandbox', 'delete', 'nope'],
      ['launch', 'nope', '--client', 'x'],
      ['client', 'list', 'nope'],
      ['persona', 'list', 'nope'],
      ['keys', 'rotate', 'nope'],
    ])
      assertOneLine(runCli(tmp.dir, args), 1, /sandbox nope does not exist/, args.join(' '));
  });

  test('export --out into a missing folder or onto a folder', () => {
    assertOneLine(runCli(tmp.dir, ['sandbox', 'export', 'target', '--out', path.join(tmp.dir, 'missing', 'x.json')]), 1, /the folder .*missing does not exist/, 'missing folder');
    assertOneLine(runCli(tmp.dir, ['sandbox', 'export', 'target', '--out', tmp.dir]), 1, /is a folder; name a file/, 'onto a folder');
  });

  test('--data-dir naming a file, or below a file; a data dir whose database file is not a database', () => {
    const plain = file('plain.txt', 'not a directory\n');
    for (const args of [['sandbox', 'list'], ['serve', '--port', '0'], ['migrate']]) {
      const r = runCli(plain, args);
      assertOneLine(r, 1, /the data directory .*plain\.txt is a file, not a directory/, `${args.join(' ')} --data-dir <file>`);
    }
    assertOneLine(runCli(path.join(plain, 'below'), ['sandbox', 'list']), 1, /cannot create the data directory .*a part of its path is a file/, 'below a file');
    const broken = path.join(tmp.dir, 'broken');
    fs.mkdirSync(broken);
    fs.writeFileSync(path.join(broken, 'smart-sandbox.db'), 'garbage garbage garbage garbage garbage garbage garbage garbage garbage garbage garbage garbage');
    assertOneLine(runCli(broken, ['sandbox', 'list']), 1, /cannot open the SQLite database in .*broken/, 'not a database');
  });

  test('serve on a busy port, or on an address that is not this machine’s', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as net.AddressInfo).port;
    try {
      const r = runCli(tmp.dir, ['serve', '--host', '127.0.0.1', '--port', String(port)]);
      assertOneLine(r, 1, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the port is already in use`), 'busy port');
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
    // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never an address of this machine; binding it fails at once.
    assertOneLine(runCli(tmp.dir, ['serve', '--host', '192.0.2.1', '--port', '1']), 1, /cannot listen on 192\.0\.2\.1:1: 192\.0\.2\.1 is not an address of this machine/, 'foreign address');
  });

  test('bad usage is exit 2 with one line: unknown command or option, missing argument, bad option values', () => {
    const usage: [string[], RegExp][] = [
      [['bogus'], /unknown command 'bogus'/],
      [['sandbox', 'create'], /missing required argument 'id'/],
      [['sandbox', 'list', '--bogus'], /unknown option '--bogus'/],
      [['launch', 'target'], /required option '--client <id>' not specified/],
      [['serve', '--port', 'abc'], /port must be an integer/],
      [['serve', '--role', 'both'], /role must be all, api or auth/],
      [['launch', 'target', '--client', 'x', '--param', 'novalue'], /--param must look like key=value/],
    ];
    for (const [args, pattern] of usage) assertOneLine(runCli(tmp.dir, args), 2, pattern, args.join(' '));
  });

  test('import is all or nothing: a bad line names its file and line, and nothing of any file is written', () => {
    const good = file('good.ndjson', `${JSON.stringify({ resourceType: 'Patient', id: 'p1' })}\n${JSON.stringify({ resourceType: 'Patient', id: 'p2' })}\n`);
    const lines = [{ resourceType: 'Patient', id: 'p3' }, { resourceType: 'Patient', id: 'p4' }, { resourceType: 'Observation', id: 'o1', status: 'bogus', code: { text: 'x' } }];
    const badLast = file('bad-last.ndjson', `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    assertOneLine(runCli(tmp.dir, ['import', 'target', good, badLast]), 1, /bad-last\.ndjson line 3: Observation\/o1 is invalid: .*\(nothing was imported\)/, 'bad third line');
    assert.equal(count('target'), 0, 'the good file and the good lines were not imported either');

    // More than one write batch (500) of good lines before the bad one.
    const many = Array.from({ length: 1200 }, (_, i) => JSON.stringify({ resourceType: 'Patient', id: `m${i}` }));
    const badAfterMany = file('bad-after-many.ndjson', `${many.join('\n')}\n\n{"resourceType":"NoSuchType"}\n`);
    assertOneLine(runCli(tmp.dir, ['import', 'target', badAfterMany]), 1, /bad-after-many\.ndjson line 1202: unknown resourceType "NoSuchType" \(nothing was imported\)/, 'bad line after 1200');
    assert.equal(count('target'), 0);

    const notJson = file('not-json.ndjson', '{"resourceType":"Patient","id":"ok"}\n{"resourceType": "Patient",\n');
    assertOneLine(runCli(tmp.dir, ['import', 'target', notJson]), 1, /not-json\.ndjson line 2: not valid JSON/, 'not JSON');
    const audit = file('audit.ndjson', '{"resourceType":"AuditEvent","id":"a1"}\n');
    assertOneLine(runCli(tmp.dir, ['import', 'target', audit]), 1, /audit\.ndjson line 1: AuditEvent is the read-only launch audit trail/, 'AuditEvent');
    const badBundle = file('bad-bundle.json', JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { resourceType: 'Patient', id: 'b1' }, request: { method: 'PUT', url: 'Patient/b1' } }, { resource: { resourceType: 'Patient', id: 'b2', gender: 'sometimes' }, request: { method: 'PUT', url: 'Patient/b2' } }] }));
    assertOneLine(runCli(tmp.dir, ['import', 'target', good, badBundle]), 1, /bad-bundle\.json entry 2: Patient\/b2 is invalid: .*\(nothing was imported\)/, 'bad Bundle entry');
    assertOneLine(runCli(tmp.dir, ['import', 'target', path.join(tmp.dir, 'missing.ndjson')]), 1, /missing\.ndjson: no such file/, 'missing file');
    assert.equal(count('target'), 0);
  });

  test('import --validate-only checks everything and writes nothing', () => {
    const good = file('valid.ndjson', `${JSON.stringify({ resourceType: 'Patient', id: 'v1' })}\n${JSON.stringify({ resourceType: 'Patient' })}\n`);
    const bundle = file('valid.json', JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { resourceType: 'Patient', id: 'v2' }, request: { method: 'PUT', url: 'Patient/v2' } }] }));
    const r = runCli(tmp.dir, ['import', 'target', good, bundle, '--validate-only']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /valid\.ndjson: 2 resources valid\n.*valid\.json: 1 resources valid\n/);
    assert.equal(count('target'), 0, '--validate-only writes nothing');
    const bad = file('invalid.ndjson', '{"resourceType":"Patient","birthDate":"yesterday"}\n');
    assertOneLine(runCli(tmp.dir, ['import', 'target', bad, '--validate-only']), 1, /invalid\.ndjson line 1: Patient is invalid/, 'validate-only, invalid');
  });

  test('import progress: resources with a rate, as plain lines when stderr is not a terminal', () => {
    const many = Array.from({ length: 1100 }, (_, i) => JSON.stringify({ resourceType: 'Patient', id: `g${i}` }));
    const data = file('progress.ndjson', `${many.join('\n')}\n`);
    // SMART_SANDBOX_PROGRESS_MS=0: a plain line at every update (each batch of 500) instead of every 5 s.
    const r = runCli(tmp.dir, ['import', 'target', data], { SMART_SANDBOX_PROGRESS_MS: '0' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /progress\.ndjson: imported 1100 resources into target/);
    assert.ok(!r.stderr.includes('\r') && !r.stderr.includes('\u001b['), 'no terminal control characters in a log');
    assert.match(r.stderr, /^importing into target: 500\/1100 resources \(45%\), [\d.]+\/s$/m);
    assert.match(r.stderr, /^importing into target: 1000\/1100 resources \(90%\), [\d.]+\/s$/m);
    assert.match(r.stderr, /^importing into target: 1100 resources in [\d.]+ s, [\d.]+\/s$/m);
    assert.match(r.stderr, /^validating: 1100 resources in [\d.]+ s, [\d.]+\/s$/m);
    assert.equal(count('target'), 1100);
  });
});
