/**
 * The per-request repository (architecture §6): every FHIR interaction goes through it, and it
 * enforces the request's AccessPolicy itself — route handlers never touch the store. Reads outside
 * what the grant allows answer 404 without echoing anything; writes are checked after being applied
 * inside the transaction (the new version must belong to the context patient's compartment only),
 * and roll back when they do not pass.
 */
import { randomUUID } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import { badRequest, FhirError, forbidden, gone, notFound, preconditionFailed } from '../errors/errors.js';
import type { AccessPolicy, Constraint } from './access/policy.js';
import type { Perm } from './access/scopes.js';
import { AUDIT_TYPE, auditWriteRefused } from './audit-events.js';
import { ID_PATTERN, inPatientCompartment, isResourceType, resourceTypes } from './definitions.js';
import { compartmentsOf, indexResource } from './indexer.js';
import { core } from './medplum.js';
import { and, type Cond, FALSE, or, TRUE } from './search/cond.js';
import { executeSearch, type ExecContext, pageSql, type Row } from './search/execute.js';
import { type ParseContext, paramCond, parseSearch, type SearchRequest } from './search/parse.js';
import { bundleText, type BundleEntryText, renderResource } from './search/results.js';
import { compile, SqlBuilder } from './search/sql.js';
import { dateRange } from './search/values.js';
import type { ResourceStore, StoredResource } from './store.js';
import { validateFull } from './validation.js';

export type ValidationLevel = 'full' | 'structure';

export interface RepoDeps {
  store: ResourceStore;
  tenant: number;
  policy: AccessPolicy;
  /** FHIR base URL of this request (`…/{sandbox}/data` or `…/open`), for fullUrl, Location and links. */
  baseUrl: string;
  validation?: ValidationLevel;
}

export interface WriteOutcome {
  /** 201 created, 200 updated or matched (conditional create). */
  status: 200 | 201;
  stored: StoredResource;
}

export interface SearchOptions {
  /** `Prefer: handling=strict`: unknown parameters are an error. */
  strict?: boolean;
  /** Compartment search `Patient/{id}/{type}` (R4 §3.1.0.8.1). */
  compartment?: string;
  /** Path after the base for paging links (`Observation`, `` for system search). */
  path?: string;
}

export interface SearchResult {
  req: SearchRequest;
  matches: Row[];
  included: Row[];
  total?: number;
  hasMore: boolean;
  warnings: string[];
}

const NOT_FOUND = 'resource not found';

export function versionEtag(v: number): string {
  return `W/"${v}"`;
}

/** Parses an If-Match value (`W/"3"` or `"3"` or `3`). */
export function parseEtag(v: string): number | undefined {
  const m = /^(?:W\/)?"?(\d+)"?$/.exec(v.trim());
  return m ? Number(m[1]) : undefined;
}

export class FhirRepository {
  readonly store: ResourceStore;
  readonly tenant: number;
  readonly policy: AccessPolicy;
  readonly baseUrl: string;
  private readonly validation: ValidationLevel;

  constructor(d: RepoDeps) {
    this.store = d.store;
    this.tenant = d.tenant;
    this.policy = d.policy;
    this.baseUrl = d.baseUrl;
    this.validation = d.validation ?? 'full';
  }

  // ---------------------------------------------------------------- access helpers

  requireType(type: string): void {
    if (!isResourceType(type)) throw new FhirError(404, [{ severity: 'error', code: 'not-supported', diagnostics: `unknown resource type ${type}` }]);
  }

  /** Writes: a known type that the store may hold (never AuditEvent, served from the audit trail). */
  private requireWritableType(type: string): void {
    this.requireType(type);
    if (type === AUDIT_TYPE) throw auditWriteRefused();
  }

  private requireId(id: string): void {
    if (!ID_PATTERN.test(id)) throw badRequest(`invalid resource id; ids match ${ID_PATTERN.source}`);
  }

  pid = (type: string, code: string): number => this.store.pid(type, code) ?? 0;

  parseContext(): ParseContext {
    return { pid: this.pid, access: (t) => this.accessCond(t, 's') ?? FALSE, baseUrl: this.baseUrl };
  }

