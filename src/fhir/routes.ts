/**
 * FHIR REST routes at `/{sandbox}/data/*` (SMART-secured) and `/{sandbox}/open/*` (open access when
 * the sandbox allows it) — docs/architecture.md §3 and §6. Handlers only authenticate, negotiate and
 * translate HTTP; every interaction and every access decision happens in the per-request repository.
 * More specific routes of other capabilities (`…/data/_services/smart/Launch`,
 * `…/data/.well-known/smart-configuration`) win over these wildcards (static segments first).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/config.js';
import { FhirError, forbidden, notFound } from '../errors/errors.js';
import { authenticatedCacheHeaders, openCacheHeaders } from '../http/caching.js';
import { corsOnRequest, preflightHandler } from '../http/cors.js';
import type { Sandbox, TenantStore } from '../storage/types.js';
import { requireBearerGrant } from './access/bearer.js';
import type { RequestAccess, TokenVerifier } from './access/types.js';
import { AUDIT_TYPE, auditEventResponse } from './audit-events.js';
import type { AuditEventSource } from './audit-source.js';
import { type PreferReturn, processBundle } from './bundle.js';
import { capabilityStatement } from './capability.js';
import { resourceTypes } from './definitions.js';
import { getText, handleGet } from './get.js';
import { type FhirRepository, versionEtag } from './repository.js';
import type { FhirService } from './service.js';
import type { StoredResource } from './store.js';
import { validateOperation, validateTarget } from './validate-operation.js';

const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE';

type Base = 'data' | 'open';

interface Params {
  sandbox: string;
  '*'?: string;
}

function httpError(status: number, code: string, msg: string): FhirError {
  return new FhirError(status, [{ severity: 'error', code, diagnostics: msg }]);
}

const JSON_FORMATS = /^(json|application\/(fhir\+)?json)(\s*;.*)?$/i;
const ACCEPTABLE = new Set(['application/fhir+json', 'application/json', 'application/*', '*/*', 'application/json+fhir']);

/** JSON only (R4 §3.1.0.1.10): `_format` / `Accept` asking for XML or another format is a 406. */
function negotiate(req: FastifyRequest, query: URLSearchParams): void {
  const f = query.get('_format');
  if (f !== null && !JSON_FORMATS.test(f.trim())) throw httpError(406, 'not-supported', `_format ${f} is not supported; this server speaks JSON only`);
  const accept = req.headers.accept;
  if (accept && f === null) {
    const types = accept.split(',').map((t) => t.split(';')[0].trim().toLowerCase());
    if (!types.some((t) => ACCEPTABLE.has(t) || t === '')) throw httpError(406, 'not-supported', `cannot produce ${accept}; this server speaks application/fhir+json`);
  }
}

function preferOf(req: FastifyRequest): { ret: PreferReturn; strict: boolean } {
  const p = String(req.headers.prefer ?? '');
  const ret = /return=minimal/i.test(p) ? 'minimal' : /return=OperationOutcome/i.test(p) ? 'OperationOutcome' : 'representation';
  return { ret, strict: /handling=strict/i.test(p) };
}

function contentType(req: FastifyRequest): string {
  return String(req.headers['content-type'] ?? '')
    .split(';')[0]
    .trim()
    .toLowerCase();
}

