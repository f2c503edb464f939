/**
 * The one SQL builder: compiles a search condition tree (cond.ts) into SQLite SQL over the index
 * tables (docs/storage.md §2 "Search SQL"). Two forms per leaf:
 * - uncorrelated `alias.rid IN (SELECT rid FROM ix_… WHERE tenant = ? AND …)` when driving from
 *   `resource`, so the planner can start from the value index;
 * - correlated `EXISTS (… WHERE x.rid = alias.rid …)` when driving from a patient's compartment,
 *   which keeps compartment searches flat as data grows.
 * Every subquery is bound to the tenant.
 */
import { normalizeString } from '../indexer.js';
import { codeSpellings } from './case-insensitive.js';
import type { Cond, DatePred, NumPred, TokenVal } from './cond.js';

export class SqlBuilder {
  readonly params: unknown[] = [];
  private n = 0;
  constructor(readonly tenant: number) {}
  alias(prefix: string): string {
    return `${prefix}${++this.n}`;
  }
  p(v: unknown): string {
    this.params.push(v);
    return '?';
  }
}

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

function datePred(b: SqlBuilder, p: DatePred, lo: string, hi: string): string {
  switch (p.op) {
    case 'eq':
      return `(${lo} >= ${b.p(p.lo)} AND ${hi} <= ${b.p(p.hi)})`;
    case 'ne':
      return `NOT (${lo} >= ${b.p(p.lo)} AND ${hi} <= ${b.p(p.hi)})`;
    case 'gt':
      return `${hi} > ${b.p(p.hi)}`;
    case 'lt':
      return `${lo} < ${b.p(p.lo)}`;
    case 'ge':
      return `(${hi} > ${b.p(p.hi)} OR (${lo} >= ${b.p(p.lo)} AND ${hi} <= ${b.p(p.hi)}))`;
    case 'le':
      return `(${lo} < ${b.p(p.lo)} OR (${lo} >= ${b.p(p.lo)} AND ${hi} <= ${b.p(p.hi)}))`;
    case 'sa':
      return `${lo} > ${b.p(p.hi)}`;
    case 'eb':
      return `${hi} < ${b.p(p.lo)}`;
    case 'ap': {
      // R4 §3.1.1.4.1: "approximately" — we allow 10% of the distance from now, at least one day.
      const d = Math.max(Math.abs(Date.now() - p.lo) * 0.1, 86_400_000);
      return `(${lo} <= ${b.p(p.hi + d)} AND ${hi} >= ${b.p(p.lo - d)})`;
    }
  }
}

function numPred(b: SqlBuilder, p: NumPred, lo: string, hi: string): string {
  switch (p.op) {
    case 'eq':
      return `(${lo} >= ${b.p(p.lo)} AND ${hi} < ${b.p(p.hi)})`;
    case 'ne':
      return `NOT (${lo} >= ${b.p(p.lo)} AND ${hi} < ${b.p(p.hi)})`;
    case 'gt':
    case 'sa':
      return `${hi} > ${b.p(p.value)}`;
    case 'lt':
    case 'eb':
      return `${lo} < ${b.p(p.value)}`;
    case 'ge':
      return `${hi} >= ${b.p(p.value)}`;
    case 'le':
      return `${lo} <= ${b.p(p.value)}`;
    case 'ap': {
      const d = Math.abs(p.value) * 0.1;
      return `(${lo} >= ${b.p(p.value - d)} AND ${hi} <= ${b.p(p.value + d)})`;
    }
  }
}

function tokenAlt(b: SqlBuilder, t: TokenVal, sys: string, code: string): string {
  if (t.code === undefined) return t.system ? `${sys} = ${b.p(t.system)}` : '1 = 0';
  if (t.system === undefined) return `${code} = ${b.p(t.code)}`;
  if (t.system === null) return `(${code} = ${b.p(t.code)} AND ${sys} IS NULL)`;
  const spellings = codeSpellings(t.system, t.code);
  const codeSql = spellings.length === 1 ? `${code} = ${b.p(spellings[0])}` : `${code} IN (${spellings.map((s) => b.p(s)).join(', ')})`;
  return `(${codeSql} AND ${sys} = ${b.p(t.system)})`;
}

function orOf(parts: string[]): string {
  return parts.length === 1 ? parts[0] : `(${parts.join(' OR ')})`;
}