  private constraintCond(type: string, c: Constraint): Cond {
    if (c === 'all') return TRUE;
    return or(
      ...c.map((a) => {
        let q: Cond = TRUE;
        if (a.query) {
          try {
            const ctx: ParseContext = { pid: this.pid, access: () => FALSE, baseUrl: this.baseUrl };
            q = and(...[...a.query].map(([n, v]) => paramCond(ctx, type, n, v)));
          } catch {
            q = FALSE; // a scope restriction we cannot evaluate grants nothing (fail closed)
          }
        }
        return and(a.patient !== undefined ? { k: 'compartment', patient: a.patient } : TRUE, q);
      }),
    );
  }

  /** The access condition for `op` on `type`, or undefined when not granted. */
  accessCond(type: string, op: Perm): Cond | undefined {
    const c = this.policy.tryConstraint(type, op);
    return c === undefined ? undefined : this.constraintCond(type, c);
  }

  /** Does the stored resource `rid` satisfy `cond`? */
  private satisfies(rid: number, cond: Cond): boolean {
    if (cond.k === 'and' && cond.items.length === 0) return true;
    const b = new SqlBuilder(this.tenant);
    const sql = `SELECT 1 AS ok FROM resource r WHERE r.rid = ${b.p(rid)} AND r.tenant = ${b.p(this.tenant)} AND ${compile(b, cond, 'r', true)}`;
    return this.store.query(sql, b.params).length > 0;
  }

  private visible(type: string, row: StoredResource, op: Perm): boolean {
    const c = this.policy.constraint(type, op);
    return c === 'all' || this.satisfies(row.rid, this.constraintCond(type, c));
  }

  /** After a write: the new version must satisfy one alternative, and patient-confined ones exclusively. */
  private checkWritten(type: string, stored: StoredResource, c: Constraint): void {
    if (c === 'all') return;
    const comps = this.store.compartmentsOf(this.tenant, stored.rid);
    const ok = c.some((a) => {
      if (a.patient !== undefined && !(comps.length === 1 && comps[0] === a.patient)) return false;
      if (a.query && !this.satisfies(stored.rid, this.constraintCond(type, [{ query: a.query }]))) return false;
      return true;
    });
    if (!ok) {
      throw forbidden(
        inPatientCompartment(type)
          ? 'the written resource must belong to the compartment of the patient in context, and to no other'
          : `the granted scopes do not allow writing this ${type}`,
      );
    }
  }

  // ---------------------------------------------------------------- read

  read(type: string, id: string): StoredResource {
    this.requireType(type);
    this.policy.constraint(type, 'r');
    const row = ID_PATTERN.test(id) ? this.store.read(this.tenant, type, id) : undefined;
    if (!row || !this.visible(type, row, 'r')) throw notFound(NOT_FOUND);
    if (row.deleted) throw gone('resource deleted');
    return row;
  }

  vread(type: string, id: string, vid: string): StoredResource {
    this.requireType(type);
    const c = this.policy.constraint(type, 'r');
    const cur = ID_PATTERN.test(id) ? this.store.read(this.tenant, type, id) : undefined;
    if (!cur || !this.visible(type, cur, 'r') || !/^\d+$/.test(vid)) throw notFound(NOT_FOUND);
    const row = this.store.readVersion(this.tenant, type, id, Number(vid));
    if (!row) throw notFound(NOT_FOUND);
    if (!this.versionVisible(type, row, c)) throw notFound(NOT_FOUND);
    if (row.deleted) throw gone('this version is a deletion');
    return row;
  }

  /** A past version may have belonged to another compartment: check its own content. */
  private versionVisible(_type: string, row: StoredResource, c: Constraint): boolean {
    if (c === 'all') return true;
    return c.some((a) => {
      if (a.query) return false; // history of query-restricted grants is refused (cannot evaluate past versions)
      if (a.patient === undefined) return true;
      const comps = row.content ? compartmentsOf(JSON.parse(row.content) as Resource) : this.store.compartmentsOf(this.tenant, row.rid);
      return comps.includes(a.patient);
    });
  }

