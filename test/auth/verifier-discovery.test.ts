/** TokenVerifier for the FHIR API and discovery routes (D1, D2, D5). */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CAPABILITIES } from '../../src/auth/discovery.js';
import { DOC, PAT, REDIRECT, authorize, exchange, seedBasics } from './helpers/flows.js';
import { type Harness, startHarness } from './helpers/harness.js';

describe('verifier', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    await seedBasics(h);
  });
  after(() => h.close());

  const token = async (login = DOC, clientId = 'app') => {
    const r = await authorize(h, { clientId, scope: 'launch/patient openid fhirUser patient/*.rs', login, patient: 'BILIBABY' });
    const t = await exchange(h, r.url.searchParams.get('code') as string, r.verifier, { client_id: clientId });
    return String(t.body.access_token);
  };

  test('an active token of this sandbox: grant with relative fhirUser, patient, scope, expiry', async () => {
    const at = await token();
    const g = await h.auth.verifier.verify(h.sandbox, at);
    assert.ok(g);
    assert.equal(g.sandboxKey, h.sandbox.key);
    assert.equal(g.clientId, 'app');
    assert.equal(g.sub, 'doc');
    assert.equal(g.fhirUser, 'Practitioner/DOC1');
    assert.equal(g.patient, 'BILIBABY');
    assert.deepEqual(g.scope.split(' ').sort(), ['fhirUser', 'launch/patient', 'openid', 'patient/*.rs']);
    assert.ok(g.expiresAt > Date.now() / 1000);
    assert.equal(g.context.need_patient_banner, true);
  });

  test('unknown, malformed and other-sandbox tokens are undefined', async () => {
    const at = await token();
    const other = await h.newSandbox('other-one');
    assert.equal(await h.auth.verifier.verify(other, at), undefined);
    assert.equal(await h.auth.verifier.verify(h.sandbox, 'x'.repeat(43)), undefined);
    assert.equal(await h.auth.verifier.verify(h.sandbox, "'; DROP TABLE x; --"), undefined);
  });

  test('removing the persona or the client kills its tokens at once', async () => {
    (await h.auth.personas.add(h.sandbox.key, { username: 'temp', password: 'temp-pass', resource: 'Practitioner/DOC1' }));
    const at = await token({ username: 'temp', password: 'temp-pass' });
    assert.ok(await h.auth.verifier.verify(h.sandbox, at));
    assert.equal((await h.auth.personas.remove(h.sandbox.key, 'temp')), true);
    assert.equal(await h.auth.verifier.verify(h.sandbox, at), undefined);

    (await h.auth.clients.add(h.sandbox.key, { clientId: 'gone', public: true, redirectUris: [REDIRECT] }));
    const at2 = await token(PAT, 'gone');
    assert.ok(await h.auth.verifier.verify(h.sandbox, at2));
    assert.equal((await h.auth.clients.remove(h.sandbox.key, 'gone')), true);
    assert.equal(await h.auth.verifier.verify(h.sandbox, at2), undefined);
    // A removed client cannot start a new authorization either.
    const res = await fetch(`${h.urls.authorize}?client_id=gone&response_type=code&redirect_uri=${encodeURIComponent(REDIRECT)}`, { redirect: 'manual' });
    assert.equal(res.status, 400);
  });

  test('deleting a sandbox (purgeSandbox) kills its tokens; a re-created sandbox shares nothing', async () => {
    const sb = await h.newSandbox('doomed');
    (await h.auth.clients.add(sb.key, { clientId: 'app', public: true, redirectUris: [REDIRECT] }));
    const before = await fetch(`${h.config.publicUrl}/doomed/auth/.well-known/openid-configuration`);
    assert.equal(before.status, 200);
    const jwks1 = await (await fetch(`${h.config.publicUrl}/doomed/auth/jwks`)).json();
    (await h.tenants.delete('doomed'));
    (await h.auth.purgeSandbox(sb.key));
    assert.equal((await h.auth.clients.getClient(sb.key, 'app')), undefined);
    assert.equal((await fetch(`${h.config.publicUrl}/doomed/auth/jwks`)).status, 404);
    await h.newSandbox('doomed');
    const jwks2 = await (await fetch(`${h.config.publicUrl}/doomed/auth/jwks`)).json();
    assert.notDeepEqual(jwks1, jwks2, 'new generation, new keys');
  });

  test('rotateKeys: a new signing key first, the previous one still published', async () => {
    const before = (await (await fetch(h.urls.jwks)).json()) as { keys: { kid: string }[] };
    (await h.auth.rotateKeys(h.sandbox));
    const afterKeys = (await (await fetch(h.urls.jwks)).json()) as { keys: { kid: string; d?: string }[] };
    assert.equal(afterKeys.keys.length, 2);
    assert.equal(afterKeys.keys[1].kid, before.keys[0].kid);
    assert.notEqual(afterKeys.keys[0].kid, before.keys[0].kid);
    for (const k of afterKeys.keys) assert.equal(k.d, undefined, 'public keys only');
  });
});

