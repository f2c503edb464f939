/**
 * Errors raised by fastify before routing (frameworkErrors) answer as FHIR OperationOutcomes: the
 * real app from buildApp over real services in a temp dir.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
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
});
