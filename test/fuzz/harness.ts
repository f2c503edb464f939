/**
 * The fuzz suite's target and checks (issue 12 item 7): a real `smart-sandbox serve` child process
 * on a free loopback port, requests with a per-request deadline, and the properties every answer
 * must satisfy whatever the input — never a 5xx, never a hang, and every error in the shape its
 * surface promises (FHIR OperationOutcome, RFC 6749 §5.2 OAuth error JSON, the console API's
 * OperationOutcome).
 *
 * Knobs (environment): FUZZ_RUNS multiplies every property's run count (default 1, `npm run fuzz`
 * uses more); FUZZ_SEED and FUZZ_PATH replay a failure that fast-check printed; FUZZ_PROPERTY runs
 * only the property of that name; FUZZ_TIMEOUT_MS is the per-request deadline (default 5000);
 * FUZZ_HEALTHZ_MS is how fast `/healthz` must answer after each property (default 1000); FUZZ_SHRINK
 * shrinks a counterexample (off by default: each step is a request); FUZZ_VERBOSE logs every request.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type ServerProcess, startServe, tempDir } from '../helpers/server.js';

export const ADMIN_TOKEN = 'fuzz-admin-token-0123456789abcdef';
const TIMEOUT_MS = Number(process.env.FUZZ_TIMEOUT_MS ?? 5000);
const HEALTHZ_MS = Number(process.env.FUZZ_HEALTHZ_MS ?? 1000);
const MULTIPLIER = Number(process.env.FUZZ_RUNS ?? 1);

export interface Target {
  base: string;
  server: ServerProcess;
  /** A confidential backend client of the demo sandbox (system/*.* and smart/orchestrate_launch). */
  svc: { id: string; secret: string };
  /** A current access token of `svc` (re-issued before its 5-minute lifetime ends). */
  token(): Promise<string>;
  /** The demo practitioner persona (single sign-on launches need no password). */
  persona: string;
  stop(): Promise<void>;
}

/**
 * `serve`, then set up over the console admin API (faster than CLI processes): the demo sandbox
 * with its sample data, apps and personas, opened for reads and writes (so that unauthenticated
 * fuzzing reaches the FHIR engine), a backend client, and an empty sandbox `fz` that the console
 * fuzzing may wreck.
 */
export async function startTarget(): Promise<Target> {
  const tmp = tempDir('ss-fuzz-');
  // --no-demo, then the demo sandbox through the API: seeding is the slow part of a start, and the
  // API call has no readiness deadline on a busy machine.
  const server = await startServe(tmp.dir, ['--no-demo'], { SMART_SANDBOX_ADMIN_TOKEN: ADMIN_TOKEN });
  if (process.env.FUZZ_VERBOSE) process.stderr.write(`fuzz: server at ${server.url}\n`);
  const admin = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const b = await r.json();
    assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(b)}`);
    return b;
  };
  await admin('POST', '/api/sandboxes', { id: 'demo', data: 'demo', open: true, openWrite: true });
  await admin('POST', '/api/sandboxes', { id: 'fz', data: 'empty' });
  const creds = { id: 'fz-svc', secret: 'fz-svc-secret-0123456789abcdef' };
  await admin('POST', '/api/sandboxes/demo/apps', { clientId: creds.id, secret: creds.secret, grantTypes: ['client_credentials'], scope: 'system/*.* smart/orchestrate_launch' });
  const { personas } = await admin('GET', '/api/sandboxes/demo/personas');
  const persona = (personas as { username: string; resource: string }[]).find((p) => p.resource.startsWith('Practitioner/'))!.username;
  let cached: { token: string; until: number } | undefined;
  return {
    base: server.url,
    server,
    svc: creds,
    persona,
    async token() {
      if (cached && Date.now() < cached.until) return cached.token;
      const r = await fetch(`${server.url}/demo/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(creds.id, creds.secret) },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'system/*.* smart/orchestrate_launch' }),
      });
      const b = await r.json();
      assert.equal(r.status, 200, JSON.stringify(b));
      cached = { token: b.access_token, until: Date.now() + 120_000 };
      return cached.token;
    },
    async stop() {
      // A server still busy with a request the fuzzer gave up on may take long to drain: the
      // failure is already reported, so do not let it stretch the test run.
      const exited = server.stop();
      const timer = setTimeout(() => server.child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      tmp.remove();
    },
  };
}

export const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

