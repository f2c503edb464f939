/**
 * Batch and transaction Bundles (R4 §3.1.0.11 / §3.1.0.12), "plan then apply": the plan resolves
 * conditional creates/updates, assigns ids, maps `urn:uuid` (and other) fullUrls to the new
 * `Type/id`, resolves conditional references, and rewrites references; then every entry is planned
 * in the spec's order (DELETE, POST, PUT/PATCH, GET/HEAD) into ONE write set that the store applies
 * atomically at the end (ADR 0004: never a transaction held across an await). Entries see the versions
 * planned by earlier entries. A transaction is all-or-nothing; a batch gives per-entry outcomes (each
 * entry its own atomic write).
 * Every entry goes through the same per-request repository, so access control applies unchanged.
 */
import { randomUUID } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import { badRequest, FhirError, preconditionFailed } from '../errors/errors.js';
import { ID_PATTERN } from './definitions.js';
import { type FhirRepository, versionEtag, WriteSet } from './repository.js';
import { type StoredResource, VersionConflict } from './store.js';

export type PreferReturn = 'minimal' | 'representation' | 'OperationOutcome';

interface Planned {
  index: number;
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string[];
  query: string;
  resource?: Record<string, any>;
  ifMatch?: string;
  ifNoneExist?: string;
  /** Pre-assigned id (POST) or resolved id (conditional PUT). */
  id?: string;
  /** Conditional create that matched an existing resource. */
  existing?: string;
  /** Conditional update that matched nothing and carries no id: a create under the server-assigned `id`. */
  createAs?: boolean;
}

const ORDER: Record<Planned['method'], number> = { DELETE: 0, POST: 1, PUT: 2, PATCH: 2, GET: 3, HEAD: 3 };
const METHODS = new Set(Object.keys(ORDER));

function statusText(code: number): string {
  const t: Record<number, string> = { 200: 'OK', 201: 'Created', 204: 'No Content' };
  return `${code} ${t[code] ?? ''}`.trim();
}

function entryError(index: number, e: unknown): FhirError {
  if (e instanceof FhirError) {
    return new FhirError(
      e.status,
      e.issues.map((i) => ({ ...i, diagnostics: `entry[${index}]: ${i.diagnostics ?? i.code}` })),
      e.headers,
    );
  }
  return new FhirError(500, [{ severity: 'error', code: 'exception', diagnostics: `entry[${index}]: internal error` }]);
}

/** Splits an entry URL (relative, or absolute on this base) into path segments and query. */
function splitUrl(repo: FhirRepository, url: string): { path: string[]; query: string } {
  let u = url;
  if (u.startsWith(`${repo.baseUrl}/`)) u = u.slice(repo.baseUrl.length + 1);
  else if (/^[a-z]+:/i.test(u)) throw badRequest(`entry URL ${u} is not on this server`);
  u = u.replace(/^\/+/, '');
  const q = u.indexOf('?');
  const path = (q >= 0 ? u.slice(0, q) : u)
    .split('/')
    .filter(Boolean)
    .map((segment) => {
      try {
        return decodeURIComponent(segment);
      } catch {
        // RFC 3986 §2.1: a `%` must start a valid percent-encoded octet (and UTF-8 sequence).
        throw badRequest(`entry URL ${JSON.stringify(url.slice(0, 200))} has malformed percent-encoding`);
      }
    });
  return { path, query: q >= 0 ? u.slice(q + 1) : '' };
}

function plan(repo: FhirRepository, bundle: Record<string, any>): Planned[] {
  const entries = bundle.entry ?? [];
  if (!Array.isArray(entries)) throw badRequest('Bundle.entry must be an array');
  return entries.map((e: any, index: number): Planned => {
    const req = e?.request;
    if (!req || typeof req.method !== 'string' || typeof req.url !== 'string' || !METHODS.has(req.method)) {
      throw new FhirError(400, [{ severity: 'error', code: 'invalid', diagnostics: `entry[${index}]: request.method and request.url are required` }]);
    }
    const { path, query } = splitUrl(repo, req.url);
    const p: Planned = { index, method: req.method, path, query };
    if (e.resource !== undefined) p.resource = e.resource;
    if (typeof req.ifMatch === 'string') p.ifMatch = req.ifMatch;
    if (typeof req.ifNoneExist === 'string') p.ifNoneExist = req.ifNoneExist;
    if ((p.method === 'POST' || p.method === 'PUT' || p.method === 'PATCH') && p.resource === undefined) {
      throw new FhirError(400, [{ severity: 'error', code: 'invalid', diagnostics: `entry[${index}]: ${p.method} needs a resource` }]);
    }
    return p;
  });
}

