/**
 * The launch audit trail served read-only as FHIR R4 `AuditEvent` (issue #5, docs/architecture.md §5) at
 * `{base}/AuditEvent` and `{base}/AuditEvent/launch-{seq}`, on the SMART-secured `/data` base only,
 * to `user/` and `system/` grants that cover AuditEvent without restriction. The records never enter
 * the resource store, so no patient-compartment path ($everything, `_revinclude`, compartment
 * search) can reach them; the access policy also refuses patient-confined grants on AuditEvent.
 *
 * Search parameters (R4 AuditEvent SearchParameters):
 * - `date` (`AuditEvent.recorded`): eq, ge, gt, le, lt, sa, eb; AND by repetition.
 * - `agent` (reference; the agent is the OAuth client, which is not a FHIR resource): the client id as
 *   a plain value, or `agent:identifier=[{issuer}|]{client id}` matching `agent.who.identifier`.
 * - `patient` (reference): `Patient/{id}`, `{id}` or an absolute URL of this base.
 * - `entity` (reference): `Patient/{id}`; `entity:identifier=[system|]{hash}` finds a launch by the
 *   SHA-256 of its id.
 * - `outcome` (token, http://hl7.org/fhir/audit-event-outcome): `0` success; failures are recorded
 *   as `4` (minor failure: the request was refused, the server is fine), so `8` and `12` match none.
 * - `_id`, `_count` (≤ 1000, default 50) with keyset paging links (`_cursor`).
 */
import { sandboxUrls } from '../config/urls.js';
import { badRequest, FhirError, forbidden, notFound } from '../errors/errors.js';
import type { AccessPolicy } from './access/policy.js';
import type { AuditEventSource, AuditSourceQuery, AuditSourceRecord } from './audit-source.js';
import { parseDatePred, parseToken, splitEscaped } from './search/values.js';

export const AUDIT_TYPE = 'AuditEvent';
/** Local code system of the SMART launch audit subtypes. */
export const LAUNCH_EVENT_SYSTEM = 'urn:smart-sandbox:launch-event';
/** Identifier system of a launch, identified by the SHA-256 of its id (the id itself is a bearer secret). */
export const LAUNCH_HASH_SYSTEM = 'urn:smart-sandbox:launch-id-sha256';
const OUTCOME_SYSTEM = 'http://hl7.org/fhir/audit-event-outcome';
const ID_RE = /^launch-([1-9][0-9]{0,15})$/;
const DEFAULT_COUNT = 50;
const MAX_COUNT = 1000;

/** The interaction names this endpoint supports, and its search parameters, for the CapabilityStatement. */
export const AUDIT_SEARCH_PARAMS: { name: string; type: string; documentation: string }[] = [
  { name: '_id', type: 'token', documentation: 'launch-{sequence}' },
  { name: 'date', type: 'date', documentation: 'AuditEvent.recorded; prefixes eq, ge, gt, le, lt, sa, eb' },
  { name: 'agent', type: 'reference', documentation: 'The OAuth client id (agent.who.identifier); also agent:identifier=[issuer|]client-id' },
  { name: 'patient', type: 'reference', documentation: 'The launch context patient (entity.what)' },
  { name: 'entity', type: 'reference', documentation: 'Patient/{id}; entity:identifier=[system|]sha256 finds a launch by the hash of its id' },
  { name: 'outcome', type: 'token', documentation: '0 success, 4 failure (8 and 12 are never recorded)' },
];

const SUBTYPES: Record<AuditSourceRecord['action'], [string, 'C' | 'D' | 'E']> = {
  register: ['Launch context registered', 'C'],
  revoke: ['Launch context revoked', 'D'],
  authorize: ['Launch used at the authorization endpoint', 'E'],
  token: ['Launch used at the token endpoint', 'E'],
};

function httpError(status: number, code: string, msg: string): FhirError {
  return new FhirError(status, [{ severity: 'error', code, diagnostics: msg }]);
}

/** AuditEvent is never written through the FHIR API (nor loaded into the store): 405. */
export function auditWriteRefused(): FhirError {
  return httpError(405, 'not-supported', 'AuditEvent is the read-only launch audit trail of this server; it cannot be created, updated or deleted');
}

