/**
 * Kick-off parameters of `$export` (Bulk Data Access IG 2.0 §"Query Parameters"), from a GET query or
 * a POST Parameters body, validated into an `ExportRequest`. Syntax only: whether the token may export
 * the named types, and whether each `_typeFilter` is a valid search, is decided by the repository at
 * kick-off (service.ts), exactly as for a search.
 */
import { AUDIT_TYPE } from '../fhir/audit-events.js';
import { ID_PATTERN, inPatientCompartment, isResourceType } from '../fhir/definitions.js';
import { dateRange } from '../fhir/search/values.js';
import { badRequest, notSupported } from '../errors/errors.js';

export type ExportLevel = 'system' | 'patient' | 'group';

/** What a job exports; stored as JSON in the job row. */
export interface ExportRequest {
  /** The sandbox id of the kick-off (the job's tenant key names the generation). */
  sandboxId: string;
  level: ExportLevel;
  groupId?: string;
  /** `_since`, epoch ms: only resources last updated after it. */
  since?: number;
  /** `_type`: only these types (absent: every type the token may search). */
  types?: string[];
  /** `_typeFilter`: per type, search queries OR-ed together (each `name=value&…`). */
  typeFilters: Record<string, string[]>;
  /** `_elements`: top-level elements to keep (plus the mandatory ones; SUBSETTED tag). */
  elements?: string[];
  /** `patient` (POST): only these patients of the Patient/Group export. */
  patients?: string[];
  /** Warnings for parameters ignored under `Prefer: handling=lenient`, reported in the error file. */
  warnings: string[];
}

/** §"_outputFormat": the NDJSON spellings the IG names; the default is application/fhir+ndjson. */
export const OUTPUT_FORMATS = new Set(['application/fhir+ndjson', 'application/ndjson', 'ndjson']);

/** Result parameters make no sense inside `_typeFilter` (the export decides paging and shape). */
const FILTER_FORBIDDEN = new Set(['_count', '_offset', '_sort', '_include', '_revinclude', '_summary', '_elements', '_total', '_format', '_pretty', '_type', '_contained', '_containedType']);

const ELEMENT = /^([A-Z][A-Za-z]+\.)?[a-z][A-Za-z0-9]*(\[x\])?$/;

/** The kick-off input as (name, value) pairs; `patient` references come from POST only. */
export interface KickoffInput {
  pairs: [string, string][];
  patientRefs: string[];
}

/** GET: the query string. `patient` is a POST-only parameter (IG 2.0 §"Query Parameters"). */
export function inputFromQuery(query: URLSearchParams): KickoffInput {
  const pairs = [...query];
  if (pairs.some(([k]) => k === 'patient')) throw badRequest('the patient parameter is only supported with POST (a Parameters body)');
  return { pairs, patientRefs: [] };
}

/** POST: a FHIR Parameters resource (IG 2.0 §"Bulk Data Kick-off Request": POST with a Parameters body). */
export function inputFromParameters(body: unknown): KickoffInput {
  if (body === undefined || body === null || body === '') return { pairs: [], patientRefs: [] };
  if (typeof body !== 'object' || Array.isArray(body) || (body as { resourceType?: unknown }).resourceType !== 'Parameters') {
    throw badRequest('a POST kick-off takes a FHIR Parameters resource');
  }
  const params = (body as { parameter?: unknown }).parameter ?? [];
  if (!Array.isArray(params)) throw badRequest('Parameters.parameter must be an array');
  const pairs: [string, string][] = [];
  const patientRefs: string[] = [];
  for (const p of params) {
    if (!p || typeof p !== 'object' || typeof p.name !== 'string') throw badRequest('every Parameters.parameter needs a name');
    const valueKeys = Object.keys(p).filter((k) => k.startsWith('value'));
    if (valueKeys.length !== 1) throw badRequest(`parameter ${p.name} needs exactly one value[x]`);
    const v = p[valueKeys[0]];
    if (p.name === 'patient') {
      const ref = valueKeys[0] === 'valueReference' && v && typeof v.reference === 'string' ? v.reference : undefined;
      if (!ref) throw badRequest('patient takes a valueReference to a Patient');
      patientRefs.push(ref);
      continue;
    }
    if (typeof v !== 'string' && typeof v !== 'boolean' && typeof v !== 'number') throw badRequest(`parameter ${p.name} needs a primitive value`);
    pairs.push([p.name, String(v)]);
  }
  return { pairs, patientRefs };
}