/** Walks a resource and replaces every `reference` found in `map`. */
function rewriteReferences(node: any, resolve: (ref: string) => string | undefined): void {
  if (Array.isArray(node)) {
    for (const x of node) rewriteReferences(x, resolve);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  for (const [k, v] of Object.entries(node)) {
    if (k === 'reference' && typeof v === 'string') {
      const r = resolve(v);
      if (r !== undefined) node[k] = r;
    } else if (typeof v === 'object') {
      rewriteReferences(v, resolve);
    }
  }
}

/** Transaction planning: ids, fullUrl mapping, conditional references. */
async function resolveTransaction(repo: FhirRepository, bundle: Record<string, any>, planned: Planned[]): Promise<void> {
  const map = new Map<string, string>();
  const entries = bundle.entry as any[];
  for (const p of planned) {
    try {
      const type = p.path[0];
      if (p.method === 'POST' && p.path.length === 1) {
        repo.requireType(type);
        if (p.ifNoneExist) {
          const found = (await repo.search([type], [...new URLSearchParams(p.ifNoneExist)], { strict: true, count: 2 })).matches;
          if (found.length > 1) throw preconditionFailed('If-None-Exist matched more than one resource');
          if (found.length === 1) p.existing = found[0].id;
        }
        p.id = p.existing ?? randomUUID();
      } else if (p.method === 'PUT' && p.path.length === 1 && p.query) {
        repo.requireType(type);
        const found = (await repo.search([type], [...new URLSearchParams(p.query)], { strict: true, count: 2 })).matches;
        if (found.length > 1) throw preconditionFailed('the conditional update criteria matched more than one resource');
        p.id = found[0]?.id ?? (typeof p.resource?.id === 'string' ? p.resource.id : randomUUID());
        p.createAs = found.length === 0 && typeof p.resource?.id !== 'string';
      } else if (p.method === 'PUT' && p.path.length === 2) {
        p.id = p.path[1];
      }
      const fullUrl = entries[p.index]?.fullUrl;
      if (typeof fullUrl === 'string' && p.id && (p.method === 'POST' || p.method === 'PUT')) map.set(fullUrl, `${type}/${p.id}`);
    } catch (e) {
      throw entryError(p.index, e);
    }
  }
  const resolve = (ref: string): string | undefined => {
    const mapped = map.get(ref);
    if (mapped) return mapped;
    if (ref.startsWith('urn:uuid:') || ref.startsWith('urn:oid:')) {
      throw badRequest(`reference ${ref} does not resolve to any entry of the transaction`);
    }
    return undefined;
  };
  for (const p of planned) {
    if (!p.resource || p.method === 'PATCH') continue;
    try {
      // Conditional references (R4 §3.1.0.11.2): exactly one match, or the transaction fails.
      const conditional = new Set<string>();
      rewriteReferences(p.resource, (ref) => {
        if (!map.has(ref) && /^[A-Z][A-Za-z]+\?.+$/.test(ref)) conditional.add(ref);
        return undefined;
      });
      for (const ref of conditional) {
        const q = ref.indexOf('?');
        const type = ref.slice(0, q);
        const found = (await repo.search([type], [...new URLSearchParams(ref.slice(q + 1))], { strict: true, count: 2 })).matches;
        if (found.length !== 1) throw preconditionFailed(`conditional reference ${ref} matched ${found.length === 0 ? 'no' : 'more than one'} resource`);
        map.set(ref, `${type}/${found[0].id}`);
      }
      rewriteReferences(p.resource, resolve);
    } catch (e) {
      throw entryError(p.index, e);
    }
  }
}

interface EntryResult {
  status: number;
  stored?: StoredResource;
  /** A resource to return (GET). */
  body?: unknown;
}

async function apply(repo: FhirRepository, p: Planned, handleGet: GetHandler, ws: WriteSet): Promise<EntryResult> {
  const [type, id, ...rest] = p.path;
  switch (p.method) {
    case 'DELETE':
      if (p.path.length === 2) {
        await repo.delete(type, id, { ifMatch: p.ifMatch }, ws);
        return { status: 204 };
      }
      if (p.path.length === 1 && p.query) {
        await repo.conditionalDelete(type, p.query, ws);
        return { status: 204 };
      }
      break;
    case 'POST':
      if (p.path.length === 1) {
        if (p.existing) return { status: 200, stored: await repo.read(type, p.existing, ws) };
        const r = await repo.create(type, p.resource, { id: p.id, ...(p.id ? {} : { ifNoneExist: p.ifNoneExist }) }, ws);
        return { status: r.status, stored: r.stored };
      }
      break;
    case 'PUT':
      if (p.path.length === 1 && p.query) {
        if (p.createAs) {
          // R4 §3.1.0.4.3: no match and no id — the server creates (its id, not update-as-create).
          const r = await repo.create(type, p.resource, { id: p.id }, ws);
          return { status: r.status, stored: r.stored };
        }
        if (p.id) {
          const r = await repo.update(type, p.id, { ...p.resource, id: p.id }, { ifMatch: p.ifMatch }, ws);
          return { status: r.status, stored: r.stored };
        }
        const r = await repo.conditionalUpdate(type, p.query, p.resource, { ifMatch: p.ifMatch }, ws);
        return { status: r.status, stored: r.stored };
      }
      if (p.path.length === 2) {
        const r = await repo.update(type, id, p.resource, { ifMatch: p.ifMatch }, ws);
        return { status: r.status, stored: r.stored };
      }
      break;
    case 'PATCH': {
      if (p.path.length === 2 || (p.path.length === 1 && p.query)) {
        // JSON Patch inside a Bundle travels as a Binary (R4 §3.1.0.7.1).
        const res = p.resource;
        let ops: unknown = res;
        if (res?.resourceType === 'Binary' && typeof res.data === 'string') {
          try {
            ops = JSON.parse(Buffer.from(res.data, 'base64').toString('utf8'));
          } catch {
            throw badRequest('the Binary of a PATCH entry must hold a JSON Patch document');
          }
        }
        const r =
          p.path.length === 2
            ? await repo.patch(type, id, ops, { ifMatch: p.ifMatch }, ws)
            : await repo.conditionalPatch(type, p.query, ops, { ifMatch: p.ifMatch }, ws);
        return { status: r.status, stored: r.stored };
      }
      break;
    }
    case 'GET':
    case 'HEAD':
      return { status: 200, body: await handleGet(p.path, p.query) };
  }
  void rest;
  throw badRequest(`unsupported ${p.method} ${p.path.join('/')}${p.query ? `?${p.query}` : ''} in a Bundle`);
}

function responseEntry(repo: FhirRepository, r: EntryResult, prefer: PreferReturn): Record<string, unknown> {
  const response: Record<string, unknown> = { status: statusText(r.status) };
  const out: Record<string, unknown> = {};
  if (r.stored) {
    const s = r.stored;
    out.fullUrl = `${repo.baseUrl}/${s.type}/${s.id}`;
    response.location = `${s.type}/${s.id}/_history/${s.version}`;
    response.etag = versionEtag(s.version);
    response.lastModified = new Date(s.lastUpdated).toISOString();
    if (prefer === 'representation' && s.content) out.resource = JSON.parse(s.content) as Resource;
    if (prefer === 'OperationOutcome') {
      response.outcome = { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', diagnostics: 'ok' }] };
    }
  } else if (r.body !== undefined) {
    out.resource = r.body;
  }
  out.response = response;
  return out;
}

type GetHandler = (path: string[], query: string) => unknown;

/** Maps a version conflict found at apply time (another writer came first) to 412 / 409. */
function conflictError(e: unknown, ws: WriteSet): unknown {
  if (!(e instanceof VersionConflict)) return e;
  const msg = `version conflict: ${e.type}/${e.id} was changed concurrently`;
  return ws.ifMatch.has(WriteSet.key(e.type, e.id)) ? preconditionFailed(msg) : new FhirError(409, [{ severity: 'error', code: 'conflict', diagnostics: msg }]);
}

/** Processes a batch or transaction Bundle; returns the response Bundle. */
export async function processBundle(repo: FhirRepository, body: unknown, prefer: PreferReturn, handleGet: GetHandler): Promise<Record<string, unknown>> {
  if (!body || typeof body !== 'object' || (body as any).resourceType !== 'Bundle') {
    throw badRequest('POST to the base accepts a Bundle of type batch or transaction');
  }
  const bundle = body as Record<string, any>;
  if (bundle.type !== 'batch' && bundle.type !== 'transaction') {
    throw badRequest(`Bundle.type must be batch or transaction, got ${JSON.stringify(bundle.type ?? null)}`, ['Bundle.type']);
  }
  const isTx = bundle.type === 'transaction';
  const results = new Array<Record<string, unknown>>((bundle.entry ?? []).length);

  if (isTx) {
    const ws = new WriteSet();
    const outcomes = new Array<EntryResult>((bundle.entry ?? []).length);
    {
      const planned = plan(repo, bundle);
      await resolveTransaction(repo, bundle, planned);
      for (const p of planned) {
        if (p.path.length === 2 && (p.method === 'PUT' || p.method === 'DELETE' || p.method === 'PATCH') && !ID_PATTERN.test(p.path[1])) {
          throw entryError(p.index, badRequest('invalid resource id'));
        }
      }
      const ordered = [...planned].sort((a, b) => ORDER[a.method] - ORDER[b.method] || a.index - b.index);
      const reads = ordered.filter((p) => p.method === 'GET' || p.method === 'HEAD');
      for (const p of ordered) {
        if (reads.includes(p)) continue;
        try {
          outcomes[p.index] = await apply(repo, p, handleGet, ws);
        } catch (e) {
          throw entryError(p.index, e);
        }
      }
      try {
        await ws.commit(repo.store, repo.tenant);
      } catch (e) {
        throw conflictError(e, ws);
      }
      // GET/HEAD come last in the spec's order and must see the transaction's writes, so they run after
      // the commit (a store transaction is never held open across these reads, ADR 0004). A failing
      // read is reported in its entry; the writes stand.
      for (const p of reads) {
        try {
          outcomes[p.index] = await apply(repo, p, handleGet, ws);
        } catch (e) {
          const fe = e instanceof FhirError ? e : entryError(p.index, e);
          outcomes[p.index] = { status: fe.status, body: fe.outcome };
        }
      }
    }
    // Rendered after the commit: the planned versions now carry their rids.
    outcomes.forEach((o, i) => {
      results[i] = responseEntry(repo, o, prefer);
    });
    return { resourceType: 'Bundle', type: 'transaction-response', entry: results };
  }

  const entries = (bundle.entry ?? []) as any[];
  if (!Array.isArray(entries)) throw badRequest('Bundle.entry must be an array');
  const planned: (Planned | FhirError)[] = entries.map((_, i) => {
    try {
      return plan(repo, { entry: [entries[i]] }).map((p) => ({ ...p, index: i }))[0];
    } catch (e) {
      return e instanceof FhirError ? e : badRequest('invalid entry');
    }
  });
  const order = planned
    .map((p, i) => ({ p, i }))
    .sort((a, b) => (a.p instanceof FhirError ? 9 : ORDER[a.p.method]) - (b.p instanceof FhirError ? 9 : ORDER[b.p.method]) || a.i - b.i);
  for (const { p, i } of order) {
    if (p instanceof FhirError) {
      results[i] = { response: { status: String(p.status), outcome: p.outcome } };
      continue;
    }
    try {
      const ws = new WriteSet();
      const r = await apply(repo, p, handleGet, ws);
      try {
        await ws.commit(repo.store, repo.tenant);
      } catch (e) {
        throw conflictError(e, ws);
      }
      results[i] = responseEntry(repo, r, prefer);
    } catch (e) {
      const fe = e instanceof FhirError ? e : entryError(i, e);
      results[i] = { response: { status: String(fe.status), outcome: fe.outcome } };
    }
  }
  return { resourceType: 'Bundle', type: 'batch-response', entry: results };
}