/** One audit record as an R4 AuditEvent. */
export function toAuditEvent(r: AuditSourceRecord, sandbox: { id: string }, publicUrl: string): Record<string, unknown> {
  const recorded = new Date(r.recordedAt).toISOString();
  const [display, action] = SUBTYPES[r.action] ?? [r.action, 'E'];
  // R4 AuditEvent requires at least one agent with `requestor`: the calling client, or the admin.
  const agent: Record<string, unknown>[] = [
    {
      type: { coding: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110150', display: 'Application' }] },
      who: r.clientId ? { identifier: { system: sandboxUrls(publicUrl, sandbox.id).issuer, value: r.clientId } } : { display: 'unidentified caller' },
      requestor: true,
    },
  ];
  if (r.username) agent.push({ who: { display: r.username }, name: r.username, requestor: false });
  const entity: Record<string, unknown>[] = [];
  if (r.patient) {
    entity.push({
      what: { reference: `Patient/${r.patient}` },
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '1', display: 'Person' },
      role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1', display: 'Patient' },
    });
  }
  if (r.launchHash) {
    entity.push({
      what: { identifier: { system: LAUNCH_HASH_SYSTEM, value: r.launchHash } },
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' },
      description: 'SMART launch context, identified by the SHA-256 of its launch id',
    });
  }
  return {
    resourceType: AUDIT_TYPE,
    id: `launch-${r.seq}`,
    meta: { versionId: '1', lastUpdated: recorded },
    type: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110100', display: 'Application Activity' },
    subtype: [{ system: LAUNCH_EVENT_SYSTEM, code: r.action, display }],
    action,
    recorded,
    outcome: r.outcome === 'success' ? '0' : '4',
    ...(r.detail ? { outcomeDesc: r.detail } : {}),
    agent,
    source: {
      site: sandbox.id,
      observer: { display: 'smart-sandbox' },
      type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }],
    },
    ...(entity.length ? { entity } : {}),
  };
}

export interface AuditRequest {
  source: AuditEventSource | undefined;
  sandbox: { key: number; id: string };
  publicUrl: string;
  /** FHIR base of this request, for fullUrl and links. */
  baseUrl: string;
  base: 'data' | 'open';
  policy: AccessPolicy;
  method: string;
  /** Path under the base, starting with `AuditEvent`. */
  path: string[];
  params: [string, string][];
  strict: boolean;
}

/** A single value (no OR list) of `name`. */
function single(name: string, v: string): string {
  const parts = splitEscaped(v, ',');
  if (parts.length !== 1) throw badRequest(`${name}: several values (OR) are not supported on AuditEvent`);
  return parts[0].replace(/\\([,|$\\])/g, '$1');
}

/** A patient reference value (`Patient/x`, `x`, or an absolute URL of this base); undefined when it names another type. */
function patientId(name: string, v: string, baseUrl: string, bareIdIsPatient: boolean): string | undefined {
  let s = single(name, v);
  if (s.startsWith(`${baseUrl}/`)) s = s.slice(baseUrl.length + 1);
  const m = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(s);
  if (m) return m[1] === 'Patient' ? m[2] : undefined;
  if (bareIdIsPatient && /^[A-Za-z0-9\-.]{1,64}$/.test(s)) return s;
  throw badRequest(`${name}: "${v}" is not a Patient reference`);
}

interface Parsed {
  q: AuditSourceQuery;
  ids?: number[];
  none: boolean;
  count: number;
  unknown: string[];
  echo: [string, string][];
}

