/**
 * Form bodies the authorization server reads itself (POST /authorize, introspection with a bearer
 * token) and refuses over 64 KiB (found by the fuzz suite): the 400 must not leave the unread rest of
 * the body on a keep-alive connection, where the next request on that connection was never answered.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { resolveConfig } from '../../src/config/config.js';
import { type RunningServer, startServer } from '../../src/main.js';
import { tempDir } from '../helpers/server.js';

describe('oversized form bodies on a keep-alive connection', () => {
  const tmp = tempDir('ss-forms-');
  let server: RunningServer;
  let issuer: URL;
  // One socket, kept alive: the follow-up request goes where the refused body went, unless closed.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

  before(async () => {
    server = await startServer(resolveConfig({ dataDir: tmp.dir, port: 0, logLevel: 'silent' }), () => {});
    issuer = new URL(`${server.config.publicUrl}/demo/auth`);
  });
  after(async () => {
    agent.destroy();
    await server?.close();
    tmp.remove();
  });

  function request(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: issuer.hostname, port: issuer.port, method, path: `${issuer.pathname}${path}`, agent, headers }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      // A hang is the failure this test exists for: give up (and fail) instead of waiting forever.
      req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path}: no answer`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  const big = `token=${'a'.repeat(700_000)}`;
  const form = { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(big.length) };

  for (const [name, path, headers] of [
    ['introspection with a bearer token', '/introspect', { authorization: 'Bearer x' }],
    ['POST /authorize', '/authorize', {}],
  ] as const) {
    test(`${name}: 400, then the next request is answered`, async () => {
      const refused = await request('POST', path, { ...form, ...headers }, big);
      assert.equal(refused.status, 400, refused.body);
      assert.match(refused.body, /at most 64 KiB/);
      const next = await request('GET', '/.well-known/openid-configuration');
      assert.equal(next.status, 200);
      assert.equal(JSON.parse(next.body).issuer, issuer.toString());
    });
  }
});