describe('discovery', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  test('D1/D2 smart-configuration: JSON for any Accept, absolute URLs, S256 only, capabilities, CORS *', async () => {
    for (const accept of ['application/json', 'text/html', '*/*']) {
      const res = await fetch(`${h.urls.iss}/.well-known/smart-configuration`, { headers: { accept, origin: 'https://app.example' } });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(res.headers.get('access-control-allow-origin'), '*');
      const c = (await res.json()) as Record<string, unknown>;
      assert.equal(c.issuer, h.urls.issuer);
      assert.equal(c.jwks_uri, h.urls.jwks);
      assert.equal(c.authorization_endpoint, h.urls.authorize);
      assert.equal(c.token_endpoint, h.urls.token);
      assert.equal(c.introspection_endpoint, h.urls.introspect);
      assert.equal(c.revocation_endpoint, h.urls.revoke);
      assert.equal(c.registration_endpoint, h.urls.register);
      assert.deepEqual(c.code_challenge_methods_supported, ['S256']);
      assert.ok((c.grant_types_supported as string[]).includes('authorization_code'));
      assert.ok((c.grant_types_supported as string[]).includes('client_credentials'));
      assert.ok((c.token_endpoint_auth_signing_alg_values_supported as string[]).includes('RS384'));
      assert.ok((c.token_endpoint_auth_signing_alg_values_supported as string[]).includes('ES384'));
      assert.deepEqual(c.response_types_supported, ['code']);
      for (const cap of CAPABILITIES) assert.ok((c.capabilities as string[]).includes(cap), cap);
      for (const cap of ['context-banner', 'context-style', 'authorize-post', 'permission-v1', 'permission-v2']) assert.ok((c.capabilities as string[]).includes(cap));
    }
    const pre = await fetch(`${h.urls.iss}/.well-known/smart-configuration`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'GET' } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), '*');
    const missing = await fetch(`${h.config.publicUrl}/nope/data/.well-known/smart-configuration`);
    assert.equal(missing.status, 404);
  });

  test('D5 openid-configuration at the issuer: required fields, RS256, JWKS with an RSA key', async () => {
    const res = await fetch(`${h.urls.issuer}/.well-known/openid-configuration`);
    assert.equal(res.status, 200);
    const c = (await res.json()) as Record<string, unknown>;
    for (const k of ['issuer', 'authorization_endpoint', 'token_endpoint', 'jwks_uri', 'response_types_supported', 'subject_types_supported', 'id_token_signing_alg_values_supported'])
      assert.ok(c[k], k);
    assert.equal(c.issuer, h.urls.issuer);
    assert.equal(c.authorization_endpoint, h.urls.authorize);
    assert.equal(c.token_endpoint, h.urls.token);
    assert.equal(c.introspection_endpoint, h.urls.introspect);
    assert.ok((c.id_token_signing_alg_values_supported as string[]).includes('RS256'));
    const jwks = (await (await fetch(String(c.jwks_uri))).json()) as { keys: { kty: string }[] };
    assert.ok(jwks.keys.some((k) => k.kty === 'RSA'));
  });

  test('smart-style.json: a style document with CORS *', async () => {
    const res = await fetch(`${h.config.publicUrl}/smart-style.json`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    const s = (await res.json()) as Record<string, unknown>;
    assert.ok(s.color_background);
    assert.ok(s.font_family_body);
  });
});
