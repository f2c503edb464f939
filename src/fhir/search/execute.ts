/**
 * Runs a parsed and access-rewritten search: picks the driving table (a patient's compartment when
 * every branch is confined to the same one — docs/storage.md §2, flat latency as data grows — or
 * `resource` otherwise), sorts, pages, counts, then resolves `_include`/`_revinclude` (`:iterate`)
 * through the same access conditions, so included resources are confined exactly like matches.
 */
import type { ResourceStore } from '../store.js';
import { paramOf, paramsOf } from '../registry.js';
import { and, type Cond, TRUE } from './cond.js';
import type { IncludeSpec, SearchRequest } from './parse.js';
import { compile, SqlBuilder } from './sql.js';

export interface Row {
  rid: number;
  rtype: string;
  id: string;
  version: number;
  last_updated: number;
  content: string;
}

export interface SearchOutcome {
  matches: Row[];
  included: Row[];
  total?: number;
  hasMore: boolean;
}

export interface ExecContext {
  store: ResourceStore;
  tenant: number;
  /** The access condition for reading `type` in a search, or undefined when not permitted. */
  access(type: string): Cond | undefined;
  pid(type: string, code: string): number;
}

const COLS = 'r.rid, r.rtype, r.id, r.version, r.last_updated, r.content';
const CHUNK = 400;

/** Splits a top-level compartment restriction off a condition. */
function splitCompartment(c: Cond): [string | undefined, Cond] {
  if (c.k === 'compartment') return [c.patient, TRUE];
  if (c.k === 'and') {
    const i = c.items.findIndex((x) => x.k === 'compartment');
    if (i >= 0) {
      const p = (c.items[i] as { patient: string }).patient;
      return [p, and(...c.items.filter((_, j) => j !== i))];
    }
  }
  return [undefined, c];
}

interface Compiled {
  from: string;
  where: string;
  params: unknown[];
  b: SqlBuilder;
}

function compileWhere(ex: ExecContext, conds: Map<string, Cond>): Compiled {
  const b = new SqlBuilder(ex.tenant);
  const split = [...conds].map(([t, c]) => [t, ...splitCompartment(c)] as const);
  const patient = split[0]?.[1];
  const compartmentFirst = patient !== undefined && split.every(([, p]) => p === patient);
  let from: string;
  let where: string;
  if (compartmentFirst) {
    from = 'compartment c CROSS JOIN resource r ON r.rid = c.rid';
    where = `c.tenant = ${b.p(ex.tenant)} AND c.patient = ${b.p(patient)} AND r.deleted = 0`;
  } else {
    // A selective value leaf drives (its `rid IN (…)` list, in rid order, so ORDER BY rid LIMIT
    // stops early): the unary `+` keeps SQLite from preferring the (tenant, rtype) index, which it
    // does whenever statistics are missing or stale, and which scans every resource of the type.
    const byIndex = conds.size === 1 && drivesByIndex([...conds.values()][0]);
    from = 'resource r';
    where = `${byIndex ? '+' : ''}r.tenant = ${b.p(ex.tenant)} AND r.deleted = 0`;
    if (byIndex) {
      const [t, c] = [...conds][0];
      where += ` AND +r.rtype = ${b.p(t)} AND ${compile(b, c, 'r', false)}`;
      return { from, where, params: [...b.params], b };
    }
  }
  const branches = compartmentFirst
    ? split.map(([t, , rest]) => [t, rest] as const)
    : [...conds].map(([t, c]) => [t, c] as const);
  const parts = branches.map(([t, c]) => `(r.rtype = ${b.p(t)} AND ${compile(b, c, 'r', compartmentFirst)})`);
  where += ` AND ${parts.length === 1 ? parts[0] : `(${parts.join(' OR ')})`}`;
  return { from, where, params: [...b.params], b };
}

/** Leaves that select few rows by an equality on a value index (dates and `:contains` do not). */
function selectiveLeaf(c: Cond): boolean {
  switch (c.k) {
    case 'token':
    case 'refIdentifier':
    case 'ref':
    case 'composite':
    case 'chain':
    case 'compartment':
      return true;
    case 'uri':
      return c.mode !== 'above';
    case 'string':
      return c.mode !== 'contains';
    default:
      return false;
  }
}

/** Drive from a value index: a top-level selective leaf, and no `_id`/`_lastUpdated` (their own indexes). */
function drivesByIndex(c: Cond): boolean {
  const items = c.k === 'and' ? c.items : [c];
  return items.some(selectiveLeaf) && !items.some((i) => i.k === 'id' || i.k === 'lastUpdated');
}