function parse(params: [string, string][], req: AuditRequest): Parsed {
  const out: Parsed = { q: {}, none: false, count: DEFAULT_COUNT, unknown: [], echo: [] };
  const issuer = sandboxUrls(req.publicUrl, req.sandbox.id).issuer;
  /** AND of equality filters: a second different value matches nothing. */
  const setEq = (key: 'clientId' | 'patient' | 'launchHash' | 'outcome', v: string | undefined) => {
    if (v === undefined) out.none = true;
    else if (out.q[key] !== undefined && out.q[key] !== v) out.none = true;
    else (out.q as Record<string, string>)[key] = v;
  };
  for (const [name, value] of params) {
    const [code, modifier] = name.split(':', 2) as [string, string | undefined];
    let echo = true;
    switch (code) {
      case '_count':
        if (!/^\d+$/.test(value)) throw badRequest(`_count must be a non-negative integer, got "${value}"`);
        out.count = Math.min(Number(value), MAX_COUNT);
        break;
      case '_cursor':
        if (!/^\d+$/.test(value)) throw badRequest('_cursor must be a paging cursor given by a next link');
        out.q.beforeSeq = Number(value);
        echo = false; // paging links set their own cursor
        break;
      case '_id': {
        if (modifier) throw badRequest(`modifier :${modifier} is not supported on _id`);
        const ids = splitEscaped(value, ',').map((s) => ID_RE.exec(s)?.[1]).filter((s): s is string => s !== undefined).map(Number);
        out.ids = out.ids ? out.ids.filter((i) => ids.includes(i)) : ids;
        break;
      }
      case 'date': {
        if (modifier) throw badRequest(`modifier :${modifier} is not supported on date`);
        const p = parseDatePred(name, single(name, value));
        const since = (v: number) => (out.q.since = Math.max(out.q.since ?? v, v));
        const until = (v: number) => (out.q.until = Math.min(out.q.until ?? v, v));
        // `recorded` is an instant: R4 §3.1.1.4.1 ranges reduce to bounds on it; until is exclusive.
        if (p.op === 'eq') {
          since(p.lo);
          until(p.hi + 1);
        } else if (p.op === 'ge') since(p.lo);
        else if (p.op === 'gt' || p.op === 'sa') since(p.hi + 1);
        else if (p.op === 'le') until(p.hi + 1);
        else if (p.op === 'lt' || p.op === 'eb') until(p.lo);
        else throw badRequest(`date: prefix ${p.op} is not supported on AuditEvent`);
        break;
      }
      case 'agent':
        if (modifier === 'identifier') {
          const t = parseToken(single(name, value));
          if (t.code === undefined) throw badRequest('agent:identifier needs a client id value');
          setEq('clientId', t.system === undefined || t.system === issuer ? t.code : undefined);
        } else if (modifier === undefined) {
          setEq('clientId', single(name, value));
        } else {
          throw badRequest(`modifier :${modifier} is not supported on agent (use agent or agent:identifier with the client id)`);
        }
        break;
      case 'patient':
        if (modifier && modifier !== 'Patient') throw badRequest(`modifier :${modifier} is not supported on patient`);
        setEq('patient', patientId(name, value, req.baseUrl, true));
        break;
      case 'entity':
        if (modifier === 'identifier') {
          const t = parseToken(single(name, value));
          if (t.code === undefined) throw badRequest('entity:identifier needs a value');
          setEq('launchHash', t.system === undefined || t.system === LAUNCH_HASH_SYSTEM ? t.code : undefined);
        } else if (modifier === undefined || modifier === 'Patient') {
          setEq('patient', patientId(name, value, req.baseUrl, modifier === 'Patient'));
        } else {
          throw badRequest(`modifier :${modifier} is not supported on entity`);
        }
        break;
      case 'outcome': {
        if (modifier) throw badRequest(`modifier :${modifier} is not supported on outcome`);
        const wanted = new Set<string>();
        for (const raw of splitEscaped(value, ',')) {
          const t = parseToken(raw);
          if (t.code === undefined || (t.system !== undefined && t.system !== OUTCOME_SYSTEM)) continue;
          if (!['0', '4', '8', '12'].includes(t.code)) throw badRequest(`outcome: ${t.code} is not an R4 AuditEvent outcome code (0, 4, 8, 12)`);
          if (t.code === '0') wanted.add('success');
          if (t.code === '4') wanted.add('failure');
        }
        if (wanted.size === 0) out.none = true;
        else if (wanted.size === 1) setEq('outcome', [...wanted][0]);
        break;
      }
      case '_format':
      case '_pretty':
        echo = false;
        break;
      default:
        out.unknown.push(`${name}=${value}`);
        echo = false;
    }
    if (echo) out.echo.push([name, value]);
  }
  if (out.unknown.length && req.strict) {
    throw badRequest(`unknown or unsupported AuditEvent search parameter(s): ${out.unknown.map((u) => u.split('=')[0]).join(', ')}`);
  }
  return out;
}

