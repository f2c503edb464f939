/**
 * A browser FHIR client on another origin, in Chromium: the page is served by a second small HTTP
 * server on another port (so its origin differs from the sandbox's) and fetches the FHIR API as the
 * Medplum client does — `credentials: 'include'`, its own header (`X-Request-Id`), FHIR JSON accept and
 * content types, a bearer token (obtained here by the test) — so every call needs the CORS preflight
 * and a credentialed answer (src/http/cors.ts). It reads, searches and creates, and reads
 * `WWW-Authenticate` from a 401 and `Location`/`ETag` from a create.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { resolveConfig } from '../../src/config/config.js';
import { type RunningServer, startServer } from '../../src/main.js';
import { chromiumSkip, launchChromium } from '../helpers/chromium.js';
import { clientCredentials } from '../helpers/oauth.js';
import { tempDir } from '../helpers/server.js';

const skip = chromiumSkip();
const SECRET = 'browser-client-secret-0123456789';

/** The app page: a minimal FHIR client with the Medplum client's fetch options. */
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>FHIR client on another origin</title></head>
<body>
<script>
let requestCount = 0;
async function fhir(base, token, method, path, body) {
  const headers = { Accept: 'application/fhir+json, */*; q=0.1', 'X-Request-Id': 'req-' + (++requestCount) };
  if (token) headers.Authorization = 'Bearer ' + token;
  if (body !== undefined) headers['Content-Type'] = 'application/fhir+json';
  const res = await fetch(base + '/' + path, {
    method,
    headers,
    credentials: 'include',
    cache: 'no-cache',
    body: body === undefined ? undefined : JSON.stringify(body),
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
window.runClient = async (base, token) => {
  const out = {};
  out.read = await fhir(base, token, 'GET', 'Patient/BILIBABY');
  out.search = await fhir(base, token, 'GET', 'Observation?patient=BILIBABY&_count=5');
  out.create = await fhir(base, token, 'POST', 'Observation', {
    resourceType: 'Observation',
    status: 'final',
    code: { text: 'created by a page on another origin' },
    subject: { reference: 'Patient/BILIBABY' },
  });
  out.unauthorized = await fhir(base, undefined, 'GET', 'Patient/BILIBABY');
  out.origin = location.origin;
  return out;
};
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
    pageServer = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE));
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
    const base = `${server.config.publicUrl}/demo/data`;
    const out = await page.evaluate(async ({ base, token }) => (window as unknown as { runClient: (b: string, t: string) => Promise<any> }).runClient(base, token), { base, token });

    assert.notEqual(out.origin, new URL(base).origin, 'the page runs on another origin');
    assert.equal(out.read.status, 200);
    assert.equal(out.read.body.id, 'BILIBABY');
    assert.match(out.read.etag ?? '', /^W\/"\d+"$/, 'ETag of a read is readable');

    assert.equal(out.search.status, 200);
    assert.equal(out.search.body.resourceType, 'Bundle');
    assert.ok(out.search.body.entry.length > 0, 'the search finds the patient’s observations');

    assert.equal(out.create.status, 201);
    assert.equal(out.create.body.resourceType, 'Observation');
    assert.match(out.create.location ?? '', new RegExp(`^${base}/Observation/${out.create.body.id}/_history/1$`), 'Location of a create is readable');
    assert.equal(out.create.etag, 'W/"1"', 'ETag of a create is readable');

    assert.equal(out.unauthorized.status, 401);
    assert.match(out.unauthorized.wwwAuthenticate ?? '', /^Bearer error="invalid_token"/, 'WWW-Authenticate of a 401 is readable');
    assert.equal(out.unauthorized.body.resourceType, 'OperationOutcome');

    assert.deepEqual(problems, [], 'no CORS error in the console');
    const demo = (await server.services.tenants.get('demo'))!;
    assert.ok(await server.services.fhir.read(demo.key, 'Observation', out.create.body.id), 'the Observation is stored');
    await page.close();
  });
});
