/**
 * Search request parsing (R4 §3.1.1): query parameters → typed conditions (cond.ts) plus the
 * result parameters. Unknown parameters are collected for the caller (ignored and reported, or a 400
 * under `Prefer: handling=strict`); bad values are a 400 naming the parameter.
 */
import { countParam, LIMITS, limitExceeded, offsetParam } from '../../config/limits.js';
import { badRequest, notSupported } from '../../errors/errors.js';
import { isResourceType } from '../definitions.js';
import { type ParamDef, paramOf } from '../registry.js';
import { and, type CompositeVal, type Cond, FALSE, or, type RefVal, TRUE } from './cond.js';
import { orValues, parseDatePred, parseNumPred, parseQuantityPred, parseToken, splitEscaped, unescapeValue } from './values.js';

export interface ParseContext {
  /** The persisted pid of (type, code); 0 (matching nothing) when never indexed. */
  pid(type: string, code: string): number;
  /** The access condition for searching `type` (chains and _has must stay confined too). */
  access(type: string): Cond;
  /** The FHIR base URL, to relativise absolute references to this server. */
  baseUrl: string;
}

export class UnknownParam extends Error {}

export interface IncludeSpec {
  srcType: string;
  /** Reference parameter code, or `*`. */
  code: string;
  targetType?: string;
  iterate: boolean;
}

export interface SortSpec {
  code: string;
  desc: boolean;
}

export type Summary = 'true' | 'text' | 'data' | 'count' | 'false';

export interface SearchRequest {
  types: string[];
  /** One condition per type (parameters are compiled per type). */
  conds: Map<string, Cond>;
  count: number;
  offset: number;
  sort: SortSpec[];
  total?: 'none' | 'estimate' | 'accurate';
  summary?: Summary;
  elements?: string[];
  include: IncludeSpec[];
  revinclude: IncludeSpec[];
  /** Parameters that were not understood (name=value). */
  unknown: string[];
  /** The parameters as understood, for paging links. */
  echo: [string, string][];
}

export const DEFAULT_COUNT = 50;
export const MAX_COUNT = LIMITS.count;

const RESULT_PARAMS = new Set(['_count', '_offset', '_sort', '_total', '_summary', '_elements', '_include', '_revinclude', '_format', '_pretty', '_type']);
const MISSING_TABLE: Record<string, string> = {
  token: 'ix_token',
  string: 'ix_string',
  date: 'ix_date',
  number: 'ix_number',
  quantity: 'ix_quantity',
  uri: 'ix_uri',
  reference: 'ix_ref',
  composite: 'ix_composite',
};

function bool(param: string, v: string): boolean {
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw badRequest(`search parameter ${param}:missing takes true or false, not "${v}"`);
}

function refValue(ctx: ParseContext, raw: string, typeModifier?: string): RefVal {
  let v = unescapeValue(raw);
  if (v.startsWith(`${ctx.baseUrl}/`)) v = v.slice(ctx.baseUrl.length + 1);
  v = v.replace(/\/_history\/[^/]+$/, '');
  const m = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(v);
  if (m) return { type: m[1], id: m[2] };
  if (/^[A-Za-z0-9\-.]{1,64}$/.test(v)) return typeModifier ? { type: typeModifier, id: v } : { id: v };
  return { url: v };
}

function compositeValue(param: string, def: ParamDef, raw: string): CompositeVal {
  const parts = splitEscaped(raw, '$');
  if (parts.length !== 2) throw badRequest(`composite search parameter ${param} takes two values joined by $, got "${raw}"`);
  const [c1, c2] = def.components!;
  if (c1.type !== 'token') throw notSupported(`composite search parameter ${param} is not supported`);
  const first = parseToken(parts[0]);
  switch (c2.type) {
    case 'quantity':
      return { c1: first, c2: { kind: 'quantity', pred: parseQuantityPred(param, parts[1]) } };
    case 'number':
      return { c1: first, c2: { kind: 'number', pred: parseNumPred(param, parts[1]) } };
    case 'token':
      return { c1: first, c2: { kind: 'token', tok: parseToken(parts[1]) } };
    case 'date':
      return { c1: first, c2: { kind: 'date', pred: parseDatePred(param, parts[1]) } };
    case 'string':
      return { c1: first, c2: { kind: 'string', value: unescapeValue(parts[1]) } };
    default:
      throw notSupported(`composite search parameter ${param} is not supported`);
  }
}