  // ---------------------------------------------------------------- write

  private checkBody(type: string, body: unknown): Record<string, any> {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the request body must be a JSON object (a FHIR resource)');
    const r = body as Record<string, any>;
    if (r.resourceType !== type) throw badRequest(`resourceType must be ${type}, got ${JSON.stringify(r.resourceType ?? null)}`, ['resourceType']);
    return r;
  }

  private checkIfMatch(cur: StoredResource | undefined, ifMatch: string | undefined): void {
    if (ifMatch === undefined) return;
    const v = parseEtag(ifMatch);
    if (v === undefined) throw badRequest(`malformed If-Match header ${JSON.stringify(ifMatch)}`);
    if (!cur || cur.deleted || cur.version !== v) {
      throw preconditionFailed(`version conflict: If-Match ${ifMatch} does not match the current version`);
    }
  }

  /** Builds, validates, indexes and stores a new version; checks the access constraint after writing. */
  private write(type: string, id: string, body: Record<string, any>, method: 'POST' | 'PUT' | 'PATCH', c: Constraint, cur?: StoredResource): StoredResource {
    const version = cur ? cur.version + 1 : 1;
    const now = Date.now();
    const { resourceType: _rt, id: _id, meta, ...rest } = body;
    if (meta !== undefined && (meta === null || typeof meta !== 'object' || Array.isArray(meta))) throw badRequest('meta must be an object', [`${type}.meta`]);
    const cleanMeta = meta ? { ...meta } : {};
    const resource = {
      resourceType: type,
      id,
      meta: { ...cleanMeta, versionId: String(version), lastUpdated: new Date(now).toISOString() },
      ...rest,
    } as Resource;
    if (this.validation === 'full') validateFull(resource);
    const ix = indexResource(resource);
    const content = JSON.stringify(resource);
    return this.store.transaction(() => {
      const stored = this.store.put(this.tenant, {
        type,
        id,
        content,
        version,
        lastUpdated: now,
        method,
        index: ix.rows,
        compartments: ix.compartments,
      });
      this.checkWritten(type, stored, c);
      return stored;
    });
  }

  /** Ids of `type` matching conditional criteria (conditional create/update/delete/patch). */
  private conditionalMatches(type: string, query: string): Row[] {
    const params = [...new URLSearchParams(query)];
    if (params.length === 0) throw badRequest('conditional criteria must not be empty');
    const r = this.search([type], params, { strict: true, count: 2 });
    return r.matches;
  }

  create(type: string, body: unknown, opts: { ifNoneExist?: string; id?: string } = {}): WriteOutcome {
    this.requireWritableType(type);
    const c = this.policy.constraint(type, 'c');
    const r = this.checkBody(type, body);
    if (opts.ifNoneExist !== undefined) {
      const found = this.conditionalMatches(type, opts.ifNoneExist);
      if (found.length > 1) throw preconditionFailed('If-None-Exist matched more than one resource');
      if (found.length === 1) return { status: 200, stored: this.read(type, found[0].id) };
    }
    // R4 §3.1.0.2: the server assigns the id of a created resource; a client id is ignored.
    return { status: 201, stored: this.write(type, opts.id ?? randomUUID(), r, 'POST', c) };
  }

  update(type: string, id: string, body: unknown, opts: { ifMatch?: string } = {}): WriteOutcome {
    this.requireWritableType(type);
    this.requireId(id);
    const r = this.checkBody(type, body);
    if (r.id === undefined) throw badRequest('the resource must carry its id for an update', ['id']);
    if (r.id !== id) throw badRequest(`the resource id ${JSON.stringify(r.id)} does not match the URL id`, ['id']);
    const cur = this.store.read(this.tenant, type, id);
    if (cur) {
      const c = this.policy.constraint(type, cur.deleted ? 'c' : 'u');
      if (!this.visible(type, cur, cur.deleted ? 'c' : 'u')) throw notFound(NOT_FOUND);
      this.checkIfMatch(cur, opts.ifMatch);
      return { status: cur.deleted ? 201 : 200, stored: this.write(type, id, r, 'PUT', c, cur) };
    }
    const c = this.policy.constraint(type, 'c');
    this.checkIfMatch(undefined, opts.ifMatch);
    return { status: 201, stored: this.write(type, id, r, 'PUT', c) };
  }

