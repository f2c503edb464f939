import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { APP_CSP, APP_FILES, packageRoot, registerDemoApps } from '../../src/apps/routes.js';
import { resolveConfig } from '../../src/config/config.js';
import { installErrorHandlers } from '../../src/http/errors.js';

const PUBLIC_URL = 'http://sandbox.test:9000';
let app: FastifyInstance;

before(async () => {
  app = Fastify({ logger: false });
  installErrorHandlers(app);
  await registerDemoApps(app, { config: resolveConfig({ publicUrl: PUBLIC_URL }) });
  await app.ready();
});
after(() => app.close());

const get = (url: string, headers: Record<string, string> = {}) => app.inject({ method: 'GET', url, headers });

function assertSecurityHeaders(res: Awaited<ReturnType<typeof get>>) {
  assert.equal(res.headers['content-security-policy'], APP_CSP);
  assert.match(String(res.headers['content-security-policy']), /default-src 'self'/);
  assert.match(String(res.headers['content-security-policy']), /frame-ancestors 'self'/);
  assert.equal(res.headers['referrer-policy'], 'no-referrer');
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
  assert.ok(res.headers['cache-control'], 'Cache-Control is set');
}

describe('demo app routes', () => {
  test('launch.html and index.html are HTML pages loading the vendor script and no inline script or style', async () => {
    for (const page of ['launch.html', 'index.html']) {
      const res = await get(`/apps/bilirubin-chart/${page}`);
      assert.equal(res.statusCode, 200, page);
      assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
      assertSecurityHeaders(res);
      assert.match(res.body, /<script src="\.\.\/vendor\/fhir-client\.min\.js"><\/script>/);
      // CSP default-src 'self' would block these, so they must not exist.
      assert.doesNotMatch(res.body, /<script(?![^>]*\bsrc=)[^>]*>/, `${page} has an inline script`);
      assert.doesNotMatch(res.body, /\sstyle=|<style/i, `${page} has an inline style`);
      assert.doesNotMatch(res.body, /\son[a-z]+=/i, `${page} has an inline event handler`);
      assert.doesNotMatch(res.body, /https?:\/\/(?!www\.w3\.org\/2000\/svg)/, `${page} references another origin`);
    }
    const index = await get('/apps/bilirubin-chart/index.html');
    assert.match(index.body, /data-testid="error"/);
    assert.match(index.body, /<script type="module" src="app\.js"><\/script>/);
  });

  test('every allow-listed file is served with its media type', async () => {
    const expected: Record<string, RegExp> = { html: /^text\/html/, js: /^text\/javascript/, css: /^text\/css/ };
    for (const [name, type] of Object.entries(APP_FILES)) {
      const res = await get(`/apps/bilirubin-chart/${name}`);
      assert.equal(res.statusCode, 200, name);
      assert.equal(res.headers['content-type'], type);
      assert.match(type, expected[name.split('.').pop()!]);
      assertSecurityHeaders(res);
      assert.equal(res.body, fs.readFileSync(path.join(packageRoot(), 'apps', 'bilirubin-chart', name), 'utf8'));
    }
  });

  test('every file the pages load is on the allow-list', async () => {
    for (const page of ['launch.html', 'index.html']) {
      const body = (await get(`/apps/bilirubin-chart/${page}`)).body;
      for (const m of body.matchAll(/(?:src|href)="([^"]+)"/g)) {
        const ref = m[1];
        if (ref.startsWith('data:') || ref === '../vendor/fhir-client.min.js') continue;
        assert.ok(Object.hasOwn(APP_FILES, ref), `${page} loads ${ref}, which is not served`);
      }
    }
    // app.js imports its modules relatively; they must be served too.
    for (const script of ['app.js', 'chart-math.js', 'bili-fhir.js']) {
      const body = (await get(`/apps/bilirubin-chart/${script}`)).body;
      for (const m of body.matchAll(/from '\.\/([^']+)'/g)) assert.ok(Object.hasOwn(APP_FILES, m[1]), `${script} imports ${m[1]}`);
    }
  });

  test('the vendor script is the fhirclient browser build defining the FHIR global', async () => {
    const res = await get('/apps/vendor/fhir-client.min.js');
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'text/javascript; charset=utf-8');
    assertSecurityHeaders(res);
    const file = path.join(path.dirname(createRequire(import.meta.url).resolve('fhirclient/package.json')), 'build', 'fhir-client.min.js');
    assert.equal(res.rawPayload.length, fs.statSync(file).size);
    assert.match(res.body, /window\.FHIR=/);
  });

  test('HEAD works and a matching If-None-Match gets 304', async () => {
    const head = await app.inject({ method: 'HEAD', url: '/apps/bilirubin-chart/app.js' });
    assert.equal(head.statusCode, 200);
    assert.equal(head.body, '');
    const first = await get('/apps/bilirubin-chart/app.js');
    const etag = String(first.headers.etag);
    assert.match(etag, /^"[A-Za-z0-9_-]+"$/);
    const again = await get('/apps/bilirubin-chart/app.js', { 'if-none-match': etag });
    assert.equal(again.statusCode, 304);
    assert.equal(again.body, '');
    const other = await get('/apps/bilirubin-chart/app.js', { 'if-none-match': '"something-else"' });
    assert.equal(other.statusCode, 200);
  });

  test('the app root redirects to index.html under the public URL', async () => {
    for (const url of ['/apps/bilirubin-chart/', '/apps/bilirubin-chart']) {
      const res = await get(url);
      assert.equal(res.statusCode, 302, url);
      assert.equal(res.headers.location, `${PUBLIC_URL}/apps/bilirubin-chart/index.html`);
    }
  });

  test('path traversal attempts and unknown files are 404 OperationOutcomes', async () => {
    const attempts = [
      '/apps/bilirubin-chart/../../package.json',
      '/apps/bilirubin-chart/..%2f..%2fpackage.json',
      '/apps/bilirubin-chart/%2e%2e%2f%2e%2e%2fpackage.json',
      '/apps/bilirubin-chart/%2E%2E%2F%2E%2E%2Fpackage.json',
      '/apps/bilirubin-chart/..%5c..%5cpackage.json',
      '/apps/bilirubin-chart/%252e%252e%252fpackage.json',
      '/apps/bilirubin-chart/..',
      '/apps/bilirubin-chart/%2e%2e',
      '/apps/bilirubin-chart/index.html%00.js',
      '/apps/bilirubin-chart/sub/index.html',
      '/apps/vendor/../bilirubin-chart/../../package.json',
      '/apps/vendor/fhir-client.js',
      '/apps/vendor/fhir-client.min.js.map',
      '/apps/bilirubin-chart/missing.js',
      '/apps/bilirubin-chart/INDEX.HTML',
      '/apps/bilirubin-chart/constructor',
      '/apps/bilirubin-chart/__proto__',
      '/apps/bilirubin-chart/hasOwnProperty',
    ];
    for (const url of attempts) {
      const res = await get(url);
      assert.equal(res.statusCode, 404, `${url} → ${res.statusCode}`);
      assert.doesNotMatch(res.body, /"name":\s*"smart-sandbox"/, `${url} leaked package.json`);
      assert.equal(JSON.parse(res.body).resourceType, 'OperationOutcome', url);
    }
  });

  test('only GET and HEAD are answered', async () => {
    const res = await app.inject({ method: 'POST', url: '/apps/bilirubin-chart/index.html', payload: {} });
    assert.equal(res.statusCode, 404);
  });
});

describe('packageRoot', () => {
  test('finds the smart-sandbox package from this test file and from a nested directory', () => {
    const root = packageRoot();
    assert.equal(JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).name, 'smart-sandbox');
    assert.equal(packageRoot(path.join(root, 'apps', 'bilirubin-chart')), root);
  });

  test('fails loudly when there is no smart-sandbox package above', () => {
    assert.throws(() => packageRoot(path.parse(process.cwd()).root), /package root not found/);
  });
});
