/**
 * A real smart-sandbox for the bulk export tests: createServices + the demo sandbox + buildApp,
 * listening on 127.0.0.1, in a temp data dir; tokens come from the sandbox's own token endpoint.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { type Config, resolveConfig } from '../../src/config/config.js';
import { sandboxUrls } from '../../src/config/urls.js';
import { createSandbox } from '../../src/sandbox/lifecycle.js';
import { createServices, type Services } from '../../src/services.js';
import type { Sandbox } from '../../src/storage/types.js';
import { freePort } from '../helpers/server.js';
import { ScriptedBrowser } from '../helpers/browser.js';
import { authorizeUrl, clientCredentials, tokenRequest } from '../helpers/oauth.js';
import { dropTestDatabaseFor, testDatabaseUrlFor } from '../helpers/postgres.js';

export interface BulkServer {
  dir: string;
  config: Config;
  services: Services;
  app: FastifyInstance;
  sandbox: Sandbox;
  urls: ReturnType<typeof sandboxUrls>;
  /** Registers a client_credentials client with `scope` and returns a token for `scope`. */
  systemToken(clientId: string, scope: string): Promise<string>;
  /**
   * A user's token from the authorization-code flow of public client `clientId` (registered on first
   * use): persona `username` (a Patient persona of `patient`, created on first use) picks `patient`.
   */
  userToken(clientId: string, username: string, patient: string, scope?: string): Promise<string>;
  /** Stops the app and services; `keepData` leaves the data dir for a restart. */
  close(opts?: { keepData?: boolean }): Promise<void>;
}

/**
 * Starts a server; `dir` reuses a data dir (restart) instead of creating one with the demo sandbox.
 * On PostgreSQL runs (SMART_SANDBOX_TEST_BACKEND=postgres) the data dir has its own database.
 */
export async function startBulkServer(opts: { dir?: string; runner?: 'worker' | 'inline'; retention?: number; queryBudgetMs?: number } = {}): Promise<BulkServer> {
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ss-bulk-'));
  const port = await freePort();
  const databaseUrl = await testDatabaseUrlFor(dir);
  const config = resolveConfig({ port, host: '127.0.0.1', dataDir: dir, databaseUrl, logLevel: 'silent', bulkRunner: opts.runner, bulkRetentionSeconds: opts.retention, queryBudgetMs: opts.queryBudgetMs });
  const services = await createServices(config);
  const sandbox = (await services.tenants.get('demo')) ?? (await createSandbox(services, 'demo', { name: 'Demo', data: { kind: 'demo' } })).sandbox;
  const app = await buildApp(config, services);
  await app.listen({ host: '127.0.0.1', port });
  const urls = sandboxUrls(config.publicUrl, 'demo');
  return {
    dir,
    config,
    services,
    app,
    sandbox,
    urls,
    async systemToken(clientId, scope) {
      const existing = await services.auth.clients.getClient(sandbox.key, clientId);
      let secret = `secret-${clientId}-0123456789abcdef`;
      if (!existing) await services.auth.clients.add(sandbox.key, { clientId, secret, grantTypes: ['client_credentials'], scope });
      else secret = `secret-${clientId}-0123456789abcdef`;
      return clientCredentials(urls.issuer, clientId, secret, scope);
    },
    async userToken(clientId, username, patientId, scope = 'openid fhirUser launch/patient patient/*.rs') {
      const redirect = 'http://127.0.0.1:9/cb';
      if (!(await services.auth.clients.getClient(sandbox.key, clientId))) {
        await services.auth.clients.add(sandbox.key, { clientId, public: true, redirectUris: [redirect], consent: 'skip' });
      }
      const password = `${username}-pass-123`;
      if (!(await services.auth.personas.getPersona(sandbox.key, username))) {
        await services.auth.personas.add(sandbox.key, { username, password, resource: `Patient/${patientId}` });
      }
      const a = authorizeUrl({ issuer: urls.issuer, aud: urls.iss, clientId, redirectUri: redirect, scope });
      const back = new URL(await new ScriptedBrowser().run(a.url, redirect, { username, password, patient: patientId }));
      const t = await tokenRequest(urls.issuer, { grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: redirect, code_verifier: a.verifier, client_id: clientId });
      if (t.status !== 200) throw new Error(`token: ${t.status} ${JSON.stringify(t.body)}`);
      return t.body.access_token as string;
    },
    async close(o = {}) {
      await app.close();
      await services.close();
      if (!o.keepData) {
        await dropTestDatabaseFor(dir);
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

export const KICKOFF_HEADERS = { accept: 'application/fhir+json', prefer: 'respond-async' };

export async function kickOff(url: string, token: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Response> {
  const headers: Record<string, string> = { ...KICKOFF_HEADERS, authorization: `Bearer ${token}`, ...(init.headers ?? {}) };
  let body: string | undefined;
  if (init.body !== undefined) {
    headers['content-type'] = 'application/fhir+json';
    body = JSON.stringify(init.body);
  }
  return fetch(url, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body });
}

export interface Manifest {
  transactionTime: string;
  request: string;
  requiresAccessToken: boolean;
  output: { type: string; url: string; count: number }[];
  error: { type: string; url: string; count: number }[];
}

/** Polls a status URL until it is no longer 202; returns the final response and its body. */
export async function poll(statusUrl: string, token: string, timeoutMs = 30_000): Promise<{ status: number; body: any; progress: string[] }> {
  const t0 = Date.now();
  const progress: string[] = [];
  for (;;) {
    const r = await fetch(statusUrl, { headers: { authorization: `Bearer ${token}` } });
    if (r.status !== 202) return { status: r.status, body: await r.json(), progress };
    progress.push(r.headers.get('x-progress') ?? '');
    await r.arrayBuffer();
    if (Date.now() - t0 > timeoutMs) throw new Error(`export not finished after ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

/** Kick-off → 202 → poll → manifest. */
export async function exportAll(url: string, token: string, init: Parameters<typeof kickOff>[2] = {}): Promise<{ manifest: Manifest; statusUrl: string }> {
  const k = await kickOff(url, token, init);
  if (k.status !== 202) throw new Error(`kick-off ${url}: ${k.status} ${await k.text()}`);
  const statusUrl = k.headers.get('content-location')!;
  const done = await poll(statusUrl, token);
  if (done.status !== 200) throw new Error(`export failed: ${done.status} ${JSON.stringify(done.body)}`);
  return { manifest: done.body as Manifest, statusUrl };
}

/** Downloads every output file: type → parsed resources. */
export async function download(m: Manifest, token: string): Promise<Map<string, any[]>> {
  const out = new Map<string, any[]>();
  for (const o of m.output) {
    const r = await fetch(o.url, { headers: { authorization: `Bearer ${token}` } });
    if (r.status !== 200) throw new Error(`${o.url}: ${r.status}`);
    const lines = (await r.text()).split('\n').filter(Boolean);
    out.set(o.type, [...(out.get(o.type) ?? []), ...lines.map((l) => JSON.parse(l))]);
  }
  return out;
}