/** The condition of one parameter occurrence `name=value` on `type`. */
export function paramCond(ctx: ParseContext, type: string, name: string, value: string): Cond {
  if (name.startsWith('_has:')) return hasCond(ctx, type, name, value);
  const dot = name.indexOf('.');
  if (dot > 0) return chainCond(ctx, type, name.slice(0, dot), name.slice(dot + 1), value);
  const [code, modifier] = name.split(':', 2) as [string, string | undefined];
  if (name.split(':').length > 2) throw new UnknownParam(name);
  const values = orValues(value);
  if (values.length > LIMITS.orValues) throw limitExceeded('orValues', LIMITS.orValues, `${values.length} values in the OR-list of ${name}`);

  if (code === '_id') {
    if (modifier === 'missing') return bool(name, value) ? FALSE : TRUE;
    if (modifier && modifier !== 'not') throw badRequest(`modifier :${modifier} is not allowed on _id`);
    const c: Cond = { k: 'id', ids: values.map(unescapeValue) };
    return modifier === 'not' ? { k: 'not', item: c } : c;
  }
  if (code === '_lastUpdated') {
    if (modifier) throw badRequest(`modifier :${modifier} is not allowed on _lastUpdated`);
    return { k: 'lastUpdated', preds: values.map((v) => parseDatePred(name, v)) };
  }
  const def = paramOf(type, code);
  if (!def || def.type === 'special') throw new UnknownParam(name);
  const pid = ctx.pid(type, code);
  if (modifier === 'missing') {
    return { k: 'missing', table: MISSING_TABLE[def.type], pid, missing: bool(name, value) };
  }
  switch (def.type) {
    case 'token': {
      if (modifier === 'text') return { k: 'tokenText', pid, texts: values.map((v) => unescapeValue(v)) };
      if (modifier && modifier !== 'not') throw notSupported(`modifier :${modifier} is not supported on token parameter ${code}`);
      const c: Cond = { k: 'token', pid, alts: values.map(parseToken) };
      return modifier === 'not' ? { k: 'not', item: c } : c;
    }
    case 'string': {
      if (modifier && modifier !== 'exact' && modifier !== 'contains') {
        throw notSupported(`modifier :${modifier} is not supported on string parameter ${code}`);
      }
      return { k: 'string', pid, mode: (modifier as 'exact' | 'contains' | undefined) ?? 'prefix', values: values.map(unescapeValue) };
    }
    case 'date':
      if (modifier) throw badRequest(`modifier :${modifier} is not allowed on date parameter ${code}`);
      return { k: 'date', pid, preds: values.map((v) => parseDatePred(name, v)) };
    case 'number':
      if (modifier) throw badRequest(`modifier :${modifier} is not allowed on number parameter ${code}`);
      return { k: 'number', pid, preds: values.map((v) => parseNumPred(name, v)) };
    case 'quantity':
      if (modifier) throw badRequest(`modifier :${modifier} is not allowed on quantity parameter ${code}`);
      return { k: 'quantity', pid, preds: values.map((v) => parseQuantityPred(name, v)) };
    case 'uri': {
      if (modifier && modifier !== 'below' && modifier !== 'above') throw notSupported(`modifier :${modifier} is not supported on uri parameter ${code}`);
      // R4 §3.1.1.5.9: :above/:below apply to URLs, not to URNs (OIDs, UUIDs) which have no hierarchy.
      if (modifier && values.some((v) => /^urn:/i.test(v))) throw badRequest(`:${modifier} on ${code} applies to URLs, not URNs`);
      return { k: 'uri', pid, mode: (modifier as 'below' | 'above' | undefined) ?? 'eq', values: values.map(unescapeValue) };
    }
    case 'reference': {
      if (modifier === 'identifier') return { k: 'refIdentifier', pid, alts: values.map(parseToken) };
      if (modifier && !isResourceType(modifier)) throw notSupported(`modifier :${modifier} is not supported on reference parameter ${code}`);
      if (modifier && def.targets.length && !def.targets.includes(modifier)) {
        throw badRequest(`${modifier} is not a target type of reference parameter ${code}`);
      }
      return { k: 'ref', pid, alts: values.map((v) => refValue(ctx, v, modifier)) };
    }
    case 'composite':
      if (modifier) throw badRequest(`modifier :${modifier} is not allowed on composite parameter ${code}`);
      return { k: 'composite', pid, alts: values.map((v) => compositeValue(name, def, v)) };
    default:
      throw new UnknownParam(name);
  }
}

