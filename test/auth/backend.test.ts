/** Asymmetric clients and backend services (T3, B1), launcher clients, dynamic registration. */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { DOC, REDIRECT, authorize, exchange, seedBasics } from './helpers/flows.js';
import { type Harness, basic, postForm, startHarness } from './helpers/harness.js';

type Key = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

async function keyPair(alg: 'RS384' | 'ES384', kid: string) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg } };
}

describe('asymmetric clients and backend services', () => {
  let h: Harness;
  let rs: { privateKey: Key; jwk: Record<string, unknown> };
  let es: { privateKey: Key; jwk: Record<string, unknown> };
  let jwksServer: http.Server;
  let jwksUrl: string;
  before(async () => {
    h = await startHarness();
    await seedBasics(h);
    rs = await keyPair('RS384', 'rs-1');
    es = await keyPair('ES384', 'es-1');
    (await h.auth.clients.add(h.sandbox.key, { clientId: 'svc', jwks: { keys: [rs.jwk, es.jwk] }, scope: 'system/*.rs system/Observation.read' }));
    (await h.auth.clients.add(h.sandbox.key, { clientId: 'asym-app', jwks: { keys: [es.jwk] }, redirectUris: [REDIRECT] }));
    jwksServer = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [rs.jwk] }));
    });
    await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
    jwksUrl = `http://127.0.0.1:${(jwksServer.address() as { port: number }).port}/jwks.json`;
    (await h.auth.clients.add(h.sandbox.key, { clientId: 'svc-url', jwksUrl, scope: 'system/*.rs' }));
  });
  after(async () => {
    jwksServer.close();
    await h.close();
  });

  const assertion = (clientId: string, key: Key, alg: string, kid: string, o: { exp?: number; jti?: string; aud?: string; sub?: string } = {}) =>
    new SignJWT({ jti: o.jti ?? crypto.randomBytes(16).toString('hex') })
      .setProtectedHeader({ alg, kid, typ: 'JWT' })
      .setIssuer(clientId)
      .setSubject(o.sub ?? clientId)
      .setAudience(o.aud ?? h.urls.token)
      .setExpirationTime(o.exp ?? Math.floor(Date.now() / 1000) + 120)
      .sign(key);

  const cc = (a: string, scope = 'system/*.rs', extra: Record<string, string> = {}) =>
    postForm(h.urls.token, {
      grant_type: 'client_credentials',
      scope,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: a,
      ...extra,
    });

  test('B1 client_credentials with RS384 and ES384 (inline JWKS): ≤ 300 s, no refresh token, system scopes', async () => {
    for (const [key, alg, kid] of [
      [rs.privateKey, 'RS384', 'rs-1'],
      [es.privateKey, 'ES384', 'es-1'],
    ] as const) {
      const t = await cc(await assertion('svc', key, alg, kid), 'system/*.rs system/Observation.read');
      assert.equal(t.status, 200, JSON.stringify(t.body));
      assert.equal(t.body.token_type, 'Bearer');
      assert.ok((t.body.expires_in as number) <= 300);
      assert.equal(t.body.refresh_token, undefined);
      assert.deepEqual(String(t.body.scope).split(' ').sort(), ['system/*.rs', 'system/Observation.read']);
      const g = await h.auth.verifier.verify(h.sandbox, String(t.body.access_token));
      assert.equal(g?.clientId, 'svc');
      assert.equal(g?.sub, undefined);
      assert.equal(g?.scope, t.body.scope);
    }
  });

  test('B1 JWKS URL on loopback works; v1 system/*.read covered by system/*.rs', async () => {
    const t = await cc(await assertion('svc-url', rs.privateKey, 'RS384', 'rs-1'), 'system/*.read');
    assert.equal(t.status, 200, JSON.stringify(t.body));
    assert.equal(t.body.scope, 'system/*.read');
  });

  test('T3 jti replay, exp > 5 min, wrong aud, unknown kid, iss ≠ sub: 401 invalid_client', async () => {
    const a = await assertion('svc', es.privateKey, 'ES384', 'es-1');
    assert.equal((await cc(a)).status, 200);
    const replay = await cc(a);
    assert.equal(replay.status, 401);
    assert.equal(replay.body.error, 'invalid_client');
    const cases = [
      await assertion('svc', es.privateKey, 'ES384', 'es-1', { exp: Math.floor(Date.now() / 1000) + 3600 }),
      await assertion('svc', es.privateKey, 'ES384', 'es-1', { aud: 'https://elsewhere.example/token' }),
      await assertion('svc', es.privateKey, 'ES384', 'nope'),
      await assertion('svc', es.privateKey, 'ES384', 'es-1', { sub: 'other' }),
    ];
    for (const c of cases) {
      const r = await cc(c);
      assert.equal(r.status, 401, JSON.stringify(r.body));
      assert.equal(r.body.error, 'invalid_client');
    }
  });

  test('B1 bad grant type 400, bad assertion type 400/401, scopes not registered: invalid_scope', async () => {
    const a = await assertion('svc', es.privateKey, 'ES384', 'es-1');
    assert.equal((await cc(a, 'system/*.rs', { grant_type: 'not_a_grant_type' })).status, 400);
    const badType = await cc(a, 'system/*.rs', { client_assertion_type: 'not_an_assertion_type' });
    assert.ok([400, 401].includes(badType.status));
    const wrong = await cc(await assertion('svc', es.privateKey, 'ES384', 'es-1'), 'system/*.cruds smart/orchestrate_launch');
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.error, 'invalid_scope');
  });

  test('launcher client: a secret + client_credentials + smart/orchestrate_launch', async () => {
    const { generatedSecret } = (await h.auth.clients.add(h.sandbox.key, { clientId: 'launcher', grantTypes: ['client_credentials'], scope: 'smart/orchestrate_launch' }));
    const t = await postForm(h.urls.token, { grant_type: 'client_credentials', scope: 'smart/orchestrate_launch' }, { authorization: basic('launcher', generatedSecret as string) });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    const g = await h.auth.verifier.verify(h.sandbox, String(t.body.access_token));
    assert.equal(g?.scope, 'smart/orchestrate_launch');
    // A public app cannot use client_credentials at all.
    const pub = await postForm(h.urls.token, { grant_type: 'client_credentials', scope: 'system/*.rs', client_id: 'app' });
    assert.ok([400, 401].includes(pub.status));
  });

  test('T3 asymmetric app: authorization code exchanged with an ES384 assertion (no client_id in body)', async () => {
    const r = await authorize(h, { clientId: 'asym-app', scope: 'launch/patient openid fhirUser patient/*.rs', login: DOC, patient: 'BILIBABY' });
    const a = await assertion('asym-app', es.privateKey, 'ES384', 'es-1');
    const t = await exchange(h, r.url.searchParams.get('code') as string, r.verifier, {
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: a,
    });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    assert.equal(t.body.patient, 'BILIBABY');
    assert.equal(typeof t.body.id_token, 'string');
  });

  test('JWKS URLs at private or link-local addresses are refused', async () => {
    (await h.auth.clients.add(h.sandbox.key, { clientId: 'svc-meta', jwksUrl: 'http://169.254.169.254/jwks.json', scope: 'system/*.rs' }));
    const t = await cc(await assertion('svc-meta', rs.privateKey, 'RS384', 'rs-1'));
    assert.equal(t.status, 401);
    assert.equal(t.body.error, 'invalid_client');
  });

  test('dynamic registration needs the initial access token and never grants restricted scopes', async () => {
    const reg = `${h.urls.issuer}/register`;
    const body = JSON.stringify({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', client_name: 'Reg App', scope: 'openid' });
    const anon = await fetch(reg, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.ok([400, 401].includes(anon.status));
    const wrong = await fetch(reg, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer nope' }, body });
    assert.ok([400, 401].includes(wrong.status));
    const token = (await h.auth.registrationToken(h.sandbox));
    const ok = await fetch(reg, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body });
    assert.equal(ok.status, 201);
    const meta = (await ok.json()) as { client_id: string };
    const stored = (await h.auth.clients.getClient(h.sandbox.key, meta.client_id));
    assert.equal(stored?.authMethod, 'none');
    assert.doesNotMatch(stored?.scope ?? '', /system\/|orchestrate/);
    const conf = await fetch(reg, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ redirect_uris: [REDIRECT], client_name: 'Conf App', grant_types: ['authorization_code', 'refresh_token', 'client_credentials'] }),
    });
    assert.equal(conf.status, 201);
    const confMeta = (await conf.json()) as { client_id: string; client_secret: string };
    assert.ok(confMeta.client_secret);
    const cs = await postForm(h.urls.token, { grant_type: 'client_credentials', scope: 'system/*.rs' }, { authorization: basic(confMeta.client_id, confMeta.client_secret) });
    assert.ok([400, 401].includes(cs.status), 'no client_credentials / system scopes for registered apps');
    // Its secret works (stored hashed) for the code flow.
    const r = await authorize(h, { clientId: confMeta.client_id, scope: 'user/*.rs', login: DOC });
    const t = await exchange(h, r.url.searchParams.get('code') as string, r.verifier, {}, { authorization: basic(confMeta.client_id, confMeta.client_secret) });
    assert.equal(t.status, 200, JSON.stringify(t.body));
  });
});
