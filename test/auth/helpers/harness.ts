/**
 * A real sandbox auth server for tests: SQLite in a temp dir, the real stores, fastify listening on
 * 127.0.0.1, and a small browser (fetch + cookie jar) that follows redirects and fills in the
 * login / picker / consent forms.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { type AuthService, createAuthService } from '../../../src/auth/service.js';
import { type Config, resolveConfig } from '../../../src/config/config.js';
import { sandboxUrls } from '../../../src/config/urls.js';
import { installBodyParsers } from '../../../src/http/body.js';
import { installErrorHandlers } from '../../../src/http/errors.js';
import { hashLaunchId, newLaunchId, type StoredLaunch } from '../../../src/launch/model.js';
import type { LaunchStore } from '../../../src/launch/model.js';
import type { StorageBackend } from '../../../src/storage/backend.js';
import type { Sandbox, TenantStore } from '../../../src/storage/types.js';
import { openTestBackend } from '../../fhir/helpers.js';
import { FhirService } from '../../../src/fhir/service.js';
import { demoResources } from './demo-resources.js';

export interface Harness {
  dir: string;
  backend: StorageBackend;
  config: Config;
  app: FastifyInstance;
  auth: AuthService;
  tenants: TenantStore;
  launches: LaunchStore;
  fhir: FhirService;
  sandbox: Sandbox;
  urls: ReturnType<typeof sandboxUrls>;
  /** Stores a launch as the lifecycle would (an orchestrator's by default; `clientIds` binds it); returns its id. */
  launch(l: Partial<StoredLaunch> & { parameters?: Record<string, unknown> }, sandbox?: Sandbox): Promise<string>;
  newSandbox(id: string): Promise<Sandbox>;
  /** Moves the launch lifecycle's clock forward (lifetimes, the single sign-on window) without sleeping. */
  advance(ms: number): void;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startHarness(): Promise<Harness> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-'));
  const port = await freePort();
  const config = resolveConfig({ port, host: '127.0.0.1', dataDir: dir, logLevel: 'silent' });
  // SMART_SANDBOX_TEST_BACKEND=postgres: a fresh PostgreSQL database (test/postgres/suites.test.ts).
  const { backend, drop } = await openTestBackend(dir);
  const tenants = backend.tenants;
  const launches = backend.launches;
  const fhir = new FhirService({ store: backend.resources, config });
  let offset = 0;
  const auth = await createAuthService({ config, backend, tenants, launches, fhir, clock: () => Date.now() + offset });
  const app = Fastify({ logger: false });
  installBodyParsers(app);
  installErrorHandlers(app);
  await auth.registerDiscoveryRoutes(app);
  await auth.registerAuthRoutes(app);
  await app.listen({ host: '127.0.0.1', port });
  const newSandbox = async (id: string) => {
    const s = (await tenants.create(id));
    (await fhir.bulkLoad(s.key, demoResources()));
    return s;
  };
  const sandbox = await newSandbox('demo');
  return {
    dir,
    backend,
    config,
    app,
    auth,
    tenants,
    launches,
    fhir,
    sandbox,
    urls: sandboxUrls(config.publicUrl, 'demo'),
    newSandbox,
    advance(ms) {
      offset += ms;
    },
    async launch(l, sb = sandbox) {
      const id = newLaunchId();
      const now = Date.now() + offset;
      (await launches.insert({
        sandboxKey: sb.key,
        idHash: hashLaunchId(id),
        parameters: {},
        clientIds: [],
        authority: 'orchestrator',
        createdAt: now,
        createdBy: 'test',
        expiresAt: now + 600_000,
        ...l,
      }));
      return id;
    },
    async close() {
      await app.close();
      await auth.close();
      await backend.close();
      await drop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = crypto.randomBytes(32).toString('base64url');
  return { verifier, challenge: crypto.createHash('sha256').update(verifier).digest('base64url') };
}

/** A browser: a cookie jar (name → value, path) and manual redirects. */
export class Browser {
  private readonly jar = new Map<string, { value: string; path: string }>();
  /** The last HTML page received. */
  page = '';
  status = 0;

  private store(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const p = attrs.find((a) => a.toLowerCase().startsWith('path='))?.slice(5) ?? '/';
      const key = `${name}|${p}`;
      if (!value || /expires=Thu, 01 Jan 1970/i.test(line)) this.jar.delete(key);
      else this.jar.set(key, { value, path: p });
    }
  }

  cookies(): { name: string; path: string }[] {
    return [...this.jar.keys()].map((k) => ({ name: k.split('|')[0], path: k.split('|')[1] }));
  }

  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const u = new URL(url);
    const headers = new Headers(init.headers);
    const cookie = [...this.jar.entries()]
      .filter(([, c]) => u.pathname.startsWith(c.path))
      .map(([k, c]) => `${k.split('|')[0]}=${c.value}`)
      .join('; ');
    if (cookie) headers.set('cookie', cookie);
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.store(res);
    return res;
  }

  /**
   * Follows redirects from `url` until one leaves the server (the app's redirect URI) or a page is
   * shown. Returns the final URL of a redirect to `stopAt`, or undefined when a page is shown.
   */
  async go(url: string, stopAt: string, init: RequestInit = {}): Promise<URL | undefined> {
    let res = await this.request(url, init);
    for (let i = 0; i < 10; i++) {
      if (res.status >= 300 && res.status < 400) {
        const next = new URL(res.headers.get('location') as string, url);
        if (next.href.startsWith(stopAt)) return next;
        url = next.href;
        res = await this.request(url);
        continue;
      }
      this.status = res.status;
      this.page = await res.text();
      return undefined;
    }
    throw new Error('too many redirects');
  }

  /** Hidden and named inputs of the last page's POST form, plus the form action. */
  form(): { action: string; fields: Record<string, string> } {
    const forms = [...this.page.matchAll(/<form method="post" action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/g)];
    if (forms.length === 0) throw new Error(`no form on page: ${this.page.slice(0, 500)}`);
    const [, action, body] = forms[0];
    const fields: Record<string, string> = {};
    for (const m of body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields[m[1]] = htmlUnescape(m[2]);
    return { action: htmlUnescape(action), fields };
  }

  async submit(origin: string, stopAt: string, values: Record<string, string>): Promise<URL | undefined> {
    const { action, fields } = this.form();
    return this.go(new URL(action, origin).href, stopAt, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...fields, ...values }).toString(),
    });
  }
}

function htmlUnescape(s: string): string {
  return s.replace(/&#(\d+);/g, (_m, n) => String.fromCharCode(Number(n)));
}

export interface AuthorizeRequest {
  client_id: string;
  redirect_uri: string;
  scope: string;
  aud?: string;
  launch?: string;
  state?: string;
  code_challenge?: string;
  code_challenge_method?: string;
  [k: string]: string | undefined;
}

export function authorizeUrl(h: Harness, p: AuthorizeRequest): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries({ response_type: 'code', aud: h.urls.iss, state: crypto.randomBytes(16).toString('hex'), ...p }))
    if (v !== undefined) q.set(k, v);
  return `${h.urls.authorize}?${q}`;
}

/** POST a form to the token-like endpoints; returns status, headers and JSON body. */
export async function postForm(
  url: string,
  form: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text);
  } catch {
    body = { raw: text };
  }
  return { status: res.status, headers: res.headers, body };
}

export const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
