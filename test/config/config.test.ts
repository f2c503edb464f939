import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, configFromEnv, resolveConfig } from '../../src/config/config.js';
import { sandboxIdProblem } from '../../src/storage/types.js';

describe('config', () => {
  test('defaults: 127.0.0.1:8080, ./.smart-sandbox, role all, demo on', () => {
    const c = resolveConfig({});
    assert.equal(c.port, 8080);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.publicUrl, 'http://127.0.0.1:8080');
    assert.equal(c.dataDir, path.resolve('.smart-sandbox'));
    assert.equal(c.role, 'all');
    assert.equal(c.demo, true);
  });

  test('flags win over env; env fills the rest', () => {
    const c = resolveConfig({ port: '9000' }, configFromEnv({ PORT: '7000', HOST: '0.0.0.0', PUBLIC_URL: 'https://sandbox.example/' }));
    assert.equal(c.port, 9000);
    assert.equal(c.host, '0.0.0.0');
    assert.equal(c.publicUrl, 'https://sandbox.example', 'trailing slash dropped');
  });

  test('invalid values are refused with a message', () => {
    assert.throws(() => resolveConfig({ port: 'abc' }), ConfigError);
    assert.throws(() => resolveConfig({ port: 70000 }), ConfigError);
    assert.throws(() => resolveConfig({ role: 'db' }), /role must be all, api or auth/);
    assert.throws(() => resolveConfig({ publicUrl: 'ftp://x' }), /public-url/);
    assert.throws(() => resolveConfig({ publicUrl: 'http://x/?a=1' }), /public-url/);
    assert.throws(() => resolveConfig({ databaseUrl: 'mysql://x' }), /postgres/);
  });

  test('sandbox ids follow the grammar and reserved names of docs/architecture.md §3', () => {
    assert.equal(sandboxIdProblem('demo'), undefined);
    assert.equal(sandboxIdProblem('team-1'), undefined);
    for (const bad of ['a', 'Demo', '-x', 'x_y', 'a'.repeat(64), 'x/y'])
      assert.match(sandboxIdProblem(bad) ?? '', /must match/, bad);
    for (const reserved of ['api', 'apps', 'healthz', 'static', 'assets', 'console', 'auth', 'well-known'])
      assert.match(sandboxIdProblem(reserved) ?? '', /reserved/, reserved);
  });
});
