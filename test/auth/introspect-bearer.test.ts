/**
 * I1 (docs/conformance.md §1): introspection also accepts a bearer token of an authorized client
 * (RFC 7662 §2.1), besides client authentication.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { resolveConfig } from '../../src/config/config.js';
import { type RunningServer, startServer } from '../../src/main.js';
import { clientCredentials } from '../helpers/oauth.js';
import { tempDir } from '../helpers/server.js';

describe('I1 introspection with a bearer token', () => {
  const tmp = tempDir('ss-introspect-');
  let server: RunningServer;
  let issuer: string;
  let mine: string;
  let mine2: string;
  let theirs: string;

  before(async () => {
    server = await startServer(resolveConfig({ dataDir: tmp.dir, port: 0, logLevel: 'silent' }), () => {});
    issuer = `${server.config.publicUrl}/demo/auth`;
    const demo = (await server.services.tenants.get('demo'))!;
    await server.services.auth.clients.add(demo.key, { clientId: 'rs', secret: 'rs-secret-0123456789abcdef', grantTypes: ['client_credentials'], scope: 'system/*.rs' });
    await server.services.auth.clients.add(demo.key, { clientId: 'other', secret: 'other-secret-0123456789abc', grantTypes: ['client_credentials'], scope: 'system/Patient.rs' });
    mine = await clientCredentials(issuer, 'rs', 'rs-secret-0123456789abcdef', 'system/*.rs');
    mine2 = await clientCredentials(issuer, 'rs', 'rs-secret-0123456789abcdef', 'system/*.rs');
    theirs = await clientCredentials(issuer, 'other', 'other-secret-0123456789abc', 'system/Patient.rs');
  });
  after(async () => {
    await server?.close();
    tmp.remove();
  });

  const introspect = (bearer: string, token: string) =>
    fetch(`${issuer}/introspect`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }),
    });

  test('I1 a token introspects itself and its client\u2019s tokens: active with scope, client_id, exp, iss', async () => {
    for (const token of [mine, mine2]) {
      const r = await introspect(mine, token);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('cache-control'), 'no-store');
      const body = await r.json();
      assert.equal(body.active, true);
      assert.equal(body.scope, 'system/*.rs');
      assert.equal(body.client_id, 'rs');
      assert.equal(body.iss, issuer);
      assert.equal(typeof body.exp, 'number');
    }
  });

  test('I1 another client\u2019s token and an unknown token read as {"active":false}', async () => {
    for (const token of [theirs, 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA']) {
      const r = await introspect(mine, token);
      assert.equal(r.status, 200);
      assert.deepEqual(await r.json(), { active: false });
    }
  });

  test('I1 an invalid bearer is refused with 401 invalid_token; a missing token parameter is 400', async () => {
    const r = await introspect('not-a-valid-token-at-all-xyz', mine);
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate') ?? '', /invalid_token/);
    const missing = await fetch(`${issuer}/introspect`, { method: 'POST', headers: { authorization: `Bearer ${mine}`, 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
    assert.equal(missing.status, 400);
    assert.equal((await missing.json()).error, 'invalid_request');
  });
});