function chainCond(ctx: ParseContext, type: string, left: string, rest: string, value: string): Cond {
  const [code, typeModifier] = left.split(':', 2) as [string, string | undefined];
  const def = paramOf(type, code);
  if (def?.type !== 'reference') throw new UnknownParam(`${left}.${rest}`);
  if (typeModifier && !isResourceType(typeModifier)) throw badRequest(`unknown resource type ${typeModifier} in chain ${left}.${rest}`);
  const targets = typeModifier ? [typeModifier] : def.targets;
  const pid = ctx.pid(type, code);
  const branches: Cond[] = [];
  for (const t of targets) {
    let inner: Cond;
    try {
      inner = paramCond(ctx, t, rest, value);
    } catch (e) {
      if (e instanceof UnknownParam) continue;
      throw e;
    }
    branches.push({ k: 'chain', pid, targetType: t, inner: and(inner, ctx.access(t)) });
  }
  if (branches.length === 0) throw new UnknownParam(`${left}.${rest}`);
  return or(...branches);
}

function hasCond(ctx: ParseContext, type: string, name: string, value: string): Cond {
  const m = /^_has:([A-Z][A-Za-z]+):([a-z][A-Za-z0-9-]*):(.+)$/.exec(name);
  if (!m) throw badRequest(`malformed _has parameter ${name}; expected _has:Type:reference:parameter`);
  const [, src, ref, rest] = m;
  if (!isResourceType(src)) throw badRequest(`unknown resource type ${src} in ${name}`);
  const def = paramOf(src, ref);
  if (def?.type !== 'reference') throw badRequest(`${ref} is not a reference parameter of ${src} in ${name}`);
  if (def.targets.length && !def.targets.includes(type)) throw badRequest(`${src}.${ref} cannot refer to ${type} in ${name}`);
  const inner = paramCond(ctx, src, rest, value);
  return { k: 'has', pid: ctx.pid(src, ref), srcType: src, inner: and(inner, ctx.access(src)) };
}

/**
 * Refuses a parameter name chaining or nesting `_has` deeper than the limits, before any of it is
 * parsed: each level multiplies SQL joins and recursion.
 */
function checkNesting(name: string): void {
  let hops = 0;
  let has = 0;
  for (let i = name.indexOf('.'); i >= 0; i = name.indexOf('.', i + 1)) hops++;
  for (let i = name.indexOf('_has:'); i >= 0; i = name.indexOf('_has:', i + 1)) has++;
  if (hops > LIMITS.chainDepth) throw limitExceeded('chainDepth', LIMITS.chainDepth, `a chain of ${hops} hops`);
  if (has > LIMITS.hasDepth) throw limitExceeded('hasDepth', LIMITS.hasDepth, `_has nested ${has} levels`);
}

