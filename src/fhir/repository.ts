/**
 * The per-request repository (docs/architecture.md §6): every FHIR interaction goes through it, and it
 * enforces the request's AccessPolicy itself — route handlers never touch the store. Reads outside
 * what the grant allows answer 404 without echoing anything.
 *
 * Writes are "plan then apply" (ADR 0004): reads, validation and indexing happen first (async), and
 * the planned versions gather in a WriteSet that ONE store call applies atomically, each op checking
 * inside the transaction that the current version is still the one it was planned against. The access
 * check of a written version (it must belong to the context patient's compartment only) is decided
 * from its index rows before the write; a scope's query restriction travels as a WriteGuard that the
 * store evaluates inside the transaction, rolling everything back when it fails.
 */
import { randomUUID } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import { checkResourceSize, countParam, LIMITS, offsetParam } from '../config/limits.js';
import { badRequest, conflict, FhirError, forbidden, gone, notFound, preconditionFailed } from '../errors/errors.js';
import type { AccessPolicy, Constraint } from './access/policy.js';
import type { Perm } from '../smart/scopes.js';
import { checkMemberSearch, subsetGroup } from './access/group-subset.js';
import { AUDIT_TYPE, auditWriteRefused } from './audit-events.js';
import { ID_PATTERN, inPatientCompartment, isResourceType, resourceTypes } from './definitions.js';
import { compartmentsOf, indexResource } from './indexer.js';
import { core } from './medplum.js';
import { and, type Cond, FALSE, or, TRUE } from './search/cond.js';
import { executeSearch, type ExecContext, pageSql, pidsNeeded, type Row } from './search/execute.js';
import { type ParseContext, paramCond, parseSearch, type SearchRequest } from './search/parse.js';
import { bundleText, type BundleEntryText, renderResource } from './search/results.js';
import { compile, SqlBuilder } from './search/sql.js';
import { dateRange } from './search/values.js';
import { type ResourceStore, type StoredResource, VersionConflict, type WriteGuard, type WriteOp, type WriteRecord } from './store.js';
import { prepareVersion } from './prepare.js';

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
const NOT_FOUND_NO_UPDATE_CREATE = 'resource not found; under patient-confined or query-restricted scopes, PUT updates existing resources only: create new ones with POST';

/**
 * The planned writes of one request; a transaction Bundle gathers every entry's writes in one set.
 * Reads of the request see their own planned versions (`pending`, rid 0 until applied).
 */
export class WriteSet {
  readonly ops: WriteOp[] = [];
  private readonly results: StoredResource[] = [];
  readonly pending = new Map<string, StoredResource>();
  /** Keys written under an If-Match: a version conflict there is 412, not a retry. */
  readonly ifMatch = new Set<string>();

  static key(type: string, id: string): string {
    return `${type}/${id}`;
  }

  put(rec: WriteRecord, expect: number, guard: WriteGuard | undefined): StoredResource {
    this.ops.push({ kind: 'put', rec, expect, guard });
    const planned: StoredResource = { rid: 0, type: rec.type, id: rec.id, version: rec.version, lastUpdated: rec.lastUpdated, deleted: false, content: rec.content };
    this.results.push(planned);
    this.pending.set(WriteSet.key(rec.type, rec.id), planned);
    return planned;
  }

  remove(type: string, id: string, version: number, lastUpdated: number, expect: number): void {
    this.ops.push({ kind: 'remove', type, id, version, lastUpdated, expect });
    const planned: StoredResource = { rid: 0, type, id, version, lastUpdated, deleted: true, content: null };
    this.results.push(planned);
    this.pending.set(WriteSet.key(type, id), planned);
  }

  /** Applies every op atomically; the planned StoredResources get their rids. */
  async commit(store: ResourceStore, tenant: number): Promise<void> {
    if (this.ops.length === 0) return;
    const out = await store.apply(tenant, this.ops);
    for (const [i, r] of out.entries()) Object.assign(this.results[i], r);
  }
}

/**
 * The Patient compartments of a not yet validated resource, to refuse a write outside the token's
 * compartment before validating it; undefined when they cannot be computed on this input (the write
 * is then validated first and checked on its index rows, as always).
 */
