/**
 * Fuzzing the launch registration service, the token endpoint and the console admin API of a
 * running server (issue 12 item 7): no 5xx, no hang, errors as OperationOutcome (registration,
 * console) or RFC 6749 §5.2 JSON (token, introspection, revocation); and a launch that the service
 * accepted must also work: its token response carries every registered parameter unchanged
 * (SMART App Launch 2.2 §"Launch context arrives with your access_token").
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe } from 'node:test';
import { consoleBodyText, consoleRequest } from './console-api.js';
import { ADMIN_TOKEN, checkConsole, checkFhir, checkOAuth, property, send, type Target, startTarget } from './harness.js';
import { render } from './json.js';
import { launchBody, ssoLaunch, ssoLaunchBody, tokenBody, tokenRequest } from './oauth.js';

const REDIRECT = '/apps/bilirubin-chart/index.html';
const SCOPE = 'launch openid fhirUser patient/Patient.read patient/Observation.read';

/** Follows authorize redirects (keeping cookies) until the app's redirect URI; returns the code. */
async function authorizeCode(tg: Target, launchId: string, verifier: string): Promise<string> {
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: 'bilirubin_chart',
    redirect_uri: `${tg.base}${REDIRECT}`,
    scope: SCOPE,
    aud: `${tg.base}/demo/data`,
    state: 'fuzz-state',
    launch: launchId,
    code_challenge: crypto.createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  });
  const cookies = new Map<string, string>();
  let path = `/demo/auth/authorize?${q}`;
  for (let i = 0; i < 10; i++) {
    const res = await send(tg.base, { method: 'GET', path, headers: cookies.size ? { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') } : {} });
    assert.ok(res.status < 500, `authorize step ${path} → ${res.status}: ${res.text.slice(0, 300)}`);
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair.indexOf('=');
      cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    const loc = res.headers.get('location');
    assert.ok(loc, `authorize step ${path} → ${res.status} without a redirect: ${res.text.slice(0, 300)}`);
    const next = new URL(loc, `${tg.base}${path}`);
    if (next.pathname === REDIRECT) {
      const code = next.searchParams.get('code');
      assert.ok(code, `the launch was refused at authorize: ${next.search}`);
      return code;
    }
    path = next.pathname + next.search;
  }
  throw new Error('too many redirects at authorize');
}

describe('fuzz: launch, token and console API', () => {
  let target: Target;
  before(async () => {
    target = await startTarget();
  });
  after(() => target?.stop());
  const t = () => target;

  property(t, 'launch registration', 60, launchBody, async (tg, body) => {
    const res = await send(tg.base, {
      method: 'POST',
      path: '/demo/data/_services/smart/Launch',
      headers: { authorization: `Bearer ${await tg.token()}`, 'content-type': 'application/json' },
      body: render(body),
    });
    checkFhir(res);
    if (res.status === 200) assert.equal(typeof JSON.parse(res.text).launch_id, 'string', res.text);
  });

  property(t, 'launch then token exchange', 15, ssoLaunch, async (tg, l) => {
    const reg = await send(tg.base, {
      method: 'POST',
      path: '/demo/data/_services/smart/Launch',
      headers: { authorization: `Bearer ${await tg.token()}`, 'content-type': 'application/json' },
      body: ssoLaunchBody(l, tg.persona),
    });
    checkFhir(reg);
    if (reg.status !== 200) return;
    const registered = JSON.parse(reg.text);
    const verifier = crypto.randomBytes(32).toString('base64url');
    const code = await authorizeCode(tg, registered.launch_id, verifier);
    const res = await send(tg.base, {
      method: 'POST',
      path: '/demo/auth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: `${tg.base}${REDIRECT}`, client_id: 'bilirubin_chart', code_verifier: verifier }).toString(),
    });
    checkOAuth(res);
    assert.equal(res.status, 200, `a launch the service accepted failed at the token endpoint: ${res.text.slice(0, 400)}`);
    const tok = JSON.parse(res.text);
    for (const [k, v] of Object.entries(registered.parameters as Record<string, unknown>)) assert.deepEqual(tok[k], v, `launch parameter ${k} in the token response`);
    assert.equal(tok.token_type, 'Bearer');
    assert.equal(typeof tok.access_token, 'string');
  });

  property(t, 'token endpoint', 80, tokenRequest, async (tg, r) => {
    const { headers, body } = tokenBody(r, tg.svc);
    checkOAuth(await send(tg.base, { method: 'POST', path: `/demo/auth/${r.endpoint}`, headers, body }));
  });

  property(t, 'console API', 60, consoleRequest, async (tg, r) => {
    const headers: Record<string, string> = {};
    if (r.auth === 'admin') headers.authorization = `Bearer ${ADMIN_TOKEN}`;
    else if (r.auth === 'wrong') headers.authorization = `Bearer ${ADMIN_TOKEN}x`;
    const body = consoleBodyText(r);
    if (body !== undefined) headers['content-type'] = 'application/json';
    checkConsole(await send(tg.base, { method: r.method, path: r.path, headers, body }));
  });
});