/** A leaf on one index table: `where(x)` must push its parameters in text order. */
function leaf(b: SqlBuilder, alias: string, table: string, correlated: boolean, negate: boolean, where: (x: string) => string): string {
  const x = b.alias('x');
  if (correlated) {
    const w = where(x);
    return `${negate ? 'NOT ' : ''}EXISTS (SELECT 1 FROM ${table} ${x} WHERE ${x}.rid = ${alias}.rid AND ${w})`;
  }
  const t = b.p(b.tenant);
  const w = where(x);
  return `${alias}.rid ${negate ? 'NOT IN' : 'IN'} (SELECT ${x}.rid FROM ${table} ${x} WHERE ${x}.tenant = ${t} AND ${w})`;
}

export function compile(b: SqlBuilder, c: Cond, alias: string, correlated: boolean, negate = false): string {
  const neg = negate ? 'NOT ' : '';
  switch (c.k) {
    case 'and':
      if (c.items.length === 0) return negate ? '1 = 0' : '1 = 1';
      return `${neg}(${c.items.map((i) => compile(b, i, alias, correlated)).join(' AND ')})`;
    case 'or':
      return `${neg}(${c.items.map((i) => compile(b, i, alias, correlated)).join(' OR ')})`;
    case 'not':
      return compile(b, c.item, alias, correlated, !negate);
    case 'false':
      return negate ? '1 = 1' : '1 = 0';
    case 'id':
      return `${alias}.id ${negate ? 'NOT IN' : 'IN'} (${c.ids.map((i) => b.p(i)).join(', ')})`;
    case 'lastUpdated':
      return `${neg}${orOf(c.preds.map((p) => datePred(b, p, `${alias}.last_updated`, `${alias}.last_updated`)))}`;
    case 'compartment':
      return leaf(b, alias, 'compartment', correlated, negate, (x) => `${x}.patient = ${b.p(c.patient)}`);
    case 'token':
      return leaf(b, alias, 'ix_token', correlated, negate, (x) => `${x}.pid = ${b.p(c.pid)} AND ${orOf(c.alts.map((t) => tokenAlt(b, t, `${x}.system`, `${x}.code`)))}`);
    case 'refIdentifier':
      return leaf(b, alias, 'ix_token', correlated, negate, (x) => `${x}.pid = ${b.p(c.pid)} AND ${orOf(c.alts.map((t) => tokenAlt(b, t, `${x}.system`, `${x}.code`)))}`);
    case 'tokenText':
      return leaf(b, alias, 'ix_token_text', correlated, negate, (x) =>
        `${x}.pid = ${b.p(c.pid)} AND ${orOf(c.texts.map((t) => `${x}.norm LIKE ${b.p(`%${likeEscape(normalizeString(t))}%`)} ESCAPE '\\'`))}`,
      );
    case 'string':
      return leaf(b, alias, 'ix_string', correlated, negate, (x) => {
        const pid = `${x}.pid = ${b.p(c.pid)}`;
        const alts = c.values.map((v) => {
          if (c.mode === 'exact') return `${x}.exact = ${b.p(v)}`;
          const n = normalizeString(v);
          if (c.mode === 'contains') return `${x}.norm LIKE ${b.p(`%${likeEscape(n)}%`)} ESCAPE '\\'`;
          return `(${x}.norm >= ${b.p(n)} AND ${x}.norm < ${b.p(`${n}\uffff`)})`;
        });
        return `${pid} AND ${orOf(alts)}`;
      });
    case 'date':
      return leaf(b, alias, 'ix_date', correlated, negate, (x) => `${x}.pid = ${b.p(c.pid)} AND ${orOf(c.preds.map((p) => datePred(b, p, `${x}.lo`, `${x}.hi`)))}`);
    case 'number':
      return leaf(b, alias, 'ix_number', correlated, negate, (x) => `${x}.pid = ${b.p(c.pid)} AND ${orOf(c.preds.map((p) => numPred(b, p, `${x}.lo`, `${x}.hi`)))}`);
    case 'quantity':
      return leaf(b, alias, 'ix_quantity', correlated, negate, (x) => {
        const pid = `${x}.pid = ${b.p(c.pid)}`;
        const alts = c.preds.map((p) => {
          let s = numPred(b, p, `${x}.value`, `${x}.value`);
          if (p.system) s += ` AND ${x}.system = ${b.p(p.system)}`;
          if (p.code) s += ` AND ${x}.code = ${b.p(p.code)}`;
          return `(${s})`;
        });
        return `${pid} AND ${orOf(alts)}`;
      });
    case 'uri':
      return leaf(b, alias, 'ix_uri', correlated, negate, (x) => {
        const pid = `${x}.pid = ${b.p(c.pid)}`;
        const alts = c.values.map((v) => {
          // R4 §3.1.1.5.9 (uri): `:below` matches URIs that start with the value, `:above` URIs that
          // the value starts with. URIs compare case-sensitively (BINARY), so no LIKE (case-folding):
          // a range on the index, bounded by the highest code point.
          if (c.mode === 'below') return `(${x}.uri >= ${b.p(v)} AND ${x}.uri < ${b.p(`${v}\u{10FFFF}`)})`;
          if (c.mode === 'above') return `(${x}.uri <= ${b.p(v)} AND substr(${b.p(v)}, 1, length(${x}.uri)) = ${x}.uri)`;
          return `${x}.uri = ${b.p(v)}`;
        });
        return `${pid} AND ${orOf(alts)}`;
      });
    case 'ref':
      return leaf(b, alias, 'ix_ref', correlated, negate, (x) => {
        const pid = `${x}.pid = ${b.p(c.pid)}`;
        const alts = c.alts.map((r) => {
          if (r.url !== undefined) return `${x}.url = ${b.p(r.url)}`;
          if (r.type) return `(${x}.tid = ${b.p(r.id)} AND ${x}.ttype = ${b.p(r.type)})`;
          return `${x}.tid = ${b.p(r.id)}`;
        });
        return `${pid} AND ${orOf(alts)}`;
      });
    case 'composite':
      return leaf(b, alias, 'ix_composite', correlated, negate, (x) => {
        const pid = `${x}.pid = ${b.p(c.pid)}`;
        const alts = c.alts.map((a) => {
          let s = tokenAlt(b, a.c1, `${x}.c1_system`, `${x}.c1_code`);
          const c2 = a.c2;
          if (c2.kind === 'quantity' || c2.kind === 'number') {
            s += ` AND ${numPred(b, c2.pred, `${x}.c2_num`, `${x}.c2_num`)}`;
            if (c2.pred.system) s += ` AND ${x}.c2_system = ${b.p(c2.pred.system)}`;
            if (c2.pred.code) s += ` AND ${x}.c2_code = ${b.p(c2.pred.code)}`;
          } else if (c2.kind === 'token') {
            s += ` AND ${tokenAlt(b, c2.tok, `${x}.c2_system`, `${x}.c2_code`)}`;
          } else if (c2.kind === 'date') {
            s += ` AND ${datePred(b, c2.pred, `${x}.c2_lo`, `${x}.c2_hi`)}`;
          } else if (c2.kind === 'string') {
            const n = normalizeString(c2.value);
            s += ` AND ${x}.c2_str >= ${b.p(n)} AND ${x}.c2_str < ${b.p(`${n}\uffff`)}`;
          }
          return `(${s})`;
        });
        return `${pid} AND ${orOf(alts)}`;
      });
    case 'missing':
      // `:missing=true` is "no index row for this parameter".
      return leaf(b, alias, c.table, correlated, c.missing !== negate, (x) => `${x}.pid = ${b.p(c.pid)}`);
    case 'chain': {
      const x = b.alias('x');
      const t = b.alias('t');
      const join = `ix_ref ${x} JOIN resource ${t} ON ${t}.tenant = ${x}.tenant AND ${t}.rtype = ${b.p(c.targetType)} AND ${t}.id = ${x}.tid`;
      const head = correlated ? '' : `${x}.tenant = ${b.p(b.tenant)} AND `;
      const where = `${head}${x}.pid = ${b.p(c.pid)} AND ${x}.ttype = ${b.p(c.targetType)} AND ${t}.deleted = 0 AND ${compile(b, c.inner, t, true)}`;
      if (correlated) return `${neg}EXISTS (SELECT 1 FROM ${join} WHERE ${x}.rid = ${alias}.rid AND ${where})`;
      return `${alias}.rid ${negate ? 'NOT IN' : 'IN'} (SELECT ${x}.rid FROM ${join} WHERE ${where})`;
    }
    case 'has': {
      const x = b.alias('x');
      const h = b.alias('h');
      return (
        `${neg}EXISTS (SELECT 1 FROM ix_ref ${x} JOIN resource ${h} ON ${h}.rid = ${x}.rid ` +
        `WHERE ${x}.tenant = ${b.p(b.tenant)} AND ${x}.pid = ${b.p(c.pid)} AND ${x}.tid = ${alias}.id AND ${x}.ttype = ${alias}.rtype ` +
        `AND ${h}.deleted = 0 AND ${compile(b, c.inner, h, true)})`
      );
    }
  }
}