const SORT_TABLE: Record<string, [string, string, string]> = {
  date: ['ix_date', 'MIN(x.lo)', 'MAX(x.hi)'],
  string: ['ix_string', 'MIN(x.norm)', 'MAX(x.norm)'],
  token: ['ix_token', 'MIN(x.code)', 'MAX(x.code)'],
  number: ['ix_number', 'MIN(x.lo)', 'MAX(x.hi)'],
  quantity: ['ix_quantity', 'MIN(x.value)', 'MAX(x.value)'],
  uri: ['ix_uri', 'MIN(x.uri)', 'MAX(x.uri)'],
};

function orderBy(ex: ExecContext, req: SearchRequest, params: unknown[]): string {
  const keys: string[] = [];
  for (const s of req.sort) {
    const dir = s.desc ? 'DESC' : 'ASC';
    if (s.code === '_id') keys.push(`r.id ${dir}`);
    else if (s.code === '_lastUpdated') keys.push(`r.last_updated ${dir}`);
    else {
      const def = paramOf(req.types[0], s.code)!;
      const [table, asc, desc] = SORT_TABLE[def.type];
      const pids = req.types.map((t) => ex.pid(t, s.code));
      params.push(...pids);
      keys.push(`(SELECT ${s.desc ? desc : asc} FROM ${table} x WHERE x.rid = r.rid AND x.pid IN (${pids.map(() => '?').join(',')})) ${dir}`);
    }
  }
  keys.push('r.rid ASC');
  return keys.join(', ');
}

/** The page query of a search (also used by tests to check its plan with EXPLAIN QUERY PLAN). */
export function pageSql(ex: ExecContext, req: SearchRequest, w: Compiled = compileWhere(ex, req.conds)): { sql: string; params: unknown[] } {
  const params = [...w.params];
  const order = orderBy(ex, req, params);
  params.push(req.count + 1, req.offset);
  return { sql: `SELECT ${COLS} FROM ${w.from} WHERE ${w.where} ORDER BY ${order} LIMIT ? OFFSET ?`, params };
}

