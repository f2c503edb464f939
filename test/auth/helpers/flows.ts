/** Complete authorization flows over real HTTP, for the auth tests. */
import assert from 'node:assert/strict';
import { Browser, type Harness, authorizeUrl, pkcePair, postForm } from './harness.js';

export const REDIRECT = 'http://127.0.0.1:9/app/redirect';

export interface FlowOptions {
  clientId: string;
  scope: string;
  login?: { username: string; password: string };
  patient?: string;
  /** '' picks "no encounter". */
  encounter?: string;
  launch?: string;
  browser?: Browser;
  extra?: Record<string, string>;
  /** POST the authorization request as a form (authorize-post). */
  post?: boolean;
}

/** Runs /authorize through login, pickers and consent; returns the redirect back to the app. */
export async function authorize(h: Harness, o: FlowOptions): Promise<{ url: URL; verifier: string; state: string; browser: Browser }> {
  const b = o.browser ?? new Browser();
  const { verifier, challenge } = pkcePair();
  const state = `s-${Math.random().toString(36).slice(2)}`;
  const url = authorizeUrl(h, {
    client_id: o.clientId,
    redirect_uri: REDIRECT,
    scope: o.scope,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    launch: o.launch,
    ...o.extra,
  });
  let done = o.post
    ? await b.go(h.urls.authorize, REDIRECT, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URL(url).searchParams.toString(),
      })
    : await b.go(url, REDIRECT);
  for (let i = 0; !done && i < 5; i++) {
    const page = b.page;
    if (page.includes('name="step" value="login"')) {
      assert.ok(o.login, 'login page shown but no credentials given');
      done = await b.submit(h.config.publicUrl, REDIRECT, o.login);
    } else if (page.includes('name="step" value="patient"')) {
      assert.ok(o.patient, 'patient picker shown but no patient given');
      done = await b.submit(h.config.publicUrl, REDIRECT, { patient: o.patient });
    } else if (page.includes('name="step" value="encounter"')) {
      assert.ok(o.encounter !== undefined, 'encounter picker shown but no encounter given');
      done = await b.submit(h.config.publicUrl, REDIRECT, { encounter: o.encounter });
    } else if (page.includes('name="step" value="consent"')) {
      done = await b.submit(h.config.publicUrl, REDIRECT, { decision: 'approve' });
    } else {
      assert.fail(`unexpected page (${b.status}): ${page.slice(0, 800)}`);
    }
  }
  assert.ok(done, 'the flow did not return to the app');
  return { url: done, verifier, state, browser: b };
}

export async function exchange(h: Harness, code: string, verifier: string, auth: Record<string, string> = {}, headers: Record<string, string> = {}) {
  return postForm(h.urls.token, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier, ...auth }, headers);
}

/** Public app `app` + practitioner persona `doc` / patient persona `pat`. */
export async function seedBasics(h: Harness): Promise<void> {
  (await h.auth.clients.add(h.sandbox.key, { clientId: 'app', name: 'Test <App>', public: true, redirectUris: [REDIRECT] }));
  (await h.auth.personas.add(h.sandbox.key, { username: 'doc', password: 'doc-pass', resource: 'Practitioner/DOC1' }));
  (await h.auth.personas.add(h.sandbox.key, { username: 'pat', password: 'pat-pass', resource: 'Patient/BILIBABY' }));
}

export const DOC = { username: 'doc', password: 'doc-pass' };
export const PAT = { username: 'pat', password: 'pat-pass' };
