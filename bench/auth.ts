/**
 * SMART auth and launch scenarios (issues #4 and #5): discovery, FHIR read with token checks,
 * introspection, client_credentials with a verified ES384 assertion, launch registration, and full
 * launches (register → authorize → code → token with PKCE and an RS256 id_token) as launches/s.
 */
import crypto from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { cannon, cli, type Result, type Server, settings } from './harness.js';

async function form(url: string, body: Record<string, string>, basic?: [string, string]): Promise<any> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (basic) headers.authorization = `Basic ${Buffer.from(`${basic[0]}:${basic[1]}`).toString('base64')}`;
  const r = await fetch(url, { method: 'POST', headers, body: new URLSearchParams(body) });
  const json = await r.json();
  if (r.status !== 200) throw new Error(`${url}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

/** Minimal cookie-keeping redirect follower for one launch (no HTML: SSO launches skip login and consent). */
async function follow(url: string, stopAt: string): Promise<string> {
  const cookies = new Map<string, string>();
  for (let i = 0; i < 10; i++) {
    if (url.startsWith(stopAt)) return url;
    const r = await fetch(url, { redirect: 'manual', headers: cookies.size ? { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') } : {} });
    for (const c of r.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair.indexOf('=');
      cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    await r.arrayBuffer();
    const loc = r.headers.get('location');
    if (!loc) throw new Error(`no redirect at ${url} (${r.status})`);
    url = new URL(loc, url).toString();
  }
  throw new Error('too many redirects');
}

export interface Timings {
  register: number[];
  authorize: number[];
  token: number[];
  total: number[];
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : 0;
};

/**
 * One SSO launch of the demo app for `persona`: register, authorize (cookies, redirects), token with
 * PKCE. Returns the token response; records each step's duration in `t` when given.
 */
export async function launchOnce(base: string, orchestrator: string, persona: string, t?: Timings): Promise<{ access_token: string; patient: string }> {
  const iss = `${base}/demo/data`;
  const redirectUri = `${base}/apps/bilirubin-chart/index.html`;
  const t0 = performance.now();
  const reg = await fetch(`${iss}/_services/smart/Launch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${orchestrator}`, 'content-type': 'application/json' },
    body: JSON.stringify({ client_id: 'bilirubin_chart', username: persona, parameters: { patient: 'BILIBABY', need_patient_banner: false } }),
  });
  const registered = await reg.json();
  if (reg.status !== 200) throw new Error(`launch registration: ${reg.status} ${JSON.stringify(registered).slice(0, 200)}`);
  const t1 = performance.now();
  const verifier = crypto.randomBytes(32).toString('base64url');
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: 'bilirubin_chart',
    redirect_uri: redirectUri,
    scope: 'launch openid fhirUser patient/Patient.read patient/Observation.read',
    aud: iss,
    state: 's',
    launch: registered.launch_id,
    code_challenge: crypto.createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  });
  const back = new URL(await follow(`${base}/demo/auth/authorize?${q}`, redirectUri));
  const code = back.searchParams.get('code');
  if (!code) throw new Error(`launch refused: ${back}`);
  const t2 = performance.now();
  const tok = await form(`${base}/demo/auth/token`, { grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: 'bilirubin_chart', code_verifier: verifier });
  if (!tok.id_token || !tok.access_token || tok.patient !== 'BILIBABY') throw new Error('unexpected token response');
  const t3 = performance.now();
  t?.register.push(t1 - t0);
  t?.authorize.push(t2 - t1);
  t?.token.push(t3 - t2);
  t?.total.push(t3 - t0);
  return tok;
}

/** Closed-loop workers doing whole launches for `seconds`; returns launches/s and per-step latencies. */
export async function launchLoop(base: string, orchestrator: string, persona: string, workers: number, seconds: number): Promise<{ rate: number; t: Timings; errors: number; firstError?: string }> {
  const t: Timings = { register: [], authorize: [], token: [], total: [] };
  let errors = 0;
  let firstError: string | undefined;
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  const one = () => launchOnce(base, orchestrator, persona, t);
  const start = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < deadline) {
        try {
          await one();
          done++;
        } catch (e) {
          errors++;
          firstError ??= (e as Error).message;
        }
      }
    }),
  );
  return { rate: done / ((performance.now() - start) / 1000), t, errors, firstError };
}

export async function benchAuth(results: Result[], server: Server, openReadRate: number): Promise<void> {
  const { url: base, dataDir } = server;
  const iss = `${base}/demo/data`;
  const issuer = `${base}/demo/auth`;

  results.push(await cannon('GET {iss}/.well-known/smart-configuration', `${iss}/.well-known/smart-configuration`, {}, { target: '≥ 20,000 req/s' }));

  const svc = JSON.parse(await cli(dataDir, ['client', 'add', 'demo', 'bench-svc', '--grant', 'client_credentials', '--scope', 'system/*.rs']));
  const svcToken = (await form(`${issuer}/token`, { grant_type: 'client_credentials', scope: 'system/*.rs' }, ['bench-svc', svc.client_secret])).access_token;
  // The same read without a token, measured right before on the same server state (the create
  // scenarios before this grew the database and its WAL), so that the ratio isolates the token checks.
  const open = await cannon('FHIR read Patient/BILIBABY (open base, after the write scenarios)', `${base}/demo/open/Patient/BILIBABY`);
  results.push({ ...open, note: `${((open.rate / openReadRate) * 100).toFixed(0)}% of the first open read` });
  const read = await cannon('FHIR read Patient/BILIBABY with a bearer token (system/*.rs)', `${iss}/Patient/BILIBABY`, { headers: { authorization: `Bearer ${svcToken}` } });
  results.push({ ...read, target: 'within 15% of the open read', note: `${((read.rate / open.rate) * 100).toFixed(0)}% of the open read just before` });

  const introBody = new URLSearchParams({ token: svcToken }).toString();
  results.push(
    await cannon(
      'POST {issuer}/introspect (client_secret_basic)',
      `${issuer}/introspect`,
      {
        method: 'POST',
        body: introBody,
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`bench-svc:${svc.client_secret}`).toString('base64')}` },
      },
      { target: '≥ 3,000 req/s' },
    ),
  );

  // Backend services: client_credentials with a private_key_jwt ES384 assertion, verified. Assertions
  // are single-use (jti), so they are signed before the run.
  const { publicKey, privateKey } = await generateKeyPair('ES384');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench-1', alg: 'ES384', use: 'sig' };
  const jwksFile = `${dataDir}/bench-jwks.json`;
  (await import('node:fs')).writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }));
  await cli(dataDir, ['client', 'add', 'demo', 'bench-backend', '--jwks-file', jwksFile, '--grant', 'client_credentials', '--scope', 'system/*.rs']);
  const needed = 24_000 * Math.max(1, Math.ceil((settings.seconds + settings.warmupSeconds) / 7));
  const assertions: string[] = [];
  const now = Math.floor(Date.now() / 1000);
  for (let i = 0; i < needed; i++)
    assertions.push(
      await new SignJWT({})
        .setProtectedHeader({ alg: 'ES384', kid: 'bench-1', typ: 'JWT' })
        .setIssuer('bench-backend')
        .setSubject('bench-backend')
        .setAudience(`${issuer}/token`)
        .setJti(crypto.randomUUID())
        .setIssuedAt(now)
        .setExpirationTime(now + 290)
        .sign(privateKey),
    );
  let next = 0;
  const cc = await cannon(
    'POST {issuer}/token client_credentials + private_key_jwt ES384 (verified)',
    `${issuer}/token`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      requests: [
        {
          setupRequest: (req) => ({
            ...req,
            body: new URLSearchParams({
              grant_type: 'client_credentials',
              scope: 'system/*.rs',
              client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
              client_assertion: assertions[next++ % assertions.length],
            }).toString(),
          }),
        },
      ],
    },
    { target: 'verified ES384 assertion per request' },
  );
  results.push({ ...cc, note: next > assertions.length ? 'assertions reused: replays counted as non-2xx' : `${assertions.length} pre-signed assertions` });

  const launcher = JSON.parse(await cli(dataDir, ['client', 'add', 'demo', 'bench-launcher', '--grant', 'client_credentials', '--scope', 'smart/orchestrate_launch']));
  const orchestrator = (await form(`${issuer}/token`, { grant_type: 'client_credentials', scope: 'smart/orchestrate_launch' }, ['bench-launcher', launcher.client_secret])).access_token;
  results.push(
    await cannon(
      'POST {iss}/_services/smart/Launch (seed payload)',
      `${iss}/_services/smart/Launch`,
      {
        method: 'POST',
        body: '{"client_id":"bilirubin_chart","parameters":{"patient":"BILIBABY","need_patient_banner":false}}',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${orchestrator}` },
      },
      { target: '≥ 5,000 req/s' },
    ),
  );

  const personas = JSON.parse(await cli(dataDir, ['persona', 'list', 'demo', '--json']));
  const persona = personas.find((p: { resource: string }) => p.resource.startsWith('Practitioner/')).username;
  await launchLoop(base, orchestrator, persona, 4, 1); // warm-up
  const loop = await launchLoop(base, orchestrator, persona, 10, settings.seconds);
  results.push({
    name: 'full launch: register (SSO) → authorize → code → token (PKCE, RS256 id_token), 10 workers',
    rate: loop.rate,
    unit: 'launches/s',
    p50: Math.round(pct(loop.t.total, 50)),
    p99: Math.round(pct(loop.t.total, 99)),
    errors: loop.errors,
    target: '≥ 300 launches/s',
    note: `${loop.firstError ? `first error: ${loop.firstError}; ` : ''}p50 per step: register ${pct(loop.t.register, 50).toFixed(1)} ms, authorize ${pct(loop.t.authorize, 50).toFixed(1)} ms, token ${pct(loop.t.token, 50).toFixed(1)} ms`,
  });
}
