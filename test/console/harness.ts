/**
 * The console over the real stack: real services on a temporary SQLite store, the demo sandbox
 * created with its sample data, and the console registered on a fastify instance with the app-wide
 * body parsers and error handlers (as buildApp wires it).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance, type InjectOptions, type LightMyRequestResponse } from 'fastify';
import { type Config, resolveConfig } from '../../src/config/config.js';
import { registerConsole } from '../../src/console/routes.js';
import { installBodyParsers } from '../../src/http/body.js';
import { installErrorHandlers } from '../../src/http/errors.js';
import { createSandbox } from '../../src/sandbox/lifecycle.js';
import { createServices, type Services } from '../../src/services.js';
import { TEST_BACKEND } from '../fhir/helpers.js';
import { createTestDatabase } from '../helpers/postgres.js';

export const TOKEN = 'test-admin-token-0123456789abcdef';
export const HOST = '127.0.0.1:8080';
export const ORIGIN = `http://${HOST}`;

export interface Harness {
  app: FastifyInstance;
  services: Services;
  config: Config;
  /** Cookie header and CSRF token of a bootstrapped browser session. */
  session: { cookie: string; csrf: string };
  /** A request from the bootstrapped browser (cookie, Host, same Origin on writes). */
  browser(o: InjectOptions & { csrf?: boolean }): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export function cookiesOf(res: LightMyRequestResponse): Record<string, string> {
  const raw = res.headers['set-cookie'];
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  const out: Record<string, string> = {};
  for (const c of list) {
    const [pair] = c.split(';');
    const i = pair.indexOf('=');
    out[pair.slice(0, i)] = decodeURIComponent(pair.slice(i + 1));
  }
  return out;
}

export async function startConsole(opts: { demo?: boolean } = {}): Promise<Harness> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-'));
  // SMART_SANDBOX_TEST_BACKEND=postgres: a fresh PostgreSQL database (test/postgres/suites.test.ts).
  const pgDb = TEST_BACKEND === 'postgres' ? await createTestDatabase() : undefined;
  const config = resolveConfig({ dataDir: dir, databaseUrl: pgDb?.url, demo: false, port: 8080, publicUrl: ORIGIN, logLevel: 'silent' });
  const services = await createServices(config);
  if (opts.demo !== false) (await createSandbox(services, 'demo', { data: { kind: 'demo' } }));
  const app = Fastify({ logger: false });
  installBodyParsers(app);
  installErrorHandlers(app);
  await registerConsole(app, { config, services, adminToken: TOKEN });
  await app.ready();

  const boot = await app.inject({ method: 'GET', url: `/?token=${TOKEN}`, headers: { host: HOST } });
  const jar = cookiesOf(boot);
  const session = { cookie: `ss_console=${jar.ss_console}; ss_csrf=${jar.ss_csrf}`, csrf: jar.ss_csrf };

  return {
    app,
    services,
    config,
    session,
    browser(o) {
      const write = o.method !== undefined && o.method !== 'GET';
      const headers: Record<string, string> = { host: HOST, cookie: session.cookie, ...(write ? { origin: ORIGIN } : {}) };
      if (write && o.csrf !== false && String(o.url).startsWith('/api/')) headers['x-csrf-token'] = session.csrf;
      let payload = o.payload;
      // Forms carry the CSRF token as a hidden field, like the rendered pages do.
      if (write && !String(o.url).startsWith('/api/') && payload && typeof payload === 'object' && o.csrf !== false) {
        payload = new URLSearchParams({ ...(payload as Record<string, string>), _csrf: session.csrf }).toString();
        headers['content-type'] = 'application/x-www-form-urlencoded';
      } else if (write && !String(o.url).startsWith('/api/') && payload && typeof payload === 'object') {
        payload = new URLSearchParams(payload as Record<string, string>).toString();
        headers['content-type'] = 'application/x-www-form-urlencoded';
      }
      return app.inject({ ...o, payload, headers: { ...headers, ...(o.headers as Record<string, string> | undefined) } } as InjectOptions);
    },
    async close() {
      await app.close();
      await services.close();
      await pgDb?.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