function requireResourceBody(req: FastifyRequest): void {
  const ct = contentType(req);
  if (ct !== 'application/fhir+json' && ct !== 'application/json') {
    throw httpError(415, 'not-supported', `send resources as application/fhir+json, not ${ct || 'no content type'}`);
  }
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function sendStored(reply: FastifyReply, repo: FhirRepository, s: StoredResource, status: number, ret: PreferReturn, location: boolean): FastifyReply {
  reply.header('etag', versionEtag(s.version)).header('last-modified', new Date(s.lastUpdated).toUTCString());
  if (location) reply.header('location', `${repo.baseUrl}/${s.type}/${s.id}/_history/${s.version}`);
  reply.code(status).type(FHIR_JSON);
  if (ret === 'minimal') return reply.send('');
  if (ret === 'OperationOutcome') {
    return reply.send({ resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', diagnostics: status === 201 ? 'created' : 'updated' }] });
  }
  return reply.send(s.content);
}

/** Form fields (POST `_search`) as query pairs. */
function formPairs(body: unknown): [string, string][] {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return [];
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
    for (const x of Array.isArray(v) ? v : [v]) out.push([k, String(x)]);
  }
  return out;
}

/** POST `_search`: the query string plus the form body (R4 §3.1.1.0 "search using POST"). */
function searchPairs(req: FastifyRequest, query: URLSearchParams): [string, string][] {
  const ct = contentType(req);
  if (req.body !== undefined && ct !== 'application/x-www-form-urlencoded') {
    throw httpError(415, 'not-supported', 'POST _search takes an application/x-www-form-urlencoded body');
  }
  return [...query, ...formPairs(req.body)];
}

export interface FhirRouteDeps {
  config: Config;
  tenants: TenantStore;
  fhir: FhirService;
  verifier: TokenVerifier;
  /** The launch audit trail, served read-only as AuditEvent on `/data` (audit-events.ts); absent: not served. */
  auditEvents?: AuditEventSource;
}

export async function registerFhirRoutes(app: FastifyInstance, opts: FhirRouteDeps): Promise<void> {
  const { config, tenants, fhir, verifier, auditEvents } = opts;

  async function authenticate(req: FastifyRequest, base: Base, sandbox: Sandbox): Promise<RequestAccess> {
    if (base === 'open') {
      if (!sandbox.openRead) throw forbidden(`sandbox ${sandbox.id} is not open; use the SMART-secured /data base with a token`);
      return { kind: 'open', write: sandbox.openWrite };
    }
    const grant = await requireBearerGrant(verifier, sandbox, req.headers.authorization);
    return { kind: 'token', grant };
  }

  async function handle(req: FastifyRequest, reply: FastifyReply, base: Base): Promise<FastifyReply> {
    const params = req.params as Params;
    const sandbox = await tenants.get(params.sandbox);
    if (!sandbox) throw notFound(`unknown sandbox ${params.sandbox}`);
    const qi = req.url.indexOf('?');
    const queryText = qi >= 0 ? req.url.slice(qi + 1) : '';
    const query = new URLSearchParams(queryText);
    negotiate(req, query);
    const path = (params['*'] ?? '').split('/').filter(Boolean);
    const method = req.method;

    if (path.length === 1 && path[0] === 'metadata') {
      if (method !== 'GET' && method !== 'HEAD') throw httpError(405, 'not-supported', 'metadata is read-only');
      if (base === 'open' && !sandbox.openRead) throw forbidden(`sandbox ${sandbox.id} is not open`);
      return reply.type(FHIR_JSON).send(capabilityStatement(config.publicUrl, sandbox.id, base, { auditEvents: auditEvents !== undefined }));
    }

    const access = await authenticate(req, base, sandbox);
    const repo = fhir.repository(sandbox, access, base);
    const prefer = preferOf(req);
    const [type, id, op] = path;

    if (type === AUDIT_TYPE) {
      const isPostSearch = method === 'POST' && path[1] === '_search';
      const body = await auditEventResponse({
        source: auditEvents,
        sandbox,
        publicUrl: config.publicUrl,
        baseUrl: repo.baseUrl,
        base,
        policy: repo.policy,
        method,
        path,
        params: isPostSearch ? searchPairs(req, query) : [...query],
        strict: prefer.strict,
      });
      return reply.type(FHIR_JSON).send(body);
    }

    if (method === 'GET' || method === 'HEAD') {
      if (path.length === 2 && !path[1].startsWith('_')) {
        // Hot path: return the stored JSON text untouched.
        const s = await repo.read(type, id);
        const etag = versionEtag(s.version);
        reply.header('etag', etag).header('last-modified', new Date(s.lastUpdated).toUTCString());
        if (header(req, 'if-none-match') === etag) return reply.code(304).send();
        return reply.type(FHIR_JSON).send(s.content);
      }
      if (path.length === 4 && op === '_history') {
        const s = await repo.vread(type, id, path[3]);
        reply.header('etag', versionEtag(s.version)).header('last-modified', new Date(s.lastUpdated).toUTCString());
        return reply.type(FHIR_JSON).send(s.content);
      }
      return reply.type(FHIR_JSON).send(await getText(repo, path, queryText, { strict: prefer.strict, allTypes: resourceTypes() }));
    }

    if (method === 'POST') {
      if (path.length === 0) {
        requireResourceBody(req);
        const out = await processBundle(repo, req.body, prefer.ret, (p, q) => handleGet(repo, p, q));
        return reply.type(FHIR_JSON).send(out);
      }
      if (path[path.length - 1] === '_search' && path.length <= 2) {
        return reply.type(FHIR_JSON).send(await getText(repo, path.slice(0, -1), searchPairs(req, query), { strict: prefer.strict, allTypes: resourceTypes() }));
      }
      if (path.length === 3 && type === 'Patient' && op === '$everything') {
        return reply.type(FHIR_JSON).send(await getText(repo, path, queryText, { allTypes: resourceTypes() }));
      }
      const validate = validateTarget(path);
      if (validate) {
        if (req.body !== undefined) requireResourceBody(req);
        return reply.type(FHIR_JSON).send(await validateOperation(repo, validate.type, validate.id, req.body, query));
      }
      if (path.length === 1) {
        requireResourceBody(req);
        const r = await repo.create(type, req.body, { ifNoneExist: header(req, 'if-none-exist') });
        return sendStored(reply, repo, r.stored, r.status, prefer.ret, r.status === 201);
      }
    }

    if (method === 'PUT') {
      requireResourceBody(req);
      if (path.length === 2) {
        const r = await repo.update(type, id, req.body, { ifMatch: header(req, 'if-match') });
        return sendStored(reply, repo, r.stored, r.status, prefer.ret, r.status === 201);
      }
      if (path.length === 1) {
        if (!queryText) throw httpError(400, 'invalid', 'PUT to a type needs search criteria (conditional update) or an id');
        const r = await repo.conditionalUpdate(type, queryText, req.body, { ifMatch: header(req, 'if-match') });
        return sendStored(reply, repo, r.stored, r.status, prefer.ret, r.status === 201);
      }
    }

    if (method === 'PATCH') {
      if (contentType(req) !== 'application/json-patch+json') {
        throw httpError(415, 'not-supported', 'PATCH takes application/json-patch+json (RFC 6902)');
      }
      if (path.length === 2) {
        const r = await repo.patch(type, id, req.body, { ifMatch: header(req, 'if-match') });
        return sendStored(reply, repo, r.stored, 200, prefer.ret, false);
      }
      if (path.length === 1 && queryText) {
        const r = await repo.conditionalPatch(type, queryText, req.body, { ifMatch: header(req, 'if-match') });
        return sendStored(reply, repo, r.stored, 200, prefer.ret, false);
      }
    }

    if (method === 'DELETE') {
      if (path.length === 2) {
        await repo.delete(type, id, { ifMatch: header(req, 'if-match') });
        return reply.code(204).send();
      }
      if (path.length === 1) {
        if (!queryText) throw httpError(400, 'invalid', 'DELETE on a type needs search criteria (conditional delete)');
        await repo.conditionalDelete(type, queryText);
        return reply.code(204).send();
      }
    }
    throw httpError(path.length > 3 ? 404 : 405, 'not-supported', `${method} is not supported at ${path.join('/') || 'the base'}`);
  }

  await app.register(async (f) => {
    // CORS and cache headers on every FHIR response, errors included (browser SMART apps; src/http/cors.ts,
    // src/http/caching.ts). The cache hook's `Vary: Authorization, Origin` supersedes CORS's `Vary: Origin`.
    f.addHook('onRequest', corsOnRequest);
    f.addHook('onRequest', async (req, reply) => {
      if (req.routeOptions.url?.startsWith('/:sandbox/open')) openCacheHeaders(reply);
      else authenticatedCacheHeaders(reply);
    });
    const preflight = preflightHandler(METHODS);
    for (const base of ['data', 'open'] as const) {
      for (const url of [`/:sandbox/${base}`, `/:sandbox/${base}/*`]) {
        f.route({ method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], url, handler: (req, reply) => handle(req, reply, base) });
        f.options(url, preflight);
      }
    }
  });
}