/** The response body (JSON text) of a request under `{base}/AuditEvent`. */
export async function auditEventResponse(req: AuditRequest): Promise<string> {
  const { path, method } = req;
  const isSearch = (method === 'GET' || method === 'HEAD') && path.length === 1;
  const isPostSearch = method === 'POST' && path.length === 2 && path[1] === '_search';
  const isRead = (method === 'GET' || method === 'HEAD') && path.length === 2 && !path[1].startsWith('_');
  if (!isSearch && !isPostSearch && !isRead) {
    if (method === 'GET' || method === 'HEAD') throw httpError(405, 'not-supported', 'AuditEvent supports read and search only (no history is kept)');
    throw auditWriteRefused();
  }
  if (req.base !== 'data') throw forbidden('the audit trail is served on the SMART-secured /data base only, to user/ or system/ scopes');
  if (!req.source) throw httpError(404, 'not-supported', 'this server does not expose an audit trail');
  // Never patient-confined: the policy refuses patient/ grants on AuditEvent; query-restricted grants
  // cannot be evaluated on audit records, so they grant nothing here (fail closed).
  const c = req.policy.constraint(AUDIT_TYPE, isRead ? 'r' : 's');
  if (c !== 'all') throw forbidden('AuditEvent needs a user/ or system/ scope on AuditEvent without search restrictions');

  if (isRead) {
    const m = ID_RE.exec(path[1]);
    const rec = m ? await req.source.get(req.sandbox.key, Number(m[1])) : undefined;
    if (!rec) throw notFound('resource not found');
    return JSON.stringify(toAuditEvent(rec, req.sandbox, req.publicUrl));
  }

  const p = parse(req.params, req);
  let rows: AuditSourceRecord[] = [];
  let hasMore = false;
  if (!p.none && p.count > 0) {
    if (p.ids) {
      const seqs = [...new Set(p.ids)].sort((a, b) => b - a).filter((s) => p.q.beforeSeq === undefined || s < p.q.beforeSeq);
      const found: (AuditSourceRecord | undefined)[] = [];
      for (const s of seqs) found.push(await req.source.get(req.sandbox.key, s));
      rows = found.filter((r): r is AuditSourceRecord => r !== undefined && matches(r, p.q));
    } else {
      rows = await req.source.query(req.sandbox.key, { ...p.q, limit: p.count + 1 });
    }
    hasMore = rows.length > p.count;
    rows = rows.slice(0, p.count);
  }
  const link = (cursor?: number) => {
    const q = new URLSearchParams(p.echo.filter(([k]) => k !== '_count'));
    q.set('_count', String(p.count));
    if (cursor !== undefined) q.set('_cursor', String(cursor));
    return `${req.baseUrl}/${AUDIT_TYPE}?${q.toString()}`;
  };
  const links = [
    { relation: 'self', url: link(p.q.beforeSeq) },
    { relation: 'first', url: link() },
  ];
  if (hasMore) links.push({ relation: 'next', url: link(rows[rows.length - 1].seq) });
  const entry: Record<string, unknown>[] = rows.map((r) => ({
    fullUrl: `${req.baseUrl}/${AUDIT_TYPE}/launch-${r.seq}`,
    resource: toAuditEvent(r, req.sandbox, req.publicUrl),
    search: { mode: 'match' },
  }));
  if (p.unknown.length) {
    entry.push({
      resource: {
        resourceType: 'OperationOutcome',
        issue: p.unknown.map((u) => ({ severity: 'warning', code: 'not-supported', diagnostics: `search parameter ignored (unknown or unsupported): ${u}` })),
      },
      search: { mode: 'outcome' },
    });
  }
  const bundle: Record<string, unknown> = { resourceType: 'Bundle', type: 'searchset' };
  if (!hasMore && p.q.beforeSeq === undefined && p.count > 0) bundle.total = rows.length;
  bundle.link = links;
  if (entry.length) bundle.entry = entry;
  return JSON.stringify(bundle);
}

/** The query's filters applied to one record (the `_id` path reads records one by one). */
function matches(r: AuditSourceRecord, q: AuditSourceQuery): boolean {
  return (
    (q.since === undefined || r.recordedAt >= q.since) &&
    (q.until === undefined || r.recordedAt < q.until) &&
    (q.clientId === undefined || r.clientId === q.clientId) &&
    (q.patient === undefined || r.patient === q.patient) &&
    (q.outcome === undefined || r.outcome === q.outcome) &&
    (q.launchHash === undefined || r.launchHash === q.launchHash)
  );
}