function earlyCompartments(resource: Resource): string[] | undefined {
  try {
    return compartmentsOf(resource);
  } catch {
    return undefined;
  }
}

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

  private readonly missingPids: [string, string][] = [];

  /** Sync pid lookup for the search compiler: a pid not known to this process is recorded and 0 for now. */
  pid = (type: string, code: string): number => {
    const p = this.store.cachedPid(type, code);
    if (p !== undefined) return p;
    this.missingPids.push([type, code]);
    return 0;
  };

  /**
   * Runs a synchronous compile step; when it needed pids this process does not know yet (another node
   * may have allocated them), reloads the dictionary and runs it again.
   */
  private async settle<T>(fn: () => T, extra: () => [string, string][] = () => []): Promise<T> {
    this.missingPids.length = 0;
    let out = fn();
    const missing = [...this.missingPids, ...extra().filter(([t, c]) => this.store.cachedPid(t, c) === undefined)];
    if (missing.length === 0) return out;
    await this.store.refreshPids();
    this.missingPids.length = 0;
    out = fn();
    return out;
  }

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

  /** SQL that returns a row when the stored resource `rid` satisfies `cond`. */
  private satisfiesSql(rid: number, cond: Cond): { sql: string; params: unknown[] } {
    const b = new SqlBuilder(this.tenant);
    const sql = `SELECT 1 AS ok FROM resource r WHERE r.rid = ${b.p(rid)} AND r.tenant = ${b.p(this.tenant)} AND ${compile(b, cond, 'r', true)}`;
    return { sql, params: b.params };
  }

  /** Does the stored resource `rid` satisfy `cond`? */
  private async satisfies(rid: number, cond: Cond): Promise<boolean> {
    if (cond.k === 'and' && cond.items.length === 0) return true;
    const q = this.satisfiesSql(rid, cond);
    return (await this.store.query(q.sql, q.params)).length > 0;
  }

  private async visible(type: string, row: StoredResource, op: Perm): Promise<boolean> {
    const c = this.policy.constraint(type, op);
    // A version planned by this very request was admitted by the same constraint.
    if (c === 'all' || row.rid === 0) return true;
    const cond = await this.settle(() => this.constraintCond(type, c));
    return this.satisfies(row.rid, cond);
  }

  /**
   * Before a write: the new version must satisfy one alternative, and patient-confined ones exclusively.
   * Compartments are known from the index rows; a scope's query restriction becomes a guard that the
   * store evaluates on the written version inside the transaction.
   */
  private async writeGuard(type: string, compartments: string[], c: Constraint): Promise<WriteGuard | undefined> {
    if (c === 'all') return undefined;
    const comps = [...new Set(compartments)];
    const queries: Cond[] = [];
    for (const a of c) {
      if (a.patient !== undefined && !(comps.length === 1 && comps[0] === a.patient)) continue;
      if (!a.query) return undefined;
      const query = a.query;
      queries.push(await this.settle(() => this.constraintCond(type, [{ query }])));
    }
    const refuse = () =>
      forbidden(
        inPatientCompartment(type)
          ? 'the written resource must belong to the compartment of the patient in context, and to no other'
          : `the granted scopes do not allow writing this ${type}`,
      );
    if (queries.length === 0) throw refuse();
    const cond = or(...queries);
    return { sql: (rid) => this.satisfiesSql(rid, cond), error: refuse };
  }

  /** The current version, as planned by this request's write set or as stored. */
  private async current(type: string, id: string, ws?: WriteSet): Promise<StoredResource | undefined> {
    const planned = ws?.pending.get(WriteSet.key(type, id));
    if (planned) return planned;
    return ID_PATTERN.test(id) ? this.store.read(this.tenant, type, id) : undefined;
  }

  /**
   * Runs one write operation and commits its write set. A version conflict (another writer came first)
   * is 412 under If-Match, and otherwise retried on the new current version.
   */
  private async commit<T>(fn: (ws: WriteSet) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const ws = new WriteSet();
      const out = await fn(ws);
      try {
        await ws.commit(this.store, this.tenant);
        return out;
      } catch (e) {
        if (!(e instanceof VersionConflict)) throw e;
        if (ws.ifMatch.has(WriteSet.key(e.type, e.id))) throw preconditionFailed(`version conflict: ${e.type}/${e.id} was changed concurrently`);
        if (attempt >= 4) throw conflict(`version conflict: ${e.type}/${e.id} was changed concurrently; retry`);
      }
    }
  }

  // ---------------------------------------------------------------- read

  /**
   * Resource JSON as this request may see it: a Group under a patient-confined grant keeps only
   * that patient's member entries (access/group-subset.ts). Every path that returns stored content
   * (read, vread, search matches and includes, history, $everything, bulk export) goes through it.
   */
  private shape(type: string, content: string, op: 'r' | 's'): string {
    return type === 'Group' ? subsetGroup(content, this.policy.groupMemberView(op)) : content;
  }

  private shapeStored(row: StoredResource, op: 'r' | 's'): StoredResource {
    if (row.content === null) return row;
    const content = this.shape(row.type, row.content, op);
    return content === row.content ? row : { ...row, content };
  }

  private shapeRow(row: Row): Row {
    const content = this.shape(row.rtype, row.content, 's');
    return content === row.content ? row : { ...row, content };
  }

  async read(type: string, id: string, ws?: WriteSet): Promise<StoredResource> {
    this.requireType(type);
    this.policy.constraint(type, 'r');
    const row = await this.current(type, id, ws);
    if (!row || !(await this.visible(type, row, 'r'))) throw notFound(NOT_FOUND);
    if (row.deleted) throw gone('resource deleted');
    return this.shapeStored(row, 'r');
  }

  async vread(type: string, id: string, vid: string): Promise<StoredResource> {
    this.requireType(type);
    const c = this.policy.constraint(type, 'r');
    const cur = ID_PATTERN.test(id) ? await this.store.read(this.tenant, type, id) : undefined;
    if (!cur || !(await this.visible(type, cur, 'r')) || !/^\d+$/.test(vid)) throw notFound(NOT_FOUND);
    const row = await this.store.readVersion(this.tenant, type, id, Number(vid));
    if (!row) throw notFound(NOT_FOUND);
    if (!(await this.versionVisible(type, row, c))) throw notFound(NOT_FOUND);
    if (row.deleted) throw gone('this version is a deletion');
    return this.shapeStored(row, 'r');
  }

  /** A past version may have belonged to another compartment: check its own content. */
  private async versionVisible(_type: string, row: StoredResource, c: Constraint): Promise<boolean> {
    if (c === 'all') return true;
    let comps: string[] | undefined;
    for (const a of c) {
      if (a.query) continue; // history of query-restricted grants is refused (cannot evaluate past versions)
      if (a.patient === undefined) return true;
      comps ??= row.content ? compartmentsOf(JSON.parse(row.content) as Resource) : await this.store.compartmentsOf(this.tenant, row.rid);
      if (comps.includes(a.patient)) return true;
    }
    return false;
  }

  /**
   * `$validate` in mode update or delete (validate-operation.ts): the current version that interaction
   * would act on, under the same scopes and visibility, and the same 404 for an id that is absent,
   * deleted or outside the grant.
   */
  async writableCurrent(type: string, id: string, op: 'u' | 'd'): Promise<StoredResource> {
    this.requireWritableType(type);
    this.requireId(id);
    this.policy.constraint(type, op);
    const cur = await this.current(type, id);
    if (!cur || cur.deleted || !(await this.visible(type, cur, op))) throw notFound(NOT_FOUND);
    return cur;
  }

  /**
   * `$validate` mode create: the grant's refusal of this resource as a new version — the compartment
   * rule of writeGuard (patient-confined grants write their patient's compartment only) — or
   * undefined when it would pass. A scope's query restriction is evaluated only on a real write.
   */
  async createRefusal(type: string, resource: Resource): Promise<string | undefined> {
    const c = this.policy.constraint(type, 'c');
    let compartments: string[];
    try {
      compartments = indexResource(resource).compartments;
    } catch {
      return undefined; // not indexable: the validation issues already say why
    }
    try {
      await this.writeGuard(type, compartments, c);
      return undefined;
    } catch (e) {
      if (e instanceof FhirError) return e.message;
      throw e;
    }
  }

  // ---------------------------------------------------------------- write

  private checkBody(type: string, body: unknown): Record<string, any> {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the request body must be a JSON object (a FHIR resource)');
    const r = body as Record<string, any>;
    if (r.resourceType !== type) throw badRequest(`resourceType must be ${type}, got ${JSON.stringify(r.resourceType ?? null)}`, ['resourceType']);
    return r;
  }

  private checkIfMatch(cur: StoredResource | undefined, ifMatch: string | undefined, ws: WriteSet, key: string): void {
    if (ifMatch === undefined) return;
    const v = parseEtag(ifMatch);
    if (v === undefined) throw badRequest(`malformed If-Match header ${JSON.stringify(ifMatch)}`);
    if (!cur || cur.deleted || cur.version !== v) {
      throw preconditionFailed(`version conflict: If-Match ${ifMatch} does not match the current version`);
    }
    ws.ifMatch.add(key);
  }

  /** Builds, validates and indexes a new version and plans it in `ws`, guarded by the access constraint. */
  private async write(
    ws: WriteSet,
    type: string,
    id: string,
    body: Record<string, any>,
    method: 'POST' | 'PUT' | 'PATCH',
    c: Constraint,
    cur?: StoredResource,
  ): Promise<StoredResource> {
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
    // Cheap checks first: authorization (compartment, scopes), then size, then the costly validation
    // and indexing — a large write outside the token's compartment is refused before any of them.
    const early = earlyCompartments(resource);
    if (early) await this.writeGuard(type, early, c);
    const content = JSON.stringify(resource);
    const bytes = Buffer.byteLength(content);
    checkResourceSize(type, bytes);
    const ix = await prepareVersion(resource, this.validation === 'full', bytes);
    // Authoritative: from the index rows of the validated resource.
    const guard = await this.writeGuard(type, ix.compartments, c);
    const rec: WriteRecord = { type, id, content, version, lastUpdated: now, method, index: ix.rows, compartments: ix.compartments };
    return ws.put(rec, cur?.version ?? 0, guard);
  }

  /** Ids of `type` matching conditional criteria (conditional create/update/delete/patch). */
  private async conditionalMatches(type: string, query: string): Promise<Row[]> {
    const params = [...new URLSearchParams(query)];
    if (params.length === 0) throw badRequest('conditional criteria must not be empty');
    const r = await this.search([type], params, { strict: true, count: 2 });
    return r.matches;
  }

  /** Runs `fn` in the caller's write set (a transaction Bundle), or in its own committed one. */
  private inSet<T>(ws: WriteSet | undefined, fn: (ws: WriteSet) => Promise<T>): Promise<T> {
    return ws ? fn(ws) : this.commit(fn);
  }

  create(type: string, body: unknown, opts: { ifNoneExist?: string; id?: string } = {}, ws?: WriteSet): Promise<WriteOutcome> {
    this.requireWritableType(type);
    const c = this.policy.constraint(type, 'c');
    const r = this.checkBody(type, body);
    return this.inSet(ws, async (set) => {
      if (opts.ifNoneExist !== undefined) {
        const found = await this.conditionalMatches(type, opts.ifNoneExist);
        if (found.length > 1) throw preconditionFailed('If-None-Exist matched more than one resource');
        if (found.length === 1) return { status: 200, stored: await this.read(type, found[0].id, set) };
      }
      // R4 §3.1.0.2: the server assigns the id of a created resource; a client id is ignored.
      return { status: 201, stored: await this.write(set, type, opts.id ?? randomUUID(), r, 'POST', c) };
    });
  }

  update(type: string, id: string, body: unknown, opts: { ifMatch?: string } = {}, ws?: WriteSet): Promise<WriteOutcome> {
    this.requireWritableType(type);
    this.requireId(id);
    const r = this.checkBody(type, body);
    if (r.id === undefined) throw badRequest('the resource must carry its id for an update', ['id']);
    if (r.id !== id) throw badRequest(`the resource id ${JSON.stringify(r.id)} does not match the URL id`, ['id']);
    if (this.confinedWrites(type)) return this.confinedUpdate(type, id, r, opts, ws);
    return this.inSet(ws, async (set) => {
      const cur = await this.current(type, id, set);
      const key = WriteSet.key(type, id);
      if (cur) {
        const c = this.policy.constraint(type, cur.deleted ? 'c' : 'u');
        if (!(await this.visible(type, cur, cur.deleted ? 'c' : 'u'))) throw notFound(NOT_FOUND);
        this.checkIfMatch(cur, opts.ifMatch, set, key);
        return { status: cur.deleted ? 201 : 200, stored: await this.write(set, type, id, r, 'PUT', c, cur) };
      }
      const c = this.policy.constraint(type, 'c');
      this.checkIfMatch(undefined, opts.ifMatch, set, key);
      return { status: 201, stored: await this.write(set, type, id, r, 'PUT', c) };
    });
  }

  /**
   * Is create or update of `type` confined for this grant (patient/ scopes, a Patient persona's user/
   * scopes, a scope's query restriction)? Such a grant cannot see every existing id, so update-as-create
   * would be an existence oracle: `PUT Observation/x` creating (201) where x is free, and 404 where x
   * belongs to another patient.
   */
  private confinedWrites(type: string): boolean {
    return [this.policy.tryConstraint(type, 'u'), this.policy.tryConstraint(type, 'c')].some((c) => c !== undefined && c !== 'all');
  }

  /**
   * Update under a confined grant (README "FHIR API": no update-as-create for confined grants). The
   * answer never depends on whether an id exists outside what the grant sees: scopes are checked
   * first, then an id that is absent, deleted or outside the grant is 404 "resource not found" —
   * before If-Match is looked at — exactly like a read of it. Only a visible current version is updated.
   */
  private confinedUpdate(type: string, id: string, r: Record<string, any>, opts: { ifMatch?: string }, ws?: WriteSet): Promise<WriteOutcome> {
    const c = this.policy.constraint(type, 'u');
    return this.inSet(ws, async (set) => {
      const cur = await this.current(type, id, set);
      if (!cur || cur.deleted || !(await this.visible(type, cur, 'u'))) throw notFound(NOT_FOUND_NO_UPDATE_CREATE);
      this.checkIfMatch(cur, opts.ifMatch, set, WriteSet.key(type, id));
      return { status: 200 as const, stored: await this.write(set, type, id, r, 'PUT', c, cur) };
    });
  }

  async conditionalUpdate(type: string, query: string, body: unknown, opts: { ifMatch?: string } = {}, ws?: WriteSet): Promise<WriteOutcome> {
    this.requireWritableType(type);
    const r = this.checkBody(type, body);
    const found = await this.conditionalMatches(type, query);
    if (found.length > 1) throw preconditionFailed('the conditional update criteria matched more than one resource');
    if (found.length === 1) {
      if (r.id !== undefined && r.id !== found[0].id) throw badRequest('the resource id does not match the resource found by the criteria', ['id']);
      return this.update(type, found[0].id, { ...r, id: found[0].id }, opts, ws);
    }
    if (r.id !== undefined) return this.update(type, String(r.id), r, opts, ws);
    return this.create(type, r, {}, ws);
  }

  patch(type: string, id: string, ops: unknown, opts: { ifMatch?: string } = {}, ws?: WriteSet): Promise<WriteOutcome> {
    this.requireWritableType(type);
    const c = this.policy.constraint(type, 'u');
    return this.inSet(ws, async (set) => {
      const cur = await this.current(type, id, set);
      if (!cur || !(await this.visible(type, cur, 'u'))) throw notFound(NOT_FOUND);
      if (cur.deleted) throw gone('resource deleted');
      this.checkIfMatch(cur, opts.ifMatch, set, WriteSet.key(type, id));
      // A patch runs on the stored JSON, whose other members a subsetted Group hides: a `test` op on
      // them would reveal their ids (422 or not). Only a Group the grant sees whole may be patched.
      if (cur.content !== null && this.shape(type, cur.content, 'r') !== cur.content) {
        throw forbidden('this Group has members outside the patient in context; a patient-confined grant cannot patch it');
      }
      if (!Array.isArray(ops) || ops.some((o) => !o || typeof o !== 'object' || typeof o.op !== 'string' || typeof o.path !== 'string')) {
        throw badRequest('a JSON Patch body is an array of operations, each with "op" and "path" (RFC 6902)');
      }
      const doc = JSON.parse(cur.content!) as Record<string, any>;
      let errors: unknown[];
      try {
        errors = core.applyPatch(doc, structuredClone(ops) as any);
      } catch (e) {
        throw badRequest(`JSON Patch failed: ${(e as Error).message}`);
      }
      const failed = errors.find((e) => e !== null) as Error | undefined;
      if (failed) {
        const status = failed.name === 'TestError' || /Test failed/.test(failed.message) ? 422 : 400;
        throw new FhirError(status, [{ severity: 'error', code: 'processing', diagnostics: `JSON Patch failed: ${failed.message}` }]);
      }
      if (doc.resourceType !== type || doc.id !== id) throw badRequest('a patch may not change resourceType or id');
      return { status: 200 as const, stored: await this.write(set, type, id, doc, 'PATCH', c, cur) };
    });
  }

  async conditionalPatch(type: string, query: string, ops: unknown, opts: { ifMatch?: string } = {}, ws?: WriteSet): Promise<WriteOutcome> {
    this.requireWritableType(type);
    const found = await this.conditionalMatches(type, query);
    if (found.length === 0) throw notFound('no resource matches the conditional patch criteria');
    if (found.length > 1) throw preconditionFailed('the conditional patch criteria matched more than one resource');
    return this.patch(type, found[0].id, ops, opts, ws);
  }

  /** Deletes; returns false when the resource was already deleted. */
  delete(type: string, id: string, opts: { ifMatch?: string } = {}, ws?: WriteSet): Promise<boolean> {
    this.requireWritableType(type);
    this.policy.constraint(type, 'd');
    return this.inSet(ws, async (set) => {
      const cur = await this.current(type, id, set);
      if (!cur || !(await this.visible(type, cur, 'd'))) throw notFound(NOT_FOUND);
      if (cur.deleted) return false;
      this.checkIfMatch(cur, opts.ifMatch, set, WriteSet.key(type, id));
      set.remove(type, id, cur.version + 1, Date.now(), cur.version);
      return true;
    });
  }

  async conditionalDelete(type: string, query: string, ws?: WriteSet): Promise<number> {
    this.requireWritableType(type);
    const found = await this.conditionalMatches(type, query);
    if (found.length > 1) throw preconditionFailed('the conditional delete criteria matched more than one resource');
    for (const f of found) await this.delete(type, f.id, {}, ws);
    return found.length;
  }

  // ---------------------------------------------------------------- search

  /** Parses a search and rewrites it with the compartment and the access conditions. */
  private async prepareSearch(types: string[], params: [string, string][], opts: SearchOptions & { count?: number }): Promise<{ req: SearchRequest; ex: ExecContext }> {
    return this.settle(() => this.prepareSearchSync(types, params, opts), () => this.pendingSearchPids);
  }

  /** Set by prepareSearchSync: the pids sorting and includes will need (warmed by settle). */
  private pendingSearchPids: [string, string][] = [];

  private prepareSearchSync(types: string[], params: [string, string][], opts: SearchOptions & { count?: number }): { req: SearchRequest; ex: ExecContext } {
    for (const t of types) this.requireType(t);
    let permitted = types;
    if (types.length === 1) this.policy.constraint(types[0], 's');
    else {
      permitted = types.filter((t) => this.policy.tryConstraint(t, 's') !== undefined);
      if (permitted.length === 0) throw forbidden('the granted scopes allow searching none of these resource types');
    }
    checkMemberSearch(params, this.policy.groupMemberView('s'), this.baseUrl);
    const req = parseSearch(this.parseContext(), permitted, params);
    if (opts.count !== undefined) req.count = opts.count;
    if (req.unknown.length && opts.strict) {
      throw badRequest(`unknown or unsupported search parameter(s): ${req.unknown.map((u) => u.split('=')[0]).join(', ')}`);
    }
    const extra: Cond = opts.compartment !== undefined ? { k: 'compartment', patient: opts.compartment } : TRUE;
    for (const t of permitted) req.conds.set(t, and(req.conds.get(t)!, extra, this.accessCond(t, 's') ?? FALSE));
    const ex: ExecContext = { store: this.store, tenant: this.tenant, access: (t) => this.accessCond(t, 's'), pid: this.pid };
    this.pendingSearchPids = pidsNeeded(req);
    return { req, ex };
  }

  async search(types: string[], params: [string, string][], opts: SearchOptions & { count?: number } = {}): Promise<SearchResult> {
    const { req, ex } = await this.prepareSearch(types, params, opts);
    const out = await executeSearch(ex, req);
    const warnings = req.unknown.map((u) => `search parameter ignored (unknown or unsupported): ${u}`);
    return { req, ...out, matches: out.matches.map((r) => this.shapeRow(r)), included: out.included.map((r) => this.shapeRow(r)), warnings };
  }

  /** The database's plan for the page query of a search (SQLite `EXPLAIN QUERY PLAN` details, PG `EXPLAIN` lines). */
  async searchPlan(types: string[], params: [string, string][], opts: SearchOptions = {}): Promise<string[]> {
    const { req, ex } = await this.prepareSearch(types, params, opts);
    const { sql, params: args } = pageSql(ex, req);
    if (this.store.dialect === 'postgres') return (await this.store.query<Record<string, string>>(`EXPLAIN ${sql}`, args)).map((r) => r['QUERY PLAN']);
    return (await this.store.query<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`, args)).map((r) => r.detail);
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

  async history(scope: { type?: string; id?: string }, params: URLSearchParams): Promise<string> {
    let count = 50;
    let offset = 0;
    let since: number | undefined;
    for (const [k, v] of params) {
      if (k === '_count') {
        count = countParam(k, v);
      } else if (k === '_offset') {
        offset = offsetParam(k, v);
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
        const cur = ID_PATTERN.test(scope.id) ? await this.store.read(this.tenant, scope.type, scope.id) : undefined;
        if (!cur || !(await this.visible(scope.type, cur, 'r'))) throw notFound(NOT_FOUND);
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
      const batch = await this.store.history(this.tenant, { type: scope.type, id: scope.id, since, types, limit, offset: raw });
      for (const h of batch) {
        if (entries.length === count) {
          more = true;
          break;
        }
        raw++;
        const c = constraintOf(h.type);
        if (c === undefined || !(await this.versionVisible(h.type, h, c))) continue;
        const url = h.method === 'POST' ? h.type : `${h.type}/${h.id}`;
        entries.push({
          fullUrl: `${this.baseUrl}/${h.type}/${h.id}`,
          ...(h.content ? { resource: this.shape(h.type, h.content, 'r') } : {}),
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

  async everything(id: string, params: URLSearchParams): Promise<string> {
    const patient = await this.read('Patient', id);
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
        count = countParam(k, v);
      } else if (k === '_offset') {
        offset = offsetParam(k, v);
      } else if (k !== '_format' && k !== '_pretty') {
        throw badRequest(`unsupported $everything parameter ${k}`);
      }
    }
    const typesInCompartment = (
      await this.store.query<{ rtype: string }>('SELECT DISTINCT r.rtype FROM compartment c CROSS JOIN resource r ON r.rid = c.rid WHERE c.tenant = ? AND c.patient = ? AND r.deleted = 0', [
        this.tenant,
        patient.id,
      ])
    )
      .map((r) => r.rtype)
      .filter((t) => !typeFilter || typeFilter.has(t));
    const b = new SqlBuilder(this.tenant);
    const branches: string[] = [];
    const head = `c.tenant = ${b.p(this.tenant)} AND c.patient = ${b.p(patient.id)} AND r.deleted = 0`;
    const sinceSql = since !== undefined ? ` AND r.last_updated >= ${b.p(since)}` : '';
    const accs = await this.settle(() => typesInCompartment.map((t) => [t, this.accessCond(t, 's')] as const));
    for (const [t, acc] of accs) {
      if (!acc) continue;
      branches.push(`(r.rtype = ${b.p(t)} AND ${compile(b, acc, 'r', true)})`);
    }
    let rows: Row[] = [];
    if (branches.length) {
      rows = await this.store.query<Row>(
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
      const refs = await this.store.query<{ ttype: string; tid: string }>(
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
      // In OR-lists of at most LIMITS.orValues ids (a patient may reference hundreds of practitioners).
      const all = [...ids];
      for (let i = 0; i < all.length; i += LIMITS.orValues) {
        const found = await this.search([t], [['_id', all.slice(i, i + LIMITS.orValues).join(',')]], { count: LIMITS.orValues });
        for (const r of found.matches) {
          if (seen.has(r.rid) || (since !== undefined && r.last_updated < since)) continue;
          seen.add(r.rid);
          rows.push(r);
        }
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
      page.map((r) => ({ fullUrl: `${this.baseUrl}/${r.rtype}/${r.id}`, resource: this.shapeRow(r).content, search: { mode: 'match' as const } })),
    );
  }
}