export async function executeSearch(ex: ExecContext, req: SearchRequest): Promise<SearchOutcome> {
  const w = compileWhere(ex, req.conds);
  let total: number | undefined;
  if (req.total === 'accurate' || req.summary === 'count') {
    total = Number((await ex.store.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${w.from} WHERE ${w.where}`, w.params))[0]?.n ?? 0);
  }
  let matches: Row[] = [];
  let hasMore = false;
  if (req.count > 0) {
    const { sql, params } = pageSql(ex, req, w);
    matches = await ex.store.query<Row>(sql, params);
    hasMore = matches.length > req.count;
    if (hasMore) matches = matches.slice(0, req.count);
  }
  // Without a count query the total is known only from a page that has it all (never from `_count=0`).
  if (total === undefined && req.count > 0 && !hasMore && (matches.length > 0 || req.offset === 0)) total = req.offset + matches.length;
  const included = req.include.length || req.revinclude.length ? await resolveIncludes(ex, req, matches) : [];
  return { matches, included, total, hasMore };
}

function chunks<T>(xs: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += CHUNK) out.push(xs.slice(i, i + CHUNK));
  return out;
}

function refPids(ex: ExecContext, type: string, code: string): number[] {
  if (code !== '*') return [ex.pid(type, code)];
  return [...paramsOf(type).values()].filter((d) => d.type === 'reference').map((d) => ex.pid(type, d.code));
}

/** Fetches `type` resources by id, through the access condition of that type. */
async function fetchByIds(ex: ExecContext, type: string, ids: string[]): Promise<Row[]> {
  const access = ex.access(type);
  if (!access) return [];
  const out: Row[] = [];
  for (const part of chunks(ids)) {
    const b = new SqlBuilder(ex.tenant);
    const head = `r.tenant = ${b.p(ex.tenant)} AND r.rtype = ${b.p(type)} AND r.id IN (${part.map((i) => b.p(i)).join(',')})`;
    const sql = `SELECT ${COLS} FROM resource r WHERE ${head} AND r.deleted = 0 AND ${compile(b, access, 'r', true)}`;
    out.push(...(await ex.store.query<Row>(sql, b.params)));
  }
  return out;
}

async function includeFrom(ex: ExecContext, spec: IncludeSpec, frontier: Row[]): Promise<Row[]> {
  const src = frontier.filter((r) => spec.srcType === '*' || r.rtype === spec.srcType);
  if (src.length === 0) return [];
  const targets = new Map<string, Set<string>>();
  const byType = new Map<string, Row[]>();
  for (const r of src) byType.set(r.rtype, [...(byType.get(r.rtype) ?? []), r]);
  for (const [type, rows] of byType) {
    const pids = refPids(ex, type, spec.code);
    if (pids.length === 0) continue;
    for (const part of chunks(rows)) {
      const refs = await ex.store.query<{ ttype: string; tid: string }>(
        `SELECT DISTINCT ttype, tid FROM ix_ref WHERE tenant = ? AND rid IN (${part.map(() => '?').join(',')})
         AND pid IN (${pids.map(() => '?').join(',')}) AND ttype IS NOT NULL`,
        [ex.tenant, ...part.map((r) => r.rid), ...pids],
      );
      for (const { ttype, tid } of refs) {
        if (spec.targetType && ttype !== spec.targetType) continue;
        if (!targets.has(ttype)) targets.set(ttype, new Set());
        targets.get(ttype)!.add(tid);
      }
    }
  }
  const out: Row[] = [];
  for (const [type, ids] of targets) out.push(...(await fetchByIds(ex, type, [...ids])));
  return out;
}

/** `_revinclude=*`: the source types that refer to the frontier at all, each through its own access. */
async function revincludeAny(ex: ExecContext, spec: IncludeSpec, frontier: Row[]): Promise<Row[]> {
  const types = new Set<string>();
  for (const part of chunks(frontier)) {
    const b = new SqlBuilder(ex.tenant);
    const tenant = b.p(ex.tenant);
    const targets = part.map((r) => `(x.tid = ${b.p(r.id)} AND x.ttype = ${b.p(r.rtype)})`).join(' OR ');
    const sql = `SELECT DISTINCT r.rtype FROM ix_ref x JOIN resource r ON r.rid = x.rid WHERE x.tenant = ${tenant} AND (${targets}) AND r.deleted = 0`;
    for (const { rtype } of await ex.store.query<{ rtype: string }>(sql, b.params)) types.add(rtype);
  }
  const out: Row[] = [];
  for (const t of [...types].sort()) out.push(...(await revincludeFrom(ex, { ...spec, srcType: t, code: '*' }, frontier)));
  return out;
}

async function revincludeFrom(ex: ExecContext, spec: IncludeSpec, frontier: Row[]): Promise<Row[]> {
  if (spec.srcType === '*') return revincludeAny(ex, spec, frontier);
  const access = ex.access(spec.srcType);
  if (!access || frontier.length === 0) return [];
  const pids = refPids(ex, spec.srcType, spec.code);
  if (pids.length === 0) return [];
  const out: Row[] = [];
  for (const part of chunks(frontier)) {
    const b = new SqlBuilder(ex.tenant);
    // Placeholders are created in text order, so the parameters line up.
    const tenant = b.p(ex.tenant);
    const pidList = pids.map((p) => b.p(p)).join(',');
    const targets = part.map((r) => `(x.ttype = ${b.p(r.rtype)} AND x.tid = ${b.p(r.id)})`).join(' OR ');
    const srcType = b.p(spec.srcType);
    const accessSql = compile(b, access, 'r', true);
    const sql =
      `SELECT DISTINCT ${COLS} FROM ix_ref x JOIN resource r ON r.rid = x.rid ` +
      `WHERE x.tenant = ${tenant} AND x.pid IN (${pidList}) AND (${targets}) AND r.rtype = ${srcType} ` +
      `AND r.deleted = 0 AND ${accessSql}`;
    out.push(...(await ex.store.query<Row>(sql, b.params)));
  }
  return out;
}

async function resolveIncludes(ex: ExecContext, req: SearchRequest, matches: Row[]): Promise<Row[]> {
  const seen = new Set(matches.map((r) => r.rid));
  const out: Row[] = [];
  let frontier = matches;
  for (let round = 0; round < 4 && frontier.length; round++) {
    const found: Row[] = [];
    for (const spec of req.include) if (round === 0 || spec.iterate) found.push(...(await includeFrom(ex, spec, frontier)));
    for (const spec of req.revinclude) if (round === 0 || spec.iterate) found.push(...(await revincludeFrom(ex, spec, frontier)));
    frontier = [];
    for (const r of found) {
      if (seen.has(r.rid)) continue;
      seen.add(r.rid);
      out.push(r);
      frontier.push(r);
    }
  }
  return out;
}

/** (type, code) pairs whose pids sorting and includes of `req` will ask for: warmed before execution. */
export function pidsNeeded(req: SearchRequest): [string, string][] {
  const out: [string, string][] = [];
  for (const s of req.sort) if (!s.code.startsWith('_')) for (const t of req.types) out.push([t, s.code]);
  for (const spec of [...req.include, ...req.revinclude]) {
    if (spec.srcType === '*') continue;
    if (spec.code !== '*') out.push([spec.srcType, spec.code]);
    else for (const d of paramsOf(spec.srcType).values()) if (d.type === 'reference') out.push([spec.srcType, d.code]);
  }
  return out;
}
