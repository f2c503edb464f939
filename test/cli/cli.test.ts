/**
 * The command line against a real store (docs/architecture.md §4): sandbox lifecycle, import, clients,
 * personas and launch, and clear errors for user mistakes: one line on stderr, exit 1, or exit 2 for
 * bad usage. Every command runs as a child process of the compiled CLI (dist/src/cli/index.js).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { cliJson, runCli, startServe, tempDir } from '../helpers/server.js';
import { assertOneLine } from './one-line.js';

describe('smart-sandbox CLI', () => {
  const tmp = tempDir('ss-cli-');
  after(() => tmp.remove());
  const ok = (args: string[]) => {
    const r = runCli(tmp.dir, args);
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /Unsupported runtime/);
    return r.stdout;
  };
  const fails = (args: string[], pattern: RegExp, status = 1) => {
    const r = runCli(tmp.dir, args);
    assertOneLine(r, status, pattern, args.join(' '));
  };

  test('sandbox create / list / update / export / delete, with id rules', () => {
    const created = cliJson(tmp.dir, ['sandbox', 'create', 'team-a', '--name', 'Team A', '--open']);
    assert.equal(created.id, 'team-a');
    assert.match(created.iss, /\/team-a\/data$/);
    assert.match(ok(['sandbox', 'list']), /^team-a\t.*\/team-a\/data\topen\tTeam A$/m);
    fails(['sandbox', 'create', 'team-a'], /already exists/);
    fails(['sandbox', 'create', 'API'], /must match/);
    fails(['sandbox', 'create', 'auth'], /reserved/);
    fails(['sandbox', 'create', 'x1', '--data', 'synthetic:abc'], /--data must be demo, empty or synthetic:N/, 2);
    fails(['sandbox', 'create', 'x2', '--open-write'], /--open-write needs --open/, 2);
    const updated = cliJson(tmp.dir, ['sandbox', 'update', 'team-a', '--no-open']);
    assert.equal(updated.openRead, false);
    ok(['sandbox', 'delete', 'team-a']);
    assert.doesNotMatch(ok(['sandbox', 'list']), /team-a/);
    fails(['sandbox', 'delete', 'team-a'], /does not exist/);
  });

  test('demo data, synthetic data, export and import round trip', () => {
    const demo = cliJson(tmp.dir, ['sandbox', 'create', 'demo2', '--data', 'demo']);
    assert.ok(demo.resources > 2000);
    assert.equal(demo.personas.length, 2, 'demo personas with generated passwords');
    const syn = cliJson(tmp.dir, ['sandbox', 'create', 'syn', '--data', 'synthetic:500']);
    assert.equal(syn.resources, 500);

    const out = path.join(tmp.dir, 'export.json');
    ok(['sandbox', 'export', 'syn', '--out', out]);
    const bundle = JSON.parse(fs.readFileSync(out, 'utf8'));
    assert.equal(bundle.type, 'transaction');
    assert.equal(bundle.entry.length, 500);

    ok(['sandbox', 'create', 'copy']);
    assert.match(ok(['import', 'copy', out]), /imported 500 resources into copy/);
    const ndjson = path.join(tmp.dir, 'patients.ndjson');
    const patients = bundle.entry.filter((e: { resource: { resourceType: string } }) => e.resource.resourceType === 'Patient').map((e: { resource: unknown }) => JSON.stringify(e.resource));
    fs.writeFileSync(ndjson, `${patients.join('\n')}\n`);
    ok(['sandbox', 'create', 'nd']);
    assert.match(ok(['import', 'nd', ndjson]), new RegExp(`imported ${patients.length} resources into nd`));

    const bad = path.join(tmp.dir, 'bad.ndjson');
    fs.writeFileSync(bad, '{"resourceType":"Patient","id":"ok1"}\n{"resourceType":"Observation","status":"bogus"}\n');
    fails(['import', 'nd', bad], /bad\.ndjson line 2: Observation is invalid: .*\(nothing was imported\)/);
    fs.writeFileSync(bad, 'not json\n');
    fails(['import', 'nd', bad], /bad\.ndjson line 1: not valid JSON/);
    fails(['import', 'nosuch', out], /sandbox nosuch does not exist/);
  });

  test('clients, personas and launch', () => {
    ok(['sandbox', 'create', 'appdemo', '--data', 'demo']);
    const pub = cliJson(tmp.dir, ['client', 'add', 'appdemo', 'my-app', '--public', '--redirect-uri', 'http://127.0.0.1:9000/cb', '--launch-uri', 'http://127.0.0.1:9000/launch', '--scope', 'launch patient/*.rs openid fhirUser']);
    assert.equal(pub.authMethod, 'none');
    assert.equal(pub.client_secret, undefined);
    const conf = cliJson(tmp.dir, ['client', 'add', 'appdemo', 'svc', '--grant', 'client_credentials', '--scope', 'system/*.rs']);
    assert.match(conf.client_secret, /.{20,}/, 'a generated secret is shown once');
    const listed = cliJson(tmp.dir, ['client', 'list', 'appdemo']);
    assert.ok(listed.some((c: { clientId: string }) => c.clientId === 'svc'));
    assert.ok(!JSON.stringify(listed).includes(conf.client_secret), 'secrets are never listed');
    fails(['client', 'add', 'appdemo', 'x', '--pkce', 'maybe'], /--pkce must be required or if-sent/, 2);

    const p = cliJson(tmp.dir, ['persona', 'add', 'appdemo', 'nurse', '--password', 'correct horse battery', '--resource', 'Patient/BILIBABY', '--name', 'Nurse Joy']);
    assert.equal(p.username, 'nurse');
    fails(['persona', 'add', 'appdemo', 'ghost', '--password', 'x', '--resource', 'Practitioner/nope'], /does not exist/);
    fails(['persona', 'add', 'appdemo', 'none', '--password', 'x', '--resource', 'Patient/BILIBABY'], /none/);
    assert.match(ok(['persona', 'list', 'appdemo']), /^nurse\tPatient\/BILIBABY\t\(password set by its creator\)\tNurse Joy$/m);

    const launch = cliJson(tmp.dir, ['launch', 'appdemo', '--client', 'my-app', '--patient', 'BILIBABY', '--param', 'need_patient_banner=false', '--param', 'intent=reconcile', '--persona', 'nurse']);
    assert.deepEqual(launch.parameters, { need_patient_banner: false, intent: 'reconcile', patient: 'BILIBABY' });
    assert.equal(launch.created_by, 'cli');
    assert.equal(launch.username, 'nurse');
    assert.match(launch.launch_url, /^http:\/\/127\.0\.0\.1:9000\/launch\?iss=.*%2Fappdemo%2Fdata&launch=[A-Za-z0-9_-]{43}$/);
    fails(['launch', 'appdemo', '--client', 'nope'], /client_id nope is not an app/);
    fails(['launch', 'appdemo', '--client', 'my-app', '--patient', 'NOPE'], /patient NOPE does not exist/);

    ok(['persona', 'remove', 'appdemo', 'nurse']);
    ok(['client', 'remove', 'appdemo', 'my-app']);
    fails(['client', 'remove', 'appdemo', 'my-app'], /does not exist/);
  });

  test('storage options: an unreachable --database-url fails with one clear line', () => {
    const r = runCli(tmp.dir, ['sandbox', 'list', '--database-url', 'postgres://postgres@127.0.0.1:1/x']);
    assertOneLine(r, 1, /cannot open the PostgreSQL database/, 'unreachable database');
  });

  test('a client added by the CLI while the server runs works at once', async () => {
    const dir = tempDir('ss-cli-live-');
    const server = await startServe(dir.dir);
    try {
      assert.doesNotMatch(server.output(), /Unsupported runtime/, "no oidc-provider runtime warning on start");
      const c = cliJson(dir.dir, ['client', 'add', 'demo', 'live', '--grant', 'client_credentials', '--scope', 'system/Patient.rs']);
      const tok = await fetch(`${server.url}/demo/auth/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`live:${c.client_secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials&scope=system%2FPatient.rs',
      });
      const body = await tok.json();
      assert.equal(tok.status, 200, JSON.stringify(body));
      const read = await fetch(`${server.url}/demo/data/Patient/BILIBABY`, { headers: { authorization: `Bearer ${body.access_token}` } });
      assert.equal(read.status, 200);
      runCli(dir.dir, ['client', 'remove', 'demo', 'live']);
      const after = await fetch(`${server.url}/demo/data/Patient/BILIBABY`, { headers: { authorization: `Bearer ${body.access_token}` } });
      assert.equal(after.status, 401, 'a removed client loses its tokens at once');
    } finally {
      await server.stop();
      dir.remove();
    }
  });

  test('keys rotate while the server runs: the new key signs at once, the previous stays published', async () => {
    const dir = tempDir('ss-cli-keys-');
    const server = await startServe(dir.dir);
    try {
      const jwks = async () => (await (await fetch(`${server.url}/demo/auth/jwks`)).json()).keys.map((k: { kid: string }) => k.kid);
      const before = await jwks();
      assert.equal(runCli(dir.dir, ['keys', 'rotate', 'demo']).status, 0);
      const after = await jwks();
      assert.equal(after.length, 2);
      assert.notEqual(after[0], before[0], 'a new signing key first');
      assert.equal(after[1], before[0], 'the previous key is still published');
    } finally {
      await server.stop();
      dir.remove();
    }
  });

  test('the demo app registration follows the public URL across restarts', async () => {
    const dir = tempDir('ss-cli-url-');
    try {
      const first = await startServe(dir.dir);
      await first.stop();
      const second = await startServe(dir.dir);
      try {
        const clients = cliJson(dir.dir, ['client', 'list', 'demo']);
        const bili = clients.find((c: { clientId: string }) => c.clientId === 'bilirubin_chart');
        assert.equal(bili.launchUri, `${second.url}/apps/bilirubin-chart/launch.html`);
        assert.deepEqual(bili.redirectUris, [`${second.url}/apps/bilirubin-chart/index.html`]);
        assert.notEqual(first.port, second.port);
      } finally {
        await second.stop();
      }
    } finally {
      dir.remove();
    }
  });
});