function typeList(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The id of a `Patient/{id}` reference (relative, or absolute on this FHIR base). */
function patientId(ref: string, baseUrl: string): string {
  const rel = ref.startsWith(`${baseUrl}/`) ? ref.slice(baseUrl.length + 1) : ref;
  const m = /^Patient\/([^/]+)$/.exec(rel);
  if (!m || !ID_PATTERN.test(m[1])) throw badRequest(`patient must reference a Patient of this server, got ${JSON.stringify(ref)}`);
  return m[1];
}

/**
 * Validates the kick-off parameters. `lenient` (`Prefer: handling=lenient`, IG 2.0 §"Query Parameters")
 * turns unsupported parameters into warnings; otherwise they are a 400.
 */
export function parseKickoff(level: ExportLevel, input: KickoffInput, opts: { lenient: boolean; baseUrl: string; sandboxId: string; groupId?: string }): ExportRequest {
  const req: ExportRequest = { sandboxId: opts.sandboxId, level, typeFilters: {}, warnings: [] };
  if (opts.groupId !== undefined) req.groupId = opts.groupId;
  const unsupported = (msg: string) => {
    if (!opts.lenient) throw notSupported(msg);
    req.warnings.push(`${msg}; ignored (Prefer: handling=lenient)`);
  };
  const filters: [string, string][] = [];
  for (const [name, value] of input.pairs) {
    switch (name) {
      case '_outputFormat':
        if (!OUTPUT_FORMATS.has(value.trim())) throw notSupported(`_outputFormat ${value} is not supported; use application/fhir+ndjson`);
        break;
      case '_since': {
        // An instant (IG 2.0): a full date-time with time zone; partial dates are refused.
        const r = /T\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.test(value) ? dateRange(value) : undefined;
        if (!r) throw badRequest(`_since must be a FHIR instant (e.g. 2024-01-01T00:00:00Z), got ${JSON.stringify(value)}`);
        req.since = r[0];
        break;
      }
      case '_type':
        for (const t of typeList(value)) {
          if (!isResourceType(t)) throw badRequest(`_type: unknown resource type ${t}`);
          if (t === AUDIT_TYPE) throw notSupported('_type: AuditEvent (the launch audit trail) is not available through $export; search it instead');
          if (level !== 'system' && !inPatientCompartment(t)) throw badRequest(`_type: ${t} is outside the Patient compartment and cannot be exported at the ${level} level`);
          req.types ??= [];
          if (!req.types.includes(t)) req.types.push(t);
        }
        break;
      case '_typeFilter': {
        const q = value.indexOf('?');
        const type = q > 0 ? value.slice(0, q) : '';
        if (!isResourceType(type) || q === value.length - 1) throw badRequest(`_typeFilter must be Type?query, got ${JSON.stringify(value)}`);
        filters.push([type, value.slice(q + 1)]);
        break;
      }
      case '_elements':
        for (const e of typeList(value)) {
          if (!ELEMENT.test(e)) throw badRequest(`_elements: ${JSON.stringify(e)} is not an element name`);
          req.elements ??= [];
          req.elements.push(e);
        }
        break;
      case 'includeAssociatedData':
        // No associated data (Provenance, …) is generated by this server: nothing real to include.
        unsupported(`includeAssociatedData ${value} is not supported by this server`);
        break;
      default:
        unsupported(`unsupported $export parameter ${name}`);
    }
  }
  for (const [type, query] of filters) {
    if (req.types && !req.types.includes(type)) throw badRequest(`_typeFilter on ${type}, which is not in _type`);
    if (level !== 'system' && !inPatientCompartment(type)) throw badRequest(`_typeFilter: ${type} is outside the Patient compartment`);
    for (const [k] of new URLSearchParams(query)) {
      if (FILTER_FORBIDDEN.has(k.split(':')[0])) throw badRequest(`_typeFilter may not use the result parameter ${k}`);
    }
    (req.typeFilters[type] ??= []).push(query);
  }
  if (input.patientRefs.length) {
    if (level === 'system') throw badRequest('the patient parameter applies to Patient and Group exports only');
    req.patients = [...new Set(input.patientRefs.map((r) => patientId(r, opts.baseUrl)))];
  }
  return req;
}
