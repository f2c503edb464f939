/**
 * A browser FHIR client on another origin, in Chromium: the page is served by a second small HTTP
 * server on another port (so its origin differs from the sandbox's). The real Medplum client
 * (@medplum/core's browser bundle, sending its own `X-Medplum` header) reads, searches and creates
 * with a bearer token obtained by the test; fetch calls with the client's options (`credentials:
 * 'include'`, custom headers) check what the page can read: `WWW-Authenticate` of a 401,
 * `Location`/`ETag` of a create, and a credentialed token request. Each call needs a CORS preflight and
 * a credentialed answer (src/http/cors.ts).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { resolveConfig } from '../../src/config/config.js';
import { type RunningServer, startServer } from '../../src/main.js';
import { chromiumSkip, launchChromium } from '../helpers/chromium.js';
import { clientCredentials } from '../helpers/oauth.js';
import { ROOT, tempDir } from '../helpers/server.js';

const skip = chromiumSkip();
const SECRET = 'browser-client-secret-0123456789';

/** The Medplum client's browser bundle (self-contained ESM), served to the page by the page's own server. */
const MEDPLUM_BUNDLE = path.join(ROOT, 'node_modules/@medplum/core/dist/esm/index.mjs');

/**
 * The app page: the Medplum client (`X-Medplum: extended` on every FHIR request; `credentials:
 * 'include'` at the token endpoint) reads, searches and creates; plain fetch calls with the same options
 * show what a script can read of the answers (WWW-Authenticate, Location, ETag).
 */
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>FHIR client on another origin</title></head>
<body>
<script type="module">
import { MedplumClient } from './medplum.mjs';
let requestCount = 0;
async function fhir(url, token, method, body, extra = {}) {
  const headers = { Accept: 'application/fhir+json, */*; q=0.1', 'X-Medplum': 'extended', 'X-Request-Id': 'req-' + (++requestCount), ...extra };
  if (token) headers.Authorization = 'Bearer ' + token;
  if (body !== undefined && !headers['Content-Type']) headers['Content-Type'] = 'application/fhir+json';
  const res = await fetch(url, {
    method,
    headers,
    credentials: 'include',
    cache: 'no-cache',
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: text ? JSON.parse(text) : undefined,
    location: res.headers.get('Location'),
    etag: res.headers.get('ETag'),
    wwwAuthenticate: res.headers.get('WWW-Authenticate'),
  };
}
window.runClient = async ({ publicUrl, sandbox, token, basic }) => {
  const base = publicUrl + '/' + sandbox + '/data';
  const out = { origin: location.origin };
  const medplum = new MedplumClient({ baseUrl: publicUrl + '/', fhirUrlPath: sandbox + '/data', onUnauthenticated: () => {} });
  medplum.setAccessToken(token);
  const patient = await medplum.readResource('Patient', 'BILIBABY');
  const bundle = await medplum.search('Observation', { patient: 'BILIBABY', _count: '5' });
  const created = await medplum.createResource({
    resourceType: 'Observation',
    status: 'final',
    code: { text: 'created by the Medplum client on another origin' },
    subject: { reference: 'Patient/BILIBABY' },
  });
  out.medplum = { patient: patient.id, searchHits: bundle.entry?.length ?? 0, created: created.id, createdVersion: created.meta?.versionId };

  out.read = await fhir(base + '/Patient/BILIBABY', token, 'GET');
  out.create = await fhir(base + '/Observation', token, 'POST', {
    resourceType: 'Observation',
    status: 'final',
    code: { text: 'created by fetch on another origin' },
    subject: { reference: 'Patient/BILIBABY' },
  });
  out.unauthorized = await fhir(base + '/Patient/BILIBABY', undefined, 'GET');
  // The token endpoint as the Medplum client calls it: credentials included, form body, Basic auth.
  out.token = await fhir(publicUrl + '/' + sandbox + '/auth/token', undefined, 'POST', 'grant_type=client_credentials&scope=system%2FPatient.rs', {
    'Content-Type': 'application/x-www-form-urlencoded',
    Authorization: 'Basic ' + basic,
  });
  return out;
};
window.ready = true;
</script>
</body></html>`;

describe('a FHIR client on another origin, in Chromium', { skip }, () => {
  const tmp = tempDir('ss-browser-cors-');
  let server: RunningServer;
  let pageServer: http.Server;
  let pageUrl: string;
  let browser: Browser;
  let token: string;

  before(async () => {
    server = await startServer(resolveConfig({ dataDir: tmp.dir, port: 0, logLevel: 'silent' }), () => {});
    const demo = (await server.services.tenants.get('demo'))!;
    await server.services.auth.clients.add(demo.key, { clientId: 'page-app', secret: SECRET, grantTypes: ['client_credentials'], scope: 'system/*.cruds' });
    token = await clientCredentials(`${server.config.publicUrl}/demo/auth`, 'page-app', SECRET, 'system/Patient.rs system/Observation.cruds');
    const bundle = fs.readFileSync(MEDPLUM_BUNDLE);
    pageServer = http.createServer((req, res) => {
      if (req.url === '/medplum.mjs') res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(bundle);
      else res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    });
    await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
    pageUrl = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}/app.html`;
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await new Promise((resolve) => pageServer?.close(resolve));
    await server?.close();
    tmp.remove();
  });

  test('reads, searches and creates with credentials and a custom header; reads WWW-Authenticate, Location and ETag', async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (m) => {
      // A 401 is logged as a failed resource load; only CORS refusals are problems here.
      if (m.type() === 'error' && /CORS|Access-Control/i.test(m.text())) problems.push(m.text());
    });
    await page.goto(pageUrl);
    await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
    const publicUrl = server.config.publicUrl;
    const base = `${publicUrl}/demo/data`;
    const basic = Buffer.from(`page-app:${SECRET}`).toString('base64');
    const out = await page.evaluate(
      async (args) => (window as unknown as { runClient: (a: unknown) => Promise<any> }).runClient(args),
      { publicUrl, sandbox: 'demo', token, basic },
    );

    assert.notEqual(out.origin, new URL(base).origin, 'the page runs on another origin');
    assert.equal(out.medplum.patient, 'BILIBABY', 'the Medplum client reads');
    assert.ok(out.medplum.searchHits > 0, 'the Medplum client searches');
    assert.equal(out.medplum.createdVersion, '1', 'the Medplum client creates');

    assert.equal(out.read.status, 200);
    assert.equal(out.read.body.id, 'BILIBABY');
    assert.match(out.read.etag ?? '', /^W\/"\d+"$/, 'ETag of a read is readable');

    assert.equal(out.create.status, 201);
    assert.equal(out.create.body.resourceType, 'Observation');
    assert.equal(out.create.location, `${base}/Observation/${out.create.body.id}/_history/1`, 'Location of a create is readable');
    assert.equal(out.create.etag, 'W/"1"', 'ETag of a create is readable');

    assert.equal(out.unauthorized.status, 401);
    assert.match(out.unauthorized.wwwAuthenticate ?? '', /^Bearer error="invalid_token"/, 'WWW-Authenticate of a 401 is readable');
    assert.equal(out.unauthorized.body.resourceType, 'OperationOutcome');

    assert.equal(out.token.status, 200, 'the token endpoint answers a credentialed cross-origin request');
    assert.equal(typeof out.token.body.access_token, 'string');

    assert.deepEqual(problems, [], 'no CORS error in the console');
    const demo = (await server.services.tenants.get('demo'))!;
    for (const id of [out.medplum.created, out.create.body.id]) assert.ok(await server.services.fhir.read(demo.key, 'Observation', id), `Observation ${id} is stored`);
    await page.close();
  });
});
