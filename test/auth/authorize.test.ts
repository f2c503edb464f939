/** SMART 2.2 authorization endpoint: checklist A1–A8 (docs/conformance.md §1). */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DOC, PAT, REDIRECT, authorize, exchange, seedBasics } from './helpers/flows.js';
import { Browser, type Harness, authorizeUrl, pkcePair, startHarness } from './helpers/harness.js';

describe('authorize', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    await seedBasics(h);
  });
  after(() => h.close());

  test('A1 A6 A8 GET authorize: login, patient picker, consent, URL-safe code back with state', async () => {
    const r = await authorize(h, { clientId: 'app', scope: 'launch/patient patient/*.rs', login: DOC, patient: 'BILIBABY' });
    assert.equal(r.url.searchParams.get('state'), r.state);
    const code = r.url.searchParams.get('code') as string;
    assert.match(code, /^[A-Za-z0-9_-]{20,}$/, 'A8: URL-safe code');
    const t = await exchange(h, code, r.verifier, { client_id: 'app' });
    assert.equal(t.status, 200);
    assert.equal(t.body.patient, 'BILIBABY');
  });

  test('A1 POST authorize (authorize-post) works the same', async () => {
    const r = await authorize(h, { clientId: 'app', scope: 'launch/patient patient/*.rs', login: DOC, patient: 'OTHER', post: true });
    const t = await exchange(h, r.url.searchParams.get('code') as string, r.verifier, { client_id: 'app' });
    assert.equal(t.status, 200);
    assert.equal(t.body.patient, 'OTHER');
  });

  test('A2 unknown client: an HTML error page, never a redirect', async () => {
    const res = await fetch(authorizeUrl(h, { client_id: 'nope', redirect_uri: REDIRECT, scope: 'openid' }), { redirect: 'manual' });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('location'), null);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.match(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'self'/);
    assert.match(await res.text(), /invalid_client/);
  });

  test('A2 unregistered redirect_uri: an HTML error page, never a redirect', async () => {
    const res = await fetch(authorizeUrl(h, { client_id: 'app', redirect_uri: 'https://evil.example/cb', scope: 'openid' }), {
      redirect: 'manual',
    });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('location'), null);
    assert.match(await res.text(), /redirect_uri/);
  });

  test('A3 A6 aud mismatch or missing: error redirect with state, no code', async () => {
    for (const aud of ['https://inferno.healthit.gov/invalid_aud', `${h.urls.iss}/`, undefined]) {
      const { challenge } = pkcePair();
      const url = authorizeUrl(h, { client_id: 'app', redirect_uri: REDIRECT, scope: 'patient/*.rs', state: 'abc', code_challenge: challenge, code_challenge_method: 'S256' });
      const u = new URL(url);
      if (aud === undefined) u.searchParams.delete('aud');
      else u.searchParams.set('aud', aud);
      const res = await fetch(u, { redirect: 'manual' });
      assert.equal(res.status, 303);
      const loc = new URL(res.headers.get('location') as string);
      assert.ok(loc.href.startsWith(REDIRECT));
      assert.equal(loc.searchParams.get('error'), 'invalid_request');
      assert.equal(loc.searchParams.get('state'), 'abc', 'A6: state on errors');
      assert.equal(loc.searchParams.get('code'), null);
    }
  });

  test('A4 unknown, expired and foreign-client launches are refused', async () => {
    (await h.auth.clients.add(h.sandbox.key, { clientId: 'other', public: true, redirectUris: [REDIRECT] }));
    const expired = await h.launch({ parameters: { patient: 'BILIBABY' }, expiresAt: Date.now() - 1000 });
    const foreign = await h.launch({ parameters: { patient: 'BILIBABY' }, clientIds: ['other'] });
    const otherSandbox = await h.newSandbox('second');
    const elsewhere = await h.launch({ parameters: { patient: 'BILIBABY' } }, otherSandbox);
    for (const launch of ['A'.repeat(43), expired, foreign, elsewhere]) {
      const { challenge } = pkcePair();
      const url = authorizeUrl(h, { client_id: 'app', redirect_uri: REDIRECT, scope: 'launch patient/*.rs', launch, state: 'x', code_challenge: challenge, code_challenge_method: 'S256' });
      const res = await fetch(url, { redirect: 'manual' });
      const loc = new URL(res.headers.get('location') as string);
      assert.equal(loc.searchParams.get('error'), 'invalid_request', launch);
      assert.equal(loc.searchParams.get('state'), 'x');
    }
  });

  test('A5 missing PKCE is refused (default policy) with a page naming the PKCE setting; if-sent clients may omit it', async () => {
    const url = authorizeUrl(h, { client_id: 'app', redirect_uri: REDIRECT, scope: 'patient/*.rs', state: 'p' });
    const res = await fetch(url, { redirect: 'manual' });
    assert.equal(res.status, 400);
    const page = await res.text();
    assert.match(page, /app app sent no PKCE code_challenge, and its PKCE setting is &#34;required&#34;/);
    assert.match(page, /Apps → Edit → PKCE/);
    assert.match(page, /client add demo app … --pkce if-sent/);
    // The error still reaches the app through the page's link (RFC 6749 §4.1.2.1).
    const href = /<a href="([^"]+)">Return to the app/.exec(page)?.[1].replace(/&#(\d+);/g, (_m, n) => String.fromCharCode(Number(n)));
    const loc = new URL(href as string);
    assert.equal(loc.searchParams.get('error'), 'invalid_request');
    assert.equal(loc.searchParams.get('state'), 'p');
    assert.match(loc.searchParams.get('error_description') ?? '', /--pkce if-sent/);
    const plain = new URL(authorizeUrl(h, { client_id: 'app', redirect_uri: REDIRECT, scope: 'patient/*.rs', state: 'p', code_challenge: 'x'.repeat(43), code_challenge_method: 'plain' }));
    const res2 = await fetch(plain, { redirect: 'manual' });
    assert.ok(new URL(res2.headers.get('location') as string).searchParams.get('error'));

    (await h.auth.clients.add(h.sandbox.key, { clientId: 'legacy', secret: 'legacy-secret', redirectUris: [REDIRECT], pkce: 'if-sent', consent: 'skip' }));
    const b = new Browser();
    const legacy = authorizeUrl(h, { client_id: 'legacy', redirect_uri: REDIRECT, scope: 'user/*.rs', state: 'q' });
    await b.go(legacy, REDIRECT);
    const back = await b.submit(h.config.publicUrl, REDIRECT, DOC);
    assert.ok(back?.searchParams.get('code'));
  });

  test('A7 launch/encounter shows the encounter picker for the chosen patient', async () => {
    const r = await authorize(h, {
      clientId: 'app',
      scope: 'launch/patient launch/encounter patient/*.rs',
      login: DOC,
      patient: 'BILIBABY',
      encounter: 'ENC1',
    });
    const t = await exchange(h, r.url.searchParams.get('code') as string, r.verifier, { client_id: 'app' });
    assert.equal(t.body.patient, 'BILIBABY');
    assert.equal(t.body.encounter, 'ENC1');
  });

  test('A7 "No encounter" proceeds to consent and grants no encounter (no loop back to the picker)', async () => {
    const r = await authorize(h, { clientId: 'app', scope: 'launch/patient launch/encounter patient/*.rs', login: DOC, patient: 'BILIBABY', encounter: '' });
    const t = await exchange(h, r.url.searchParams.get('code') as string, r.verifier, { client_id: 'app' });
    assert.equal(t.status, 200);
    assert.equal(t.body.patient, 'BILIBABY');
    assert.equal(t.body.encounter, undefined);
  });

  test('A7 an encounter of another patient is refused by the picker', async () => {
    const b = new Browser();
    const { challenge } = pkcePair();
    await b.go(
      authorizeUrl(h, { client_id: 'app', redirect_uri: REDIRECT, scope: 'launch/patient launch/encounter patient/*.rs', code_challenge: challenge, code_challenge_method: 'S256' }),
      REDIRECT,
    );
    await b.submit(h.config.publicUrl, REDIRECT, DOC);
    await b.submit(h.config.publicUrl, REDIRECT, { patient: 'BILIBABY' });
    assert.match(b.page, /Choose an encounter/);
    await b.submit(h.config.publicUrl, REDIRECT, { encounter: 'ENC2' });
    assert.match(b.page, /does not belong to this patient/);
  });

  test('A7 a Patient persona gets its own patient without a picker', async () => {
    const r = await authorize(h, { clientId: 'app', scope: 'launch/patient patient/*.rs openid fhirUser', login: PAT });
    const t = await exchange(h, r.url.searchParams.get('code') as string, r.verifier, { client_id: 'app' });
    assert.equal(t.body.patient, 'BILIBABY');
  });

  test('login: a wrong password is refused with a message, usernames are escaped', async () => {
    const b = new Browser();
    const { challenge } = pkcePair();
    await b.go(authorizeUrl(h, { client_id: 'app', redirect_uri: REDIRECT, scope: 'user/*.rs', code_challenge: challenge, code_challenge_method: 'S256' }), REDIRECT);
    assert.match(b.page, /Test &#60;App&#62;/, 'client name is escaped');
    await b.submit(h.config.publicUrl, REDIRECT, { username: '<script>x</script>', password: 'bad' });
    assert.equal(b.status, 401);
    assert.match(b.page, /wrong password/);
    assert.doesNotMatch(b.page, /<script>x/);
    await b.submit(h.config.publicUrl, REDIRECT, { username: 'doc', password: 'bad' });
    assert.equal(b.status, 401);
  });

  test('browser hygiene: CSP, no-referrer, CSRF token required, cookies scoped to /{sandbox}/auth', async () => {
    const b = new Browser();
    const { challenge } = pkcePair();
    const res = await b.request(authorizeUrl(h, { client_id: 'app', redirect_uri: REDIRECT, scope: 'user/*.rs', code_challenge: challenge, code_challenge_method: 'S256' }));
    const page = await b.request(new URL(res.headers.get('location') as string, h.config.publicUrl).href);
    assert.equal(page.status, 200);
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'none'/);
    assert.match(csp, /frame-ancestors 'self'/);
    assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
    for (const c of b.cookies()) assert.ok(c.path.startsWith('/demo/auth'), `${c.name} path ${c.path}`);
    b.page = await page.text();
    const { action, fields } = b.form();
    const forged = await b.request(new URL(action, h.config.publicUrl).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ step: 'login', username: 'doc', password: 'doc-pass' }).toString(),
    });
    assert.equal(forged.status, 403);
    assert.ok(fields.csrf);
  });

  test('consent deny: access_denied back to the app with state', async () => {
    const b = new Browser();
    const { challenge } = pkcePair();
    await b.go(authorizeUrl(h, { client_id: 'app', redirect_uri: REDIRECT, scope: 'user/*.rs openid', state: 'dn', code_challenge: challenge, code_challenge_method: 'S256' }), REDIRECT);
    await b.submit(h.config.publicUrl, REDIRECT, DOC);
    assert.match(b.page, /Allow Test &#60;App&#62;/);
    assert.match(b.page, /read, search all kinds of records that you can access/);
    const back = await b.submit(h.config.publicUrl, REDIRECT, { decision: 'deny' });
    assert.equal(back?.searchParams.get('error'), 'access_denied');
    assert.equal(back?.searchParams.get('state'), 'dn');
  });

  test('unknown sandbox: 404 OperationOutcome', async () => {
    const res = await fetch(`${h.config.publicUrl}/nosuch/auth/authorize?client_id=x`);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { resourceType: string }).resourceType, 'OperationOutcome');
  });
});