  conditionalUpdate(type: string, query: string, body: unknown, opts: { ifMatch?: string } = {}): WriteOutcome {
    this.requireWritableType(type);
    const r = this.checkBody(type, body);
    const found = this.conditionalMatches(type, query);
    if (found.length > 1) throw preconditionFailed('the conditional update criteria matched more than one resource');
    if (found.length === 1) {
      if (r.id !== undefined && r.id !== found[0].id) throw badRequest('the resource id does not match the resource found by the criteria', ['id']);
      return this.update(type, found[0].id, { ...r, id: found[0].id }, opts);
    }
    if (r.id !== undefined) return this.update(type, String(r.id), r, opts);
    return this.create(type, r);
  }

  patch(type: string, id: string, ops: unknown, opts: { ifMatch?: string } = {}): WriteOutcome {
    this.requireWritableType(type);
    const c = this.policy.constraint(type, 'u');
    const cur = ID_PATTERN.test(id) ? this.store.read(this.tenant, type, id) : undefined;
    if (!cur || !this.visible(type, cur, 'u')) throw notFound(NOT_FOUND);
    if (cur.deleted) throw gone('resource deleted');
    this.checkIfMatch(cur, opts.ifMatch);
    if (!Array.isArray(ops) || ops.some((o) => !o || typeof o !== 'object' || typeof o.op !== 'string' || typeof o.path !== 'string')) {
      throw badRequest('a JSON Patch body is an array of operations, each with "op" and "path" (RFC 6902)');
    }
    const doc = JSON.parse(cur.content!) as Record<string, any>;
    let errors: unknown[];
    try {
      errors = core.applyPatch(doc, ops as any);
    } catch (e) {
      throw badRequest(`JSON Patch failed: ${(e as Error).message}`);
    }
    const failed = errors.find((e) => e !== null) as Error | undefined;
    if (failed) {
      const status = failed.name === 'TestError' || /Test failed/.test(failed.message) ? 422 : 400;
      throw new FhirError(status, [{ severity: 'error', code: 'processing', diagnostics: `JSON Patch failed: ${failed.message}` }]);
    }
    if (doc.resourceType !== type || doc.id !== id) throw badRequest('a patch may not change resourceType or id');
    return { status: 200, stored: this.write(type, id, doc, 'PATCH', c, cur) };
  }

  conditionalPatch(type: string, query: string, ops: unknown, opts: { ifMatch?: string } = {}): WriteOutcome {
    this.requireWritableType(type);
    const found = this.conditionalMatches(type, query);
    if (found.length === 0) throw notFound('no resource matches the conditional patch criteria');
    if (found.length > 1) throw preconditionFailed('the conditional patch criteria matched more than one resource');
    return this.patch(type, found[0].id, ops, opts);
  }

  /** Deletes; returns false when the resource was already deleted. */
  delete(type: string, id: string, opts: { ifMatch?: string } = {}): boolean {
    this.requireWritableType(type);
    this.policy.constraint(type, 'd');
    const cur = ID_PATTERN.test(id) ? this.store.read(this.tenant, type, id) : undefined;
    if (!cur || !this.visible(type, cur, 'd')) throw notFound(NOT_FOUND);
    if (cur.deleted) return false;
    this.checkIfMatch(cur, opts.ifMatch);
    this.store.remove(this.tenant, type, id, cur.version + 1, Date.now());
    return true;
  }

  conditionalDelete(type: string, query: string): number {
    this.requireWritableType(type);
    const found = this.conditionalMatches(type, query);
    if (found.length > 1) throw preconditionFailed('the conditional delete criteria matched more than one resource');
    for (const f of found) this.delete(type, f.id);
    return found.length;
  }

  // ---------------------------------------------------------------- search

