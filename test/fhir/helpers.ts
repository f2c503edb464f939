/**
 * Test harness for the FHIR capability: a real fastify app (body parsers + error handlers from
 * src/http), a real SQLite store in a temp dir, and a TokenVerifier backed by a Map of grants that the
 * tests build themselves (the real auth server implements the same interface).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify';
import { resolveConfig } from '../../src/config/config.js';
import type { TokenGrant, TokenVerifier } from '../../src/fhir/access/types.js';
import { registerFhirRoutes } from '../../src/fhir/routes.js';
import { FhirService } from '../../src/fhir/service.js';
import { installBodyParsers } from '../../src/http/body.js';
import { installErrorHandlers } from '../../src/http/errors.js';
import type { StorageBackend } from '../../src/storage/backend.js';
import { openPostgresBackend } from '../../src/storage/postgres/backend.js';
import { sqliteBackend } from '../../src/storage/sqlite/backend.js';
import { openSqlite } from '../../src/storage/sqlite/open.js';
import type { Sandbox, TenantStore } from '../../src/storage/types.js';
import { createTestDatabase } from '../helpers/postgres.js';

/**
 * `SMART_SANDBOX_TEST_BACKEND=postgres` runs the FHIR suites on a fresh PostgreSQL database per
 * harness (test/postgres/suites.test.ts does so in `npm test`); SQLite in a temp dir otherwise.
 */
export const TEST_BACKEND = process.env.SMART_SANDBOX_TEST_BACKEND === 'postgres' ? 'postgres' : 'sqlite';

/** The suites' query budget: generous, since the suite runs on a loaded machine (see scripts/run-tests.mjs). */
const QUERY_BUDGET_MS = Number(process.env.SMART_SANDBOX_QUERY_BUDGET_MS ?? 5000);

/** Searches and history run as on a server: on the read pool / read connections, under the budget. */
export async function openTestBackend(dir: string): Promise<{ backend: StorageBackend; drop: () => Promise<void> }> {
  if (TEST_BACKEND === 'postgres') {
    const db = await createTestDatabase();
    return { backend: await openPostgresBackend(db.url, { queryBudgetMs: QUERY_BUDGET_MS }), drop: () => db.drop() };
  }
  return { backend: sqliteBackend(openSqlite(dir), { readWorkers: 2, queryBudgetMs: QUERY_BUDGET_MS }), drop: async () => undefined };
}

export const PUBLIC_URL = 'http://fhir.test';

export class MapVerifier implements TokenVerifier {
  readonly grants = new Map<string, TokenGrant>();
  async verify(sandbox: Sandbox, token: string): Promise<TokenGrant | undefined> {
    const g = this.grants.get(token);
    return g && g.sandboxKey === sandbox.key ? g : undefined;
  }
}

export interface Harness {
  app: FastifyInstance;
  backend: StorageBackend;
  fhir: FhirService;
  tenants: TenantStore;
  verifier: MapVerifier;
  sandbox: Sandbox;
  dir: string;
  /** Registers a token for `scope` (plus optional context) and returns it. */
  token(scope: string, extra?: Partial<TokenGrant>, sandbox?: Sandbox): string;
  close(): Promise<void>;
}

let counter = 0;

export async function harness(opts: { open?: boolean; openWrite?: boolean } = {}): Promise<Harness> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-'));
  const config = resolveConfig({ dataDir: dir, publicUrl: PUBLIC_URL, logLevel: 'silent' });
  const { backend, drop } = await openTestBackend(dir);
  const tenants = backend.tenants;
  const fhir = new FhirService({ store: backend.resources, config });
  const verifier = new MapVerifier();
  const sandbox = (await tenants.create('test', { openRead: opts.open ?? false, openWrite: opts.openWrite ?? false }));
  const app = Fastify({ logger: false, bodyLimit: config.bodyLimit, routerOptions: { maxParamLength: 1000 } });
  installBodyParsers(app);
  installErrorHandlers(app);
  await registerFhirRoutes(app, { config, tenants, fhir, verifier });
  await app.ready();
  return {
    app,
    backend,
    fhir,
    tenants,
    verifier,
    sandbox,
    dir,
    token(scope, extra = {}, sb = sandbox) {
      const t = `tok-${++counter}`;
      verifier.grants.set(t, { sandboxKey: sb.key, clientId: 'test-client', scope, expiresAt: Math.floor(Date.now() / 1000) + 3600, context: {}, ...extra });
      return t;
    },
    async close() {
      await app.close();
      await backend.close();
      await drop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Call {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS' | 'HEAD';
  url: string;
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
  contentType?: string;
}

export async function call(h: Harness, c: Call): Promise<LightMyRequestResponse & { json: () => any }> {
  const headers: Record<string, string> = { ...(c.headers ?? {}) };
  if (c.token) headers.authorization = `Bearer ${c.token}`;
  let payload: string | undefined;
  if (c.body !== undefined) {
    headers['content-type'] = c.contentType ?? 'application/fhir+json';
    payload = typeof c.body === 'string' ? c.body : JSON.stringify(c.body);
  }
  const url = c.url.startsWith('/') ? c.url : `/test/data/${c.url}`;
  return (await h.app.inject({ method: c.method ?? 'GET', url, headers, payload })) as any;
}

export const ALL = 'system/*.cruds';

export function patient(id: string, family = 'Doe', extra: Record<string, unknown> = {}) {
  return { resourceType: 'Patient', id, name: [{ family, given: ['Jane'] }], gender: 'female', birthDate: '1990-05-17', ...extra };
}

export function observation(id: string, patientId: string, code = '58941-6', extra: Record<string, unknown> = {}) {
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
    code: { coding: [{ system: 'http://loinc.org', code, display: 'Bilirubin' }], text: 'Bilirubin total' },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: '2024-03-01T10:00:00Z',
    valueQuantity: { value: 7.5, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
    ...extra,
  };
}

/** Collects an async iterable (Node 20 has no Array.fromAsync). */
export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