function includeSpec(name: string, v: string, iterate: boolean): IncludeSpec {
  // `*`: every reference parameter of every type (R4 §3.1.1.5.4 allows the wildcard for both).
  if (v === '*') return { srcType: '*', code: '*', iterate };
  const parts = v.split(':');
  if (parts.length < 2 || parts.length > 3 || !isResourceType(parts[0])) {
    throw badRequest(`${name} must be Type:parameter[:targetType], got "${v}"`);
  }
  const [srcType, code, targetType] = parts;
  if (code !== '*') {
    const def = paramOf(srcType, code);
    if (def?.type !== 'reference') throw badRequest(`${name}: ${code} is not a reference parameter of ${srcType}`);
  }
  if (targetType !== undefined && !isResourceType(targetType)) throw badRequest(`${name}: unknown target type ${targetType}`);
  return { srcType, code, iterate, ...(targetType ? { targetType } : {}) };
}

const SORTABLE = new Set(['date', 'string', 'token', 'number', 'quantity', 'uri']);

/** Parses a whole search request over `types` (one type, or several for a system-level search). */
export function parseSearch(ctx: ParseContext, types: string[], params: [string, string][]): SearchRequest {
  const req: SearchRequest = {
    types,
    conds: new Map(types.map((t) => [t, TRUE])),
    count: DEFAULT_COUNT,
    offset: 0,
    sort: [],
    include: [],
    revinclude: [],
    unknown: [],
    echo: [],
  };
  for (const [name, value] of params) {
    const base = name.split(':')[0];
    if (RESULT_PARAMS.has(base)) {
      switch (base) {
        case '_count':
          req.count = countParam(name, value);
          break;
        case '_offset':
          req.offset = offsetParam(name, value);
          continue; // paging links set their own _offset
        case '_sort': {
          const keys = value.split(',');
          if (req.sort.length + keys.length > LIMITS.sortKeys) throw limitExceeded('sortKeys', LIMITS.sortKeys, `${req.sort.length + keys.length} _sort keys`);
          for (const s of keys) {
            const desc = s.startsWith('-');
            const code = desc ? s.slice(1) : s;
            if (code !== '_id' && code !== '_lastUpdated') {
              for (const t of types) {
                const def = paramOf(t, code);
                if (!def || !SORTABLE.has(def.type)) throw badRequest(`_sort: ${code} is not a sortable search parameter of ${t}`);
              }
            }
            req.sort.push({ code, desc });
          }
          break;
        }
        case '_total':
          if (value !== 'none' && value !== 'estimate' && value !== 'accurate') throw badRequest(`_total must be none, estimate or accurate`);
          req.total = value;
          break;
        case '_summary':
          if (!['true', 'text', 'data', 'count', 'false'].includes(value)) throw badRequest(`_summary must be true, text, data, count or false`);
          req.summary = value as Summary;
          break;
        case '_elements':
          req.elements = value
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean);
          break;
        case '_include':
        case '_revinclude': {
          const mod = name.slice(base.length + 1);
          if (mod && mod !== 'iterate' && mod !== 'recurse') throw badRequest(`unknown modifier on ${name}`);
          if (req.include.length + req.revinclude.length >= LIMITS.includes) throw limitExceeded('includes', LIMITS.includes, 'more _include and _revinclude parameters');
          const spec = includeSpec(name, value, mod !== '');
          (base === '_include' ? req.include : req.revinclude).push(spec);
          break;
        }
        case '_type':
          break; // system search: resolved by the caller, kept for paging links
        default:
          continue; // _format, _pretty (negotiated by the HTTP layer)
      }
      req.echo.push([name, value]);
      continue;
    }
    checkNesting(name);
    try {
      for (const t of types) req.conds.set(t, and(req.conds.get(t)!, paramCond(ctx, t, name, value)));
      req.echo.push([name, value]);
    } catch (e) {
      if (e instanceof UnknownParam) req.unknown.push(`${name}=${value}`);
      else throw e;
    }
  }
  if (req.summary === 'count') req.count = 0;
  // `_count=0` behaves like `_summary=count` (R4 §3.1.1.5.5 "_count=0 … return only the total"):
  // the total is counted, no entries (unless `_total=none` asks for no total at all).
  if (req.count === 0 && req.total === undefined) req.total = 'accurate';
  return req;
}
