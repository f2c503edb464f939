/**
 * Errors raised before routing — by fastify (frameworkErrors) or by node's HTTP parser
 * (clientErrorHandler) — answer as FHIR OperationOutcomes: the real app from buildApp over real
 * services in a temp dir.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { resolveConfig } from '../../src/config/config.js';
import { createServices, type Services } from '../../src/services.js';

describe('undecodable URLs', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-'));
  let services: Services;
  let app: FastifyInstance;
  before(async () => {
    const config = resolveConfig({ dataDir: dir, logLevel: 'silent', demo: false });
    services = await createServices(config);
    (await services.tenants.create('demo', { openRead: true }));
    app = await buildApp(config, services);
    await app.ready();
  });
  after(async () => {
    await app?.close();
    await services?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a malformed percent-encoding in the path is a 400 OperationOutcome', async () => {
    for (const url of ['/demo/data/Patient/%E0%A4%A', '/demo/open/Patient/%E0%A4%A', '/demo/open/%ZZ']) {
      const r = await app.inject({ url });
      assert.equal(r.statusCode, 400, `${url}: ${r.body}`);
      assert.match(String(r.headers['content-type']), /^application\/fhir\+json/);
      const body = r.json();
      assert.equal(body.resourceType, 'OperationOutcome');
      assert.equal(body.issue[0].code, 'invalid');
    }
    // A well-formed URL on the same route still works.
    assert.equal((await app.inject({ url: '/demo/open/Patient/%41bc' })).statusCode, 404);
  });

  // Found by the fuzz suite: node's parser refused these before fastify routed them, and fastify
  // answered with its own JSON, not an OperationOutcome.
  test('a request line over the 16 KiB header limit is a 431 OperationOutcome (over real HTTP)', async () => {
    const url = await listening();
    const r = await fetch(`${url}/demo/open/Patient?name=${'x'.repeat(20_000)}`);
    assert.equal(r.status, 431);
    assert.match(r.headers.get('content-type') ?? '', /^application\/fhir\+json/);
    const body = await r.json();
    assert.equal(body.resourceType, 'OperationOutcome');
    assert.equal(body.issue[0].code, 'too-costly');
    assert.match(body.issue[0].diagnostics, /POST .*_search/);
  });

  test('malformed HTTP is a 400 OperationOutcome', async () => {
    const url = new URL(await listening());
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(url.port), url.hostname, () => socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n'));
      let out = '';
      socket.on('data', (d) => (out += d));
      socket.on('close', () => resolve(out));
      socket.on('error', reject);
    });
    assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(raw, /Content-Type: application\/fhir\+json/);
    const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));
    assert.equal(body.resourceType, 'OperationOutcome');
    assert.equal(body.issue[0].code, 'invalid');
  });

  let base: string | undefined;
  async function listening(): Promise<string> {
    if (!base) {
      await app.listen({ port: 0, host: '127.0.0.1' });
      base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    }
    return base;
  }
});
