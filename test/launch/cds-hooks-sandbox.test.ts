/**
 * The CDS Hooks sandbox as a launcher (docs/cds-hooks-sandbox.md), over real HTTP: an HSPC-era app
 * without PKCE, registered through the CLI; a user token of it registering a launch exactly as the
 * sandbox's launch-context retrieval does (launchUrl + parameters, its scopes); the card link opened
 * after the single sign-on window (time moved by the injected clock) and again later.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { resolveConfig } from '../../src/config/config.js';
import { type RunningServer, startServer } from '../../src/main.js';
import { ScriptedBrowser } from '../helpers/browser.js';
import { authorizeUrl, clientCredentials, tokenRequest } from '../helpers/oauth.js';
import { cliJson, runCli, tempDir } from '../helpers/server.js';

const CDS_ID = 'cds-sandbox';
const CDS_REDIRECT = 'http://127.0.0.1:9/cds-sandbox/index.html';
const CDS_LAUNCH = 'http://127.0.0.1:9/cds-sandbox/launch.html';
/** The scopes the CDS Hooks sandbox asks for (its fhir-config `allScopes`). */
const CDS_SCOPES = 'patient/*.* user/*.* launch openid profile online_access';
const BILI_SCOPE = 'launch patient/Patient.read patient/Observation.read openid fhirUser';
const MINUTE = 60_000;