export interface Req {
  method: string;
  /** Path and query, sent as is (no normalisation beyond what a URL parser does). */
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface Res {
  req: Req;
  status: number;
  headers: Headers;
  text: string;
  ms: number;
}

/** One request with a deadline: a request that does not complete in time is a hang (a failure). */
export async function send(base: string, req: Req): Promise<Res> {
  const t0 = performance.now();
  if (process.env.FUZZ_VERBOSE) process.stderr.write(`fuzz: → ${describe(req).slice(0, 300)}\n`);
  let r: Response;
  let text: string;
  try {
    r = await fetch(`${base}${req.path}`, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    text = await r.text();
  } catch (e) {
    throw new Error(`${describe(req)}: no answer within ${TIMEOUT_MS} ms (${(e as Error).name}: ${(e as Error).message})`);
  }
  const ms = performance.now() - t0;
  if (process.env.FUZZ_VERBOSE) process.stderr.write(`fuzz: ${ms.toFixed(0)} ms ${r.status} ${describe(req).slice(0, 300)}\n`);
  return { req, status: r.status, headers: r.headers, text, ms };
}

function describe(req: Req): string {
  const body = req.body === undefined ? '' : ` body(${req.body.length} chars)=${req.body.slice(0, 200)}`;
  return `${req.method} ${req.path.slice(0, 300)}${body}`;
}

function fail(res: Res, why: string): never {
  throw new Error(`${describe(res.req)} → ${res.status}: ${why}\n  answer: ${res.text.slice(0, 400)}`);
}

function json(res: Res): any {
  try {
    return JSON.parse(res.text);
  } catch {
    return fail(res, 'the body is not JSON');
  }
}

function noServerError(res: Res): void {
  if (res.status >= 500) fail(res, 'a server error for client input');
}

/** FHIR routes: any error is an OperationOutcome with at least one issue (FHIR R4 §3.1.0.4). */
export function checkFhir(res: Res): void {
  noServerError(res);
  if (res.status >= 400) {
    const b = json(res);
    if (b?.resourceType !== 'OperationOutcome' || !Array.isArray(b.issue) || b.issue.length === 0) fail(res, 'the error is not an OperationOutcome with issues');
  } else if (res.text !== '' && /json/.test(res.headers.get('content-type') ?? '')) json(res);
}

/** RFC 6749 §5.2: `error` is one ASCII token, `error_description` optional text, nothing else but `error_uri` (and `scope` on scope errors). */
export function checkOAuth(res: Res): void {
  noServerError(res);
  if (res.status < 400) return;
  const b = json(res);
  if (typeof b !== 'object' || b === null || typeof b.error !== 'string' || !/^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/.test(b.error)) fail(res, 'not an OAuth error JSON');
  if (b.error_description !== undefined && typeof b.error_description !== 'string') fail(res, 'error_description is not a string');
  // oidc-provider echoes the requested `scope` on scope errors; anything else is a leak or a bug.
  const allowed = ['error', 'error_description', 'error_uri', ...(/^(invalid|insufficient)_scope$/.test(b.error) ? ['scope'] : [])];
  const extra = Object.keys(b).filter((k) => !allowed.includes(k));
  if (extra.length) fail(res, `unexpected members in an OAuth error: ${extra.join(', ')}`);
}

/** The console API answers errors as OperationOutcomes too (docs/console.md). */
export const checkConsole = checkFhir;

/** After a property: the server is alive and `/healthz` answers at once. */
export async function healthzFast(t: Target): Promise<void> {
  assert.equal(t.server.child.exitCode, null, `the server exited: ${t.server.output().slice(-2000)}`);
  const t0 = performance.now();
  const r = await fetch(`${t.base}/healthz`, { signal: AbortSignal.timeout(10_000) });
  const ms = performance.now() - t0;
  assert.equal(r.status, 200);
  await r.arrayBuffer();
  assert.ok(ms < HEALTHZ_MS, `/healthz took ${ms.toFixed(0)} ms after the property (limit ${HEALTHZ_MS} ms)`);
}

/**
 * Registers one property as a node:test test: `runs` × FUZZ_RUNS runs, seed and path from the
 * environment for replays; fast-check's failure message carries the seed, the path and the shrunk
 * counterexample.
 */
export function property<T>(target: () => Target, name: string, runs: number, arb: fc.Arbitrary<T>, check: (t: Target, value: T) => Promise<void>): void {
  const only = process.env.FUZZ_PROPERTY;
  test(name, { skip: only !== undefined && only !== name ? `FUZZ_PROPERTY=${only}` : false }, async () => {
    const t = target();
    const seed = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
    const path = process.env.FUZZ_PATH;
    const numRuns = Math.max(1, Math.round(runs * MULTIPLIER));
    try {
      await fc.assert(
        fc.asyncProperty(arb, (v) => check(t, v)),
        { numRuns, ...(seed !== undefined ? { seed } : {}), ...(path ? { path } : {}), endOnFailure: process.env.FUZZ_SHRINK === undefined },
      );
    } catch (e) {
      // The seed line is what a developer needs to replay: make it unmissable.
      const m = /seed: (-?\d+), path: "([^"]*)"/.exec((e as Error).message);
      if (m) (e as Error).message = `replay: FUZZ_PROPERTY='${name}' FUZZ_SEED=${m[1]} FUZZ_PATH='${m[2]}' npm run fuzz\n${(e as Error).message}`;
      throw e;
    }
    await healthzFast(t);
  });
}