  /** Parses a search and rewrites it with the compartment and the access conditions. */
  private prepareSearch(types: string[], params: [string, string][], opts: SearchOptions & { count?: number }): { req: SearchRequest; ex: ExecContext } {
    for (const t of types) this.requireType(t);
    let permitted = types;
    if (types.length === 1) this.policy.constraint(types[0], 's');
    else {
      permitted = types.filter((t) => this.policy.tryConstraint(t, 's') !== undefined);
      if (permitted.length === 0) throw forbidden('the granted scopes allow searching none of these resource types');
    }
    const req = parseSearch(this.parseContext(), permitted, params);
    if (opts.count !== undefined) req.count = opts.count;
    if (req.unknown.length && opts.strict) {
      throw badRequest(`unknown or unsupported search parameter(s): ${req.unknown.map((u) => u.split('=')[0]).join(', ')}`);
    }
    const extra: Cond = opts.compartment !== undefined ? { k: 'compartment', patient: opts.compartment } : TRUE;
    for (const t of permitted) req.conds.set(t, and(req.conds.get(t)!, extra, this.accessCond(t, 's') ?? FALSE));
    const ex: ExecContext = { store: this.store, tenant: this.tenant, access: (t) => this.accessCond(t, 's'), pid: this.pid };
    return { req, ex };
  }

  search(types: string[], params: [string, string][], opts: SearchOptions & { count?: number } = {}): SearchResult {
    const { req, ex } = this.prepareSearch(types, params, opts);
    const out = executeSearch(ex, req);
    const warnings = req.unknown.map((u) => `search parameter ignored (unknown or unsupported): ${u}`);
    return { req, ...out, warnings };
  }