describe('the CDS Hooks sandbox as a launcher', () => {
  const tmp = tempDir('ss-cds-');
  let server: RunningServer;
  let offset = 0;
  let iss: string;
  let issuer: string;
  let biliRedirect: string;
  let biliLaunch: string;
  let doc: { username: string; password: string };
  let pat: { username: string; password: string };

  /** An authorization request as the sandbox's old SMART client sends it: no PKCE. */
  const cdsAuthorize = (extra: Record<string, string> = {}) =>
    `${issuer}/authorize?${new URLSearchParams({ response_type: 'code', client_id: CDS_ID, redirect_uri: CDS_REDIRECT, scope: CDS_SCOPES, aud: iss, state: crypto.randomUUID(), ...extra })}`;

  /** Signs in to the CDS Hooks sandbox in `browser`; returns its token response. */
  const openCdsSandbox = async (browser: ScriptedBrowser, choice: { username?: string; password?: string; patient?: string }, extra: Record<string, string> = {}) => {
    const back = new URL(await browser.run(cdsAuthorize(extra), CDS_REDIRECT, choice));
    const t = await tokenRequest(issuer, { grant_type: 'authorization_code', code: back.searchParams.get('code') ?? '', redirect_uri: CDS_REDIRECT, client_id: CDS_ID });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    return t.body;
  };

  /** What the sandbox's launch-context retrieval sends when a card with a SMART link renders. */
  const registerLikeTheSandbox = async (accessToken: string, linkUrl: string) => {
    const r = await fetch(`${iss}/_services/smart/Launch`, {
      method: 'POST',
      headers: { Accept: 'application/json', Authorization: `Bearer ${accessToken}`, 'Content-Type': 'application/json;charset=utf-8' },
      body: JSON.stringify({ launchUrl: linkUrl, parameters: { patient: 'BILIBABY', smart_messaging_origin: 'http://127.0.0.1:9' } }),
    });
    const body = await r.json();
    assert.equal(r.status, 200, JSON.stringify(body));
    // The sandbox appends launch and iss to the card's URL itself.
    return { launchId: body.launch_id as string, body, cardLink: `${linkUrl}${linkUrl.includes('?') ? '&' : '?'}launch=${body.launch_id}&iss=${iss}` };
  };

  /** What the bilirubin chart does with the card link: its authorization request (with PKCE). */
  const openCardLink = async (browser: ScriptedBrowser, cardLink: string, choice: { username?: string; password?: string } = {}) => {
    const launch = new URL(cardLink).searchParams.get('launch') as string;
    const a = authorizeUrl({ issuer, aud: iss, clientId: 'bilirubin_chart', redirectUri: biliRedirect, scope: BILI_SCOPE, launch });
    const back = new URL(await browser.run(a.url, biliRedirect, choice));
    return { back, verifier: a.verifier };
  };

  const redeem = async (back: URL, verifier: string) => {
    const t = await tokenRequest(issuer, { grant_type: 'authorization_code', code: back.searchParams.get('code') ?? '', redirect_uri: biliRedirect, client_id: 'bilirubin_chart', code_verifier: verifier });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    return t.body;
  };

  /** The first page a browser lands on for the card link (no form filled). */
  const firstPage = async (browser: ScriptedBrowser, cardLink: string) => {
    const launch = new URL(cardLink).searchParams.get('launch') as string;
    let url = authorizeUrl({ issuer, aud: iss, clientId: 'bilirubin_chart', redirectUri: biliRedirect, scope: BILI_SCOPE, launch }).url;
    for (let i = 0; i < 10; i++) {
      const r = await browser.request(url);
      if (r.status >= 300 && r.status < 400) {
        url = new URL(r.headers.get('location') as string, url).href;
        await r.arrayBuffer();
        continue;
      }
      return r.text();
    }
    throw new Error('too many redirects');
  };

  const idTokenClaims = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());

  before(async () => {
    server = await startServer(resolveConfig({ dataDir: tmp.dir, port: 0, logLevel: 'silent' }), () => {}, { clock: () => Date.now() + offset });
    const base = server.config.publicUrl;
    iss = `${base}/demo/data`;
    issuer = `${base}/demo/auth`;
    biliRedirect = `${base}/apps/bilirubin-chart/index.html`;
    const demo = (await server.services.tenants.get('demo'))!;
    biliLaunch = (await server.services.auth.clients.getClient(demo.key, 'bilirubin_chart'))!.launchUri!;
    const personas = await server.services.auth.personas.list(demo.key);
    const practitioner = personas.find((p) => p.resource.startsWith('Practitioner/'))!;
    const patient = personas.find((p) => p.resource.startsWith('Patient/'))!;
    doc = { username: practitioner.username, password: practitioner.demoPassword! };
    pat = { username: patient.username, password: patient.demoPassword! };
  });

  after(async () => {
    await server?.close();
    tmp.remove();
  });

  test('without PKCE the app gets the explaining page; registered with --pkce if-sent it signs in, and its id_token has profile Practitioner/…', async () => {
    const add = (pkce: string[]) =>
      cliJson(tmp.dir, ['client', 'add', 'demo', CDS_ID, '--public', '--redirect-uri', CDS_REDIRECT, '--launch-uri', CDS_LAUNCH, '--scope', `${CDS_SCOPES} launch/patient`, '--may-register-launches', ...pkce]);
    add([]);
    const refused = await fetch(cdsAuthorize(), { redirect: 'manual' });
    assert.equal(refused.status, 400);
    assert.match(await refused.text(), /sent no PKCE code_challenge.*--pkce if-sent/s);

    assert.equal(runCli(tmp.dir, ['client', 'remove', 'demo', CDS_ID]).status, 0);
    add(['--pkce', 'if-sent']);
    const t = await openCdsSandbox(new ScriptedBrowser(), { ...doc, patient: 'BILIBABY' }, { scope: 'openid profile user/*.rs' });
    const claims = idTokenClaims(t.id_token);
    assert.match(claims.profile, /^Practitioner\/[A-Za-z0-9.-]+$/, JSON.stringify(claims));
    assert.equal(claims.fhirUser, undefined, 'fhirUser only with the fhirUser scope');
  });

  const cardScenario = async (signIn: (browser: ScriptedBrowser) => Promise<{ access_token: string }>) => {
    const browser = new ScriptedBrowser();
    const token = await signIn(browser);
    // A card renders: its link is the bilirubin chart's launch URL with a query of its own.
    const { cardLink, body } = await registerLikeTheSandbox(token.access_token, `${biliLaunch}?lang=en`);
    assert.equal(body.username, doc.username);
    assert.equal(Date.parse(body.expires_at) - Date.parse(body.created_at), 60 * MINUTE);

    offset += 3 * MINUTE; // past the 2-minute single sign-on window
    const first = await openCardLink(browser, cardLink);
    // No credentials were given: a login page would have been answered with an empty username (access_denied).
    assert.equal(first.back.searchParams.get('error'), null, String(first.back));
    const t1 = await redeem(first.back, first.verifier);
    assert.equal(t1.patient, 'BILIBABY');
    assert.equal(t1.smart_messaging_origin, 'http://127.0.0.1:9');

    offset += 30 * MINUTE; // clicked again, much later
    const second = await openCardLink(browser, cardLink);
    assert.equal(second.back.searchParams.get('error'), null, String(second.back));
    assert.equal((await redeem(second.back, second.verifier)).patient, 'BILIBABY');

    // A fresh browser: the login page with the username read-only.
    const page = await firstPage(new ScriptedBrowser(), cardLink);
    assert.match(page, new RegExp(`name="username" required readonly value="${doc.username}"`));

    // A different persona's session: not signed in as the launch's user; signing in as itself is refused.
    const other = new ScriptedBrowser();
    await openCdsSandbox(other, { ...pat });
    assert.match(await firstPage(other, cardLink), /readonly value=/);
    const refused = await openCardLink(other, cardLink, pat);
    assert.equal(refused.back.searchParams.get('error'), 'access_denied');
    assert.match(refused.back.searchParams.get('error_description') ?? '', /this launch is for/);

    offset += 30 * MINUTE; // 63 minutes after the card rendered: the launch has expired
    const expired = await openCardLink(browser, cardLink);
    assert.match(expired.back.searchParams.get('error_description') ?? '', /unknown or has expired/);
  };

  test('card links open without a password in the browser signed in to the CDS Hooks sandbox, also after the SSO window', async () => {
    await cardScenario((browser) => openCdsSandbox(browser, { ...doc, patient: 'BILIBABY' }));
  });

  test('the same when the CDS Hooks sandbox itself was opened by an orchestrator single sign-on launch', async () => {
    const demo = (await server.services.tenants.get('demo'))!;
    if (!(await server.services.auth.clients.getClient(demo.key, 'launcher')))
      await server.services.auth.clients.add(demo.key, { clientId: 'launcher', secret: 'launcher-secret-0123456789', grantTypes: ['client_credentials'], scope: 'smart/orchestrate_launch' });
    const orchestrator = await clientCredentials(issuer, 'launcher', 'launcher-secret-0123456789', 'smart/orchestrate_launch');
    await cardScenario(async (browser) => {
      const r = await fetch(`${iss}/_services/smart/Launch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${orchestrator}` },
        body: JSON.stringify({ client_id: CDS_ID, username: doc.username, parameters: { patient: 'BILIBABY' } }),
      });
      const reg = await r.json();
      assert.equal(r.status, 200, JSON.stringify(reg));
      return openCdsSandbox(browser, {}, { launch: reg.launch_id });
    });
  });
});
