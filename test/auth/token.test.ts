/** SMART 2.2 token endpoint, id_token, refresh, introspection, revocation: T1–T6, O1, R1, I1. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { DOC, REDIRECT, authorize, exchange, seedBasics } from './helpers/flows.js';
import { type Harness, basic, postForm, startHarness } from './helpers/harness.js';

describe('token', () => {
  let h: Harness;
  let secret: string;
  before(async () => {
    h = await startHarness();
    await seedBasics(h);
    secret = (await h.auth.clients.add(h.sandbox.key, { clientId: 'conf', redirectUris: [REDIRECT] })).generatedSecret as string;
  });
  after(() => h.close());

  const codeFor = async (clientId: string, scope: string, extra: Partial<Parameters<typeof authorize>[1]> = {}) => {
    const r = await authorize(h, { clientId, scope, login: DOC, patient: 'BILIBABY', ...extra });
    return { code: r.url.searchParams.get('code') as string, verifier: r.verifier };
  };

  test('T1 public client: body, types, no-store headers, CORS for its origin', async () => {
    const { code, verifier } = await codeFor('app', 'launch/patient openid fhirUser offline_access patient/*.rs');
    const t = await exchange(h, code, verifier, { client_id: 'app' }, { origin: 'http://127.0.0.1:9' });
    assert.equal(t.status, 200);
    assert.equal(typeof t.body.access_token, 'string');
    assert.equal(t.body.token_type, 'Bearer');
    assert.equal(typeof t.body.expires_in, 'number');
    assert.ok((t.body.expires_in as number) <= 3600);
    assert.equal(t.body.patient, 'BILIBABY');
    assert.equal(t.body.need_patient_banner, true);
    assert.equal(t.body.smart_style_url, `${h.config.publicUrl}/smart-style.json`);
    assert.match(t.headers.get('cache-control') ?? '', /no-store/);
    assert.match(t.headers.get('pragma') ?? '', /no-cache/);
    assert.equal(t.headers.get('access-control-allow-origin'), 'http://127.0.0.1:9');
  });

  test('D4 token endpoint preflight for a browser app; per-client access token lifetime', async () => {
    const pre = await fetch(h.urls.token, {
      method: 'OPTIONS',
      headers: { origin: 'http://127.0.0.1:9', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    assert.ok(pre.status === 204 || pre.status === 200, String(pre.status));
    assert.ok(['*', 'http://127.0.0.1:9'].includes(pre.headers.get('access-control-allow-origin') ?? ''));
    (await h.auth.clients.add(h.sandbox.key, { clientId: 'short', public: true, redirectUris: [REDIRECT], accessTokenTtl: 120, consent: 'skip' }));
    const { code, verifier } = await codeFor('short', 'launch/patient patient/*.rs');
    const t = await exchange(h, code, verifier, { client_id: 'short' });
    assert.equal(t.body.expires_in, 120);
  });

  test('T5 granted scope echoes openid fhirUser launch/patient offline_access and only requested types', async () => {
    const { code, verifier } = await codeFor('app', 'launch/patient openid fhirUser offline_access patient/Observation.rs patient/Patient.read');
    const t = await exchange(h, code, verifier, { client_id: 'app' });
    assert.deepEqual(new Set(String(t.body.scope).split(' ')), new Set(['launch/patient', 'openid', 'fhirUser', 'offline_access', 'patient/Observation.rs', 'patient/Patient.read']));
    // offline_access without prompt=consent (docs/auth-server.md §6) gives a refresh token.
    assert.equal(typeof t.body.refresh_token, 'string');
  });

  test('scopes the client is not registered for are not granted; restricted ones never to plain apps', async () => {
    (await h.auth.clients.add(h.sandbox.key, { clientId: 'narrow', public: true, redirectUris: [REDIRECT], scope: 'launch/patient patient/Observation.rs openid', consent: 'skip' }));
    const { code, verifier } = await codeFor('narrow', 'launch/patient patient/Observation.rs patient/Condition.rs system/*.rs smart/orchestrate_launch openid fhirUser');
    const t = await exchange(h, code, verifier, { client_id: 'narrow' });
    assert.deepEqual(new Set(String(t.body.scope).split(' ')), new Set(['launch/patient', 'patient/Observation.rs', 'openid']));
    assert.equal(t.body.refresh_token, undefined);
  });

  test('T2 symmetric client: Basic works, client_secret_post works, a wrong secret is 401 invalid_client', async () => {
    const a = await codeFor('conf', 'launch/patient patient/*.rs');
    const ok = await exchange(h, a.code, a.verifier, {}, { authorization: basic('conf', secret) });
    assert.equal(ok.status, 200);
    const b = await codeFor('conf', 'launch/patient patient/*.rs');
    const post = await exchange(h, b.code, b.verifier, { client_id: 'conf', client_secret: secret });
    assert.equal(post.status, 200);
    const c = await codeFor('conf', 'launch/patient patient/*.rs');
    const bad = await exchange(h, c.code, c.verifier, {}, { authorization: basic('conf', 'wrong-secret') });
    assert.equal(bad.status, 401);
    assert.equal(bad.body.error, 'invalid_client');
  });

  test('T4 A8 bad code, reused code (single use, replay revokes), wrong client, bad verifiers, bad grant_type', async () => {
    const bad = await exchange(h, 'BAD_CODE', 'x'.repeat(43), { client_id: 'app' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error, 'invalid_grant');

    const { code, verifier } = await codeFor('app', 'launch/patient patient/*.rs');
    const first = await exchange(h, code, verifier, { client_id: 'app' });
    assert.equal(first.status, 200);
    const again = await exchange(h, code, verifier, { client_id: 'app' });
    assert.equal(again.status, 400);
    assert.equal(again.body.error, 'invalid_grant');
    // A8: the replay revokes what the code gave.
    assert.equal(await h.auth.verifier.verify(h.sandbox, String(first.body.access_token)), undefined);

    const w = await codeFor('app', 'launch/patient patient/*.rs');
    const wrongClient = await exchange(h, w.code, w.verifier, {}, { authorization: basic('conf', secret) });
    assert.equal(wrongClient.status, 400);
    assert.equal(wrongClient.body.error, 'invalid_grant');

    for (const v of [undefined, '', 'y'.repeat(43), 'challenge-as-plain']) {
      const c = await codeFor('app', 'launch/patient patient/*.rs');
      const form: Record<string, string> = { grant_type: 'authorization_code', code: c.code, redirect_uri: REDIRECT, client_id: 'app' };
      if (v !== undefined) form.code_verifier = v;
      const r = await postForm(h.urls.token, form);
      assert.equal(r.status, 400, `verifier ${v}`);
      assert.ok(['invalid_grant', 'invalid_request'].includes(String(r.body.error)));
    }

    const gt = await postForm(h.urls.token, { grant_type: 'not_a_grant_type', client_id: 'app' });
    assert.equal(gt.status, 400);
    assert.equal(gt.body.error, 'unsupported_grant_type');
  });

  test('O1 id_token: RS256, iss, aud, sub, fhirUser absolute, verifiable with the published JWKS', async () => {
    const { code, verifier } = await codeFor('app', 'launch/patient openid fhirUser profile patient/*.rs');
    const t = await exchange(h, code, verifier, { client_id: 'app' });
    const idToken = String(t.body.id_token);
    assert.equal(decodeProtectedHeader(idToken).alg, 'RS256');
    const oidc = (await (await fetch(`${h.urls.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    assert.equal(oidc.issuer, h.urls.issuer);
    const { payload } = await jwtVerify(idToken, createRemoteJWKSet(new URL(String(oidc.jwks_uri))), { issuer: h.urls.issuer, audience: 'app' });
    assert.equal(payload.sub, 'doc');
    assert.equal(payload.fhirUser, `${h.urls.iss}/Practitioner/DOC1`);
    assert.equal(payload.name, 'Dana Doctor');
    assert.equal(payload.profile, 'Practitioner/DOC1', 'SMART v1 / HSPC profile claim: the relative reference');
  });

  test('userinfo answers a SMART access token with the claims of its scopes (OIDC Core §5.3)', async () => {
    const { code, verifier } = await codeFor('app', 'launch/patient openid fhirUser profile patient/*.rs');
    const t = await exchange(h, code, verifier, { client_id: 'app' });
    const bearer = { authorization: `Bearer ${t.body.access_token}` };
    const info = await fetch(`${h.urls.issuer}/userinfo`, { headers: bearer });
    assert.equal(info.status, 200);
    assert.match(info.headers.get('cache-control') ?? '', /no-store/);
    assert.deepEqual(await info.json(), { sub: 'doc', fhirUser: `${h.urls.iss}/Practitioner/DOC1`, name: 'Dana Doctor', profile: 'Practitioner/DOC1' });
    // Only the claims of the granted scopes: without profile, no profile or name.
    const narrow = await codeFor('app', 'launch/patient openid fhirUser patient/*.rs');
    const t2 = await exchange(h, narrow.code, narrow.verifier, { client_id: 'app' });
    const info2 = await fetch(`${h.urls.issuer}/userinfo`, { method: 'POST', headers: { authorization: `Bearer ${t2.body.access_token}` } });
    assert.deepEqual(await info2.json(), { sub: 'doc', fhirUser: `${h.urls.iss}/Practitioner/DOC1` });
    // Without openid: 403 insufficient_scope; an unknown token: 401 invalid_token.
    const noOidc = await codeFor('app', 'launch/patient patient/*.rs');
    const t3 = await exchange(h, noOidc.code, noOidc.verifier, { client_id: 'app' });
    const info3 = await fetch(`${h.urls.issuer}/userinfo`, { headers: { authorization: `Bearer ${t3.body.access_token}` } });
    assert.equal(info3.status, 403);
    assert.match(info3.headers.get('www-authenticate') ?? '', /insufficient_scope/);
    const bad = await fetch(`${h.urls.issuer}/userinfo`, { headers: { authorization: 'Bearer nottherightoneatall-0123456789' } });
    assert.equal(bad.status, 401);
    assert.match(bad.headers.get('www-authenticate') ?? '', /invalid_token/);
  });

  test('R1 refresh: without and with equal scope, narrower ok, superset refused, rotation + reuse detection', async () => {
    const { code, verifier } = await codeFor('app', 'launch/patient openid fhirUser offline_access patient/*.rs');
    const t = await exchange(h, code, verifier, { client_id: 'app' });
    const rt1 = String(t.body.refresh_token);
    const r1 = await postForm(h.urls.token, { grant_type: 'refresh_token', refresh_token: rt1, client_id: 'app' });
    assert.equal(r1.status, 200);
    assert.equal(r1.body.patient, 'BILIBABY', 'context repeated on refresh');
    assert.equal(r1.body.smart_style_url, t.body.smart_style_url);
    assert.deepEqual(new Set(String(r1.body.scope).split(' ')), new Set(String(t.body.scope).split(' ')));
    assert.match(r1.headers.get('cache-control') ?? '', /no-store/);
    assert.match(r1.headers.get('pragma') ?? '', /no-cache/);
    const rt2 = String(r1.body.refresh_token);
    assert.notEqual(rt2, rt1, 'rotated');

    const same = await postForm(h.urls.token, { grant_type: 'refresh_token', refresh_token: rt2, client_id: 'app', scope: String(t.body.scope) });
    assert.equal(same.status, 200, JSON.stringify(same.body));
    const rt3 = String(same.body.refresh_token);

    const superset = await postForm(h.urls.token, { grant_type: 'refresh_token', refresh_token: rt3, client_id: 'app', scope: `${t.body.scope} user/*.rs` });
    assert.equal(superset.status, 400);
    assert.equal(superset.body.error, 'invalid_scope');

    const narrow = await postForm(h.urls.token, { grant_type: 'refresh_token', refresh_token: rt3, client_id: 'app', scope: 'patient/*.rs offline_access' });
    assert.equal(narrow.status, 200);
    assert.deepEqual(String(narrow.body.scope).split(' ').sort(), ['offline_access', 'patient/*.rs']);
    const live = String(narrow.body.access_token);
    assert.ok(await h.auth.verifier.verify(h.sandbox, live));

    // Reusing a rotated refresh token ends the whole authorization.
    const reuse = await postForm(h.urls.token, { grant_type: 'refresh_token', refresh_token: rt1, client_id: 'app' });
    assert.equal(reuse.status, 400);
    assert.equal(reuse.body.error, 'invalid_grant');
    assert.equal(await h.auth.verifier.verify(h.sandbox, live), undefined);

    const junk = await postForm(h.urls.token, { grant_type: 'refresh_token', refresh_token: 'junk', client_id: 'app' });
    assert.equal(junk.status, 400);
    assert.equal(junk.body.error, 'invalid_grant');
  });

  test('R1 a refresh token is bound to its client', async () => {
    const { code, verifier } = await codeFor('conf', 'launch/patient offline_access patient/*.rs');
    const t = await exchange(h, code, verifier, {}, { authorization: basic('conf', secret) });
    const other = await postForm(h.urls.token, { grant_type: 'refresh_token', refresh_token: String(t.body.refresh_token), client_id: 'app' });
    assert.equal(other.status, 400);
    assert.equal(other.body.error, 'invalid_grant');
    const noAuth = await postForm(h.urls.token, { grant_type: 'refresh_token', refresh_token: String(t.body.refresh_token) });
    assert.ok([400, 401].includes(noAuth.status));
  });

  test('online_access: a refresh token without offline_access', async () => {
    const { code, verifier } = await codeFor('app', 'launch/patient online_access patient/*.rs');
    const t = await exchange(h, code, verifier, { client_id: 'app' });
    assert.equal(typeof t.body.refresh_token, 'string');
    assert.match(String(t.body.scope), /online_access/);
  });

  test('I1 introspection: active with scope, context, fhirUser, iss, sub; inactive is {active:false}', async () => {
    const { code, verifier } = await codeFor('app', 'launch/patient openid fhirUser offline_access patient/*.rs');
    const t = await exchange(h, code, verifier, { client_id: 'app' });
    const i = await postForm(h.urls.introspect, { token: String(t.body.access_token) }, { authorization: basic('conf', secret) });
    assert.equal(i.status, 200);
    assert.equal(i.body.active, true);
    assert.equal(i.body.client_id, 'app');
    assert.deepEqual(new Set(String(i.body.scope).split(' ')), new Set(String(t.body.scope).split(' ')));
    assert.equal(i.body.patient, 'BILIBABY');
    assert.equal(i.body.fhirUser, `${h.urls.iss}/Practitioner/DOC1`);
    assert.equal(i.body.iss, h.urls.issuer);
    assert.equal(i.body.sub, 'doc');
    assert.equal(typeof i.body.exp, 'number');
    assert.equal(i.body.smart_granted_scope, undefined);
    const bad = await postForm(h.urls.introspect, { token: 'invalid_token_value' }, { authorization: basic('conf', secret) });
    assert.equal(bad.status, 200);
    assert.deepEqual(bad.body, { active: false });
    const unauth = await postForm(h.urls.introspect, { token: String(t.body.access_token) });
    assert.ok([400, 401].includes(unauth.status));
  });

  test('revocation of access and refresh tokens', async () => {
    const { code, verifier } = await codeFor('conf', 'launch/patient offline_access patient/*.rs');
    const t = await exchange(h, code, verifier, {}, { authorization: basic('conf', secret) });
    const at = String(t.body.access_token);
    const r = await postForm(h.urls.revoke, { token: at }, { authorization: basic('conf', secret) });
    assert.equal(r.status, 200);
    assert.equal(await h.auth.verifier.verify(h.sandbox, at), undefined);
    const i = await postForm(h.urls.introspect, { token: at }, { authorization: basic('conf', secret) });
    assert.equal(i.body.active, false);
    const rr = await postForm(h.urls.revoke, { token: String(t.body.refresh_token), token_type_hint: 'refresh_token' }, { authorization: basic('conf', secret) });
    assert.equal(rr.status, 200);
    const use = await postForm(h.urls.token, { grant_type: 'refresh_token', refresh_token: String(t.body.refresh_token) }, { authorization: basic('conf', secret) });
    assert.equal(use.status, 400);
    assert.equal(use.body.error, 'invalid_grant');
  });
});
