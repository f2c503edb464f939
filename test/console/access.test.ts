/**
 * Admin access to the console (issue 6 "Admin access", docs/architecture.md §6): token bootstrap into an
 * HttpOnly SameSite=Strict cookie, 401 without it, Host/Origin checks, CSRF on writes, no CORS, CSP.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Fastify from 'fastify';
import { resolveConfig } from '../../src/config/config.js';
import { CONSOLE_CSP } from '../../src/console/headers.js';
import { registerConsole } from '../../src/console/routes.js';
import { cookiesOf, type Harness, HOST, ORIGIN, startConsole, TOKEN } from './harness.js';

let h: Harness;
before(async () => {
  h = await startConsole();
});
after(() => h.close());

describe('console admin access', () => {
  test('the printed link sets an HttpOnly SameSite=Strict cookie and redirects to the URL without the token', async () => {
    const res = await h.app.inject({ method: 'GET', url: `/console/s/demo/patients?name=bili&token=${TOKEN}`, headers: { host: HOST } });
    assert.equal(res.statusCode, 303);
    assert.equal(res.headers.location, '/console/s/demo/patients?name=bili');
    const raw = ([] as string[]).concat(res.headers['set-cookie'] as string | string[]);
    const admin = raw.find((c) => c.startsWith('ss_console='));
    assert.ok(admin, 'admin cookie set');
    assert.match(admin!, /; HttpOnly/);
    assert.match(admin!, /; SameSite=Strict/);
    assert.match(admin!, /; Path=\//);
    const csrf = raw.find((c) => c.startsWith('ss_csrf='));
    assert.ok(csrf && /SameSite=Strict/.test(csrf), 'csrf cookie set, SameSite=Strict');
    assert.equal(res.headers['referrer-policy'], 'no-referrer');
    const follow = await h.app.inject({ method: 'GET', url: res.headers.location as string, headers: { host: HOST, cookie: `ss_console=${cookiesOf(res).ss_console}` } });
    assert.equal(follow.statusCode, 200);
    assert.match(follow.body, /Patients/);
  });

  test('a wrong token in the link is refused and sets no cookie', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/?token=not-the-token-at-all', headers: { host: HOST } });
    assert.equal(res.statusCode, 401);
    assert.equal(res.headers['set-cookie'], undefined);
    assert.match(res.body, /not this server/);
  });

  test('pages and the API need the cookie or the bearer token', async () => {
    const page = await h.app.inject({ method: 'GET', url: '/', headers: { host: HOST } });
    assert.equal(page.statusCode, 401);
    assert.match(page.body, /Open the console with the link that &#96;smart-sandbox serve&#96; printed/);
    const wrongCookie = await h.app.inject({ method: 'GET', url: '/console/s/demo', headers: { host: HOST, cookie: 'ss_console=guess' } });
    assert.equal(wrongCookie.statusCode, 401);
    const api = await h.app.inject({ method: 'GET', url: '/api/sandboxes', headers: { host: HOST } });
    assert.equal(api.statusCode, 401);
    assert.equal(api.json().resourceType, 'OperationOutcome');
    const wrongBearer = await h.app.inject({ method: 'GET', url: '/api/sandboxes', headers: { host: HOST, authorization: 'Bearer nope' } });
    assert.equal(wrongBearer.statusCode, 401);
    const bearer = await h.app.inject({ method: 'GET', url: '/api/sandboxes', headers: { host: HOST, authorization: `Bearer ${TOKEN}` } });
    assert.equal(bearer.statusCode, 200);
    assert.deepEqual(
      bearer.json().sandboxes.map((s: { id: string }) => s.id),
      ['demo'],
    );
    const cookie = await h.browser({ method: 'GET', url: '/api/sandboxes' });
    assert.equal(cookie.statusCode, 200);
  });

  test('a foreign Host header is refused (DNS rebinding), loopback names with our port are accepted', async () => {
    for (const host of ['evil.example:8080', 'localhost:9999', '127.0.0.1']) {
      const res = await h.app.inject({ method: 'GET', url: '/api/sandboxes', headers: { host, authorization: `Bearer ${TOKEN}` } });
      assert.equal(res.statusCode, 403, host);
      const page = await h.app.inject({ method: 'GET', url: '/', headers: { host, cookie: h.session.cookie } });
      assert.equal(page.statusCode, 403, host);
    }
    for (const host of ['localhost:8080', '127.0.0.1:8080', '[::1]:8080']) {
      const res = await h.app.inject({ method: 'GET', url: '/api/sandboxes', headers: { host, authorization: `Bearer ${TOKEN}` } });
      assert.equal(res.statusCode, 200, host);
    }
  });

  test('a cross-origin Origin is refused with 403, even with valid cookie and CSRF token', async () => {
    const res = await h.browser({
      method: 'POST',
      url: '/api/sandboxes',
      headers: { origin: 'http://evil.example' },
      payload: { id: 'evil-made', data: 'empty' },
    });
    assert.equal(res.statusCode, 403);
    assert.equal((await h.services.tenants.get('evil-made')), undefined);
    const form = await h.browser({ method: 'POST', url: '/console/sandboxes', headers: { origin: 'http://evil.example' }, payload: { id: 'evil-form' } });
    assert.equal(form.statusCode, 403);
    assert.equal((await h.services.tenants.get('evil-form')), undefined);
    const fetchSite = await h.browser({ method: 'GET', url: '/api/sandboxes', headers: { 'sec-fetch-site': 'cross-site' } });
    assert.equal(fetchSite.statusCode, 403);
  });

  test('Origin: null (what no-referrer pages make browsers send) passes only with Sec-Fetch-Site: same-origin', async () => {
    const blind = await h.browser({ method: 'POST', url: '/console/sandboxes', headers: { origin: 'null' }, payload: { id: 'null-origin' } });
    assert.equal(blind.statusCode, 403);
    const crossSite = await h.browser({ method: 'POST', url: '/console/sandboxes', headers: { origin: 'null', 'sec-fetch-site': 'cross-site' }, payload: { id: 'null-origin' } });
    assert.equal(crossSite.statusCode, 403);
    assert.equal((await h.services.tenants.get('null-origin')), undefined);
    const same = await h.browser({ method: 'POST', url: '/console/sandboxes', headers: { origin: 'null', 'sec-fetch-site': 'same-origin' }, payload: { id: 'null-origin', data: 'empty' } });
    assert.equal(same.statusCode, 303, same.body);
  });

  test('writes with the cookie need the CSRF token (API header, form field)', async () => {
    const noHeader = await h.browser({ method: 'POST', url: '/api/sandboxes', csrf: false, payload: { id: 'no-csrf', data: 'empty' } });
    assert.equal(noHeader.statusCode, 403);
    assert.match(noHeader.json().issue[0].diagnostics, /CSRF/);
    const wrongHeader = await h.browser({ method: 'POST', url: '/api/sandboxes', csrf: false, headers: { 'x-csrf-token': 'x'.repeat(32) }, payload: { id: 'no-csrf', data: 'empty' } });
    assert.equal(wrongHeader.statusCode, 403);
    const noField = await h.browser({ method: 'POST', url: '/console/sandboxes', csrf: false, payload: { id: 'no-csrf' } });
    assert.equal(noField.statusCode, 403);
    assert.match(noField.body, /security token/);
    assert.equal((await h.services.tenants.get('no-csrf')), undefined);
    const ok = await h.browser({ method: 'POST', url: '/api/sandboxes', payload: { id: 'with-csrf', data: 'empty' } });
    assert.equal(ok.statusCode, 201, ok.body);
    // Scripts with the bearer token are not CSRF-able: a browser never adds that header by itself.
    const script = await h.app.inject({ method: 'DELETE', url: '/api/sandboxes/with-csrf', headers: { host: HOST, authorization: `Bearer ${TOKEN}` } });
    assert.equal(script.statusCode, 204);
  });

  test('no CORS headers, strict CSP and security headers on pages and API', async () => {
    const pre = await h.app.inject({ method: 'OPTIONS', url: '/api/sandboxes', headers: { host: HOST, origin: 'http://evil.example', 'access-control-request-method': 'POST' } });
    assert.equal(pre.headers['access-control-allow-origin'], undefined);
    for (const url of ['/', '/console/s/demo', '/console/s/demo/apps', '/api/sandboxes']) {
      const res = await h.browser({ method: 'GET', url, headers: { origin: 'http://127.0.0.1:8080' } });
      assert.equal(res.statusCode, 200, url);
      assert.equal(res.headers['content-security-policy'], CONSOLE_CSP, url);
      assert.match(CONSOLE_CSP, /default-src 'self'/);
      assert.match(CONSOLE_CSP, /frame-ancestors 'self'/);
      assert.doesNotMatch(CONSOLE_CSP, /unsafe-inline/);
      assert.equal(res.headers['referrer-policy'], 'no-referrer');
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      assert.equal(res.headers['cache-control'], 'no-store');
      for (const k of Object.keys(res.headers)) assert.ok(!k.startsWith('access-control-'), `${url} sends ${k}`);
    }
  });

  test('pages carry no inline script, style or event handler', async () => {
    for (const url of ['/', '/console/s/demo', '/console/s/demo/patients', '/console/s/demo/patients/BILIBABY', '/console/s/demo/apps', '/console/s/demo/personas', '/console/s/demo/launch', '/console/s/demo/inspector']) {
      const res = await h.browser({ method: 'GET', url });
      assert.equal(res.statusCode, 200, `${url}: ${res.body.slice(0, 300)}`);
      assert.doesNotMatch(res.body, /<script/i, url);
      assert.doesNotMatch(res.body, /\sstyle=|<style/i, url);
      assert.doesNotMatch(res.body, /\son[a-z]+=/i, url);
      assert.match(res.body, /<link rel="stylesheet" href="\/console\/assets\/console.css">/);
    }
    const css = await h.app.inject({ method: 'GET', url: '/console/assets/console.css' });
    assert.equal(css.statusCode, 200);
    assert.match(String(css.headers['content-type']), /text\/css/);
    assert.equal((await h.app.inject({ method: 'GET', url: '/console/assets/..%2fpackage.json' })).statusCode, 404);
  });

  test('no default password: a missing or short admin token refuses to start', async () => {
    const app = Fastify({ logger: false });
    const config = resolveConfig({ host: '0.0.0.0', publicUrl: ORIGIN, dataDir: '/nonexistent' });
    for (const adminToken of ['', 'short']) await assert.rejects(registerConsole(app, { config, services: h.services, adminToken }), /at least 16 characters/);
    await app.close();
  });
});