  /** SQLite's plan for the page query of a search (`EXPLAIN QUERY PLAN` details), for diagnostics and tests. */
  searchPlan(types: string[], params: [string, string][], opts: SearchOptions = {}): string[] {
    const { req, ex } = this.prepareSearch(types, params, opts);
    const { sql, params: args } = pageSql(ex, req);
    return this.store.query<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`, args).map((r) => r.detail);
  }

  private link(path: string, echo: [string, string][], count: number, offset: number): string {
    const q = new URLSearchParams(echo.filter(([k]) => k !== '_count'));
    q.set('_count', String(count));
    if (offset > 0) q.set('_offset', String(offset));
    return `${this.baseUrl}${path ? `/${path}` : ''}?${q.toString()}`;
  }

  /** Renders a search result as a searchset Bundle (text). */
  searchBundle(r: SearchResult, path: string): string {
    const { req } = r;
    const links: { relation: string; url: string }[] = [{ relation: 'self', url: this.link(path, req.echo, req.count, req.offset) }];
    links.push({ relation: 'first', url: this.link(path, req.echo, req.count, 0) });
    if (req.offset > 0 && req.count > 0) links.push({ relation: 'previous', url: this.link(path, req.echo, req.count, Math.max(0, req.offset - req.count)) });
    if (r.hasMore) links.push({ relation: 'next', url: this.link(path, req.echo, req.count, req.offset + req.count) });
    if (r.total !== undefined && req.count > 0) {
      links.push({ relation: 'last', url: this.link(path, req.echo, req.count, Math.max(0, Math.floor((r.total - 1) / req.count) * req.count)) });
    }
    const entries: BundleEntryText[] = [];
    for (const m of r.matches) {
      entries.push({ fullUrl: `${this.baseUrl}/${m.rtype}/${m.id}`, resource: renderResource(m.content, req.summary, req.elements), search: { mode: 'match' } });
    }
    for (const m of r.included) {
      entries.push({ fullUrl: `${this.baseUrl}/${m.rtype}/${m.id}`, resource: renderResource(m.content, req.summary, req.elements, true), search: { mode: 'include' } });
    }
    if (r.warnings.length) {
      const oo = { resourceType: 'OperationOutcome', issue: r.warnings.map((w) => ({ severity: 'warning', code: 'not-supported', diagnostics: w })) };
      entries.push({ resource: JSON.stringify(oo), search: { mode: 'outcome' } });
    }
    const head: Record<string, unknown> = { type: 'searchset' };
    if (r.total !== undefined) head.total = r.total;
    head.link = links;
    return bundleText(head, entries);
  }

  // ---------------------------------------------------------------- history

  history(scope: { type?: string; id?: string }, params: URLSearchParams): string {
    let count = 50;
    let offset = 0;
    let since: number | undefined;
    for (const [k, v] of params) {
      if (k === '_count') {
        if (!/^\d+$/.test(v)) throw badRequest('_count must be a non-negative integer');
        count = Math.min(Number(v), 1000);
      } else if (k === '_offset') {
        if (!/^\d+$/.test(v)) throw badRequest('_offset must be a non-negative integer');
        offset = Number(v);
      } else if (k === '_since') {
        const r = dateRange(v);
        if (!r) throw badRequest(`_since must be an instant, got ${JSON.stringify(v)}`);
        since = r[0];
      } else if (k !== '_format' && k !== '_pretty') {
        throw badRequest(`unsupported history parameter ${k}`);
      }
    }
    const constraints = new Map<string, Constraint>();
    const constraintOf = (t: string): Constraint | undefined => {
      if (!constraints.has(t)) {
        const c = this.policy.tryConstraint(t, 'r');
        if (c === undefined) return undefined;
        constraints.set(t, c);
      }
      return constraints.get(t);
    };
    let types: string[] | undefined;
    if (scope.type) {
      this.requireType(scope.type);
      this.policy.constraint(scope.type, 'r');
      if (scope.id) {
        const cur = ID_PATTERN.test(scope.id) ? this.store.read(this.tenant, scope.type, scope.id) : undefined;
        if (!cur || !this.visible(scope.type, cur, 'r')) throw notFound(NOT_FOUND);
      }
    } else if (!this.policy.isPrivileged && this.policy.source.kind !== 'open') {
      types = [...resourceTypes()].filter((t) => constraintOf(t) !== undefined);
      if (types.length === 0) throw forbidden('the granted scopes allow reading no resource type');
    }
    const entries: BundleEntryText[] = [];
    let raw = offset;
    let more = false;
    const limit = count * 2 + 10;
    for (;;) {
      const batch = this.store.history(this.tenant, { type: scope.type, id: scope.id, since, types, limit, offset: raw });
      for (const h of batch) {
        if (entries.length === count) {
          more = true;
          break;
        }
        raw++;
        const c = constraintOf(h.type);
        if (c === undefined || !this.versionVisible(h.type, h, c)) continue;
        const url = h.method === 'POST' ? h.type : `${h.type}/${h.id}`;
        entries.push({
          fullUrl: `${this.baseUrl}/${h.type}/${h.id}`,
          ...(h.content ? { resource: h.content } : {}),
          request: { method: h.method, url },
          response: {
            status: h.method === 'DELETE' ? '204 No Content' : h.version === 1 ? '201 Created' : '200 OK',
            etag: versionEtag(h.version),
            lastModified: new Date(h.lastUpdated).toISOString(),
          },
        });
      }
      if (more || batch.length < limit || count === 0) break;
    }
    const path = scope.type ? (scope.id ? `${scope.type}/${scope.id}/_history` : `${scope.type}/_history`) : '_history';
    const echo: [string, string][] = since !== undefined ? [['_since', new Date(since).toISOString()]] : [];
    const links = [{ relation: 'self', url: this.link(path, echo, count, offset) }];
    if (more) links.push({ relation: 'next', url: this.link(path, echo, count, raw) });
    return bundleText({ type: 'history', link: links }, entries);
  }


  // ---------------------------------------------------------------- $everything

  everything(id: string, params: URLSearchParams): string {
    const patient = this.read('Patient', id);
    let since: number | undefined;
    let typeFilter: Set<string> | undefined;
    let count = 1000;
    let offset = 0;
    for (const [k, v] of params) {
      if (k === '_since') {
        const r = dateRange(v);
        if (!r) throw badRequest(`_since must be an instant, got ${JSON.stringify(v)}`);
        since = r[0];
      } else if (k === '_type') {
        typeFilter = new Set(v.split(',').map((s) => s.trim()));
        for (const t of typeFilter) if (!isResourceType(t)) throw badRequest(`_type: unknown resource type ${t}`);
      } else if (k === '_count') {
        if (!/^\d+$/.test(v)) throw badRequest('_count must be a non-negative integer');
        count = Math.min(Number(v), 1000);
      } else if (k === '_offset') {
        if (!/^\d+$/.test(v)) throw badRequest('_offset must be a non-negative integer');
        offset = Number(v);
      } else if (k !== '_format' && k !== '_pretty') {
        throw badRequest(`unsupported $everything parameter ${k}`);
      }
    }
    const typesInCompartment = this.store
      .query<{ rtype: string }>('SELECT DISTINCT r.rtype FROM compartment c CROSS JOIN resource r ON r.rid = c.rid WHERE c.tenant = ? AND c.patient = ? AND r.deleted = 0', [
        this.tenant,
        patient.id,
      ])
      .map((r) => r.rtype)
      .filter((t) => !typeFilter || typeFilter.has(t));
    const b = new SqlBuilder(this.tenant);
    const branches: string[] = [];
    const head = `c.tenant = ${b.p(this.tenant)} AND c.patient = ${b.p(patient.id)} AND r.deleted = 0`;
    const sinceSql = since !== undefined ? ` AND r.last_updated >= ${b.p(since)}` : '';
    for (const t of typesInCompartment) {
      const acc = this.accessCond(t, 's');
      if (!acc) continue;
      branches.push(`(r.rtype = ${b.p(t)} AND ${compile(b, acc, 'r', true)})`);
    }
    let rows: Row[] = [];
    if (branches.length) {
      rows = this.store.query<Row>(
        `SELECT r.rid, r.rtype, r.id, r.version, r.last_updated, r.content FROM compartment c CROSS JOIN resource r ON r.rid = c.rid
         WHERE ${head}${sinceSql} AND (${branches.join(' OR ')}) ORDER BY r.rid`,
        b.params,
      );
    }
    // Referenced resources outside the compartment (Practitioner, Organization, Medication…).
    const seen = new Set(rows.map((r) => r.rid));
    const refTargets = new Map<string, Set<string>>();
    for (let i = 0; i < rows.length; i += 400) {
      const part = rows.slice(i, i + 400);
      const refs = this.store.query<{ ttype: string; tid: string }>(
        `SELECT DISTINCT ttype, tid FROM ix_ref WHERE tenant = ? AND rid IN (${part.map(() => '?').join(',')}) AND ttype IS NOT NULL`,
        [this.tenant, ...part.map((r) => r.rid)],
      );
      for (const { ttype, tid } of refs) {
        if (inPatientCompartment(ttype) || (typeFilter && !typeFilter.has(ttype))) continue;
        if (!refTargets.has(ttype)) refTargets.set(ttype, new Set());
        refTargets.get(ttype)!.add(tid);
      }
    }
    for (const [t, ids] of refTargets) {
      if (this.policy.tryConstraint(t, 's') === undefined) continue;
      const found = this.search([t], [['_id', [...ids].join(',')]], { count: 1000 });
      for (const r of found.matches) {
        if (seen.has(r.rid) || (since !== undefined && r.last_updated < since)) continue;
        seen.add(r.rid);
        rows.push(r);
      }
    }
    const total = rows.length;
    const page = rows.slice(offset, offset + count);
    const echo: [string, string][] = [...params].filter(([k]) => k !== '_count' && k !== '_offset');
    const path = `Patient/${patient.id}/$everything`;
    const links = [{ relation: 'self', url: this.link(path, echo, count, offset) }];
    if (offset + count < total) links.push({ relation: 'next', url: this.link(path, echo, count, offset + count) });
    if (offset > 0) links.push({ relation: 'previous', url: this.link(path, echo, count, Math.max(0, offset - count)) });
    return bundleText(
      { type: 'searchset', total, link: links },
      page.map((r) => ({ fullUrl: `${this.baseUrl}/${r.rtype}/${r.id}`, resource: r.content, search: { mode: 'match' as const } })),
    );
  }
}
