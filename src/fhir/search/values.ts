/**
 * Parsing of search values (R4 §3.1.1.4 "Search parameter types"): OR lists with escaping,
 * prefixes, dates as precision ranges, numbers with their implied precision, tokens.
 */
import { badRequest } from '../../errors/errors.js';
import type { DatePred, NumPred, Prefix, TokenVal } from './cond.js';

const PREFIXES = new Set(['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap']);

/** Splits on an unescaped separator and removes the escapes of `\,` `\|` `\$` `\\` (R4 §3.1.1.5.7). */
export function splitEscaped(value: string, sep: string): string[] {
  // Slices, not character-by-character concatenation: linear and fast on long OR-lists.
  if (!value.includes('\\')) return value.split(sep);
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    if (value[i] === '\\') i++;
    else if (value[i] === sep) {
      out.push(value.slice(start, i));
      start = i + 1;
    }
  }
  out.push(value.slice(start));
  return out;
}

export function unescapeValue(v: string): string {
  return v.replace(/\\([,|$\\])/g, '$1');
}

/** The OR-values of one parameter occurrence. */
export function orValues(value: string): string[] {
  return splitEscaped(value, ',');
}

export function splitPrefix(v: string): [Prefix, string] {
  const p = v.slice(0, 2);
  if (PREFIXES.has(p) && v.length > 2 && /[0-9+-]/.test(v[2])) return [p as Prefix, v.slice(2)];
  return ['eq', v];
}

const DATE_RE = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/** The inclusive epoch-ms range a date(-time) search value denotes, from its precision. */
export function dateRange(v: string): [number, number] | undefined {
  const m = DATE_RE.exec(v);
  if (!m) return undefined;
  const y = Number(m[1]);
  const mo = m[2] ? Number(m[2]) : undefined;
  const d = m[3] ? Number(m[3]) : undefined;
  if (mo !== undefined && (mo < 1 || mo > 12)) return undefined;
  if (d !== undefined) {
    const dim = new Date(Date.UTC(y, mo!, 0)).getUTCDate();
    if (d < 1 || d > dim) return undefined;
  }
  if (m[4] === undefined) {
    if (mo === undefined) return [Date.UTC(y, 0, 1), Date.UTC(y + 1, 0, 1) - 1];
    if (d === undefined) return [Date.UTC(y, mo - 1, 1), Date.UTC(y, mo, 1) - 1];
    return [Date.UTC(y, mo - 1, d), Date.UTC(y, mo - 1, d + 1) - 1];
  }
  const hh = Number(m[4]);
  const mi = Number(m[5]);
  if (hh > 23 || mi > 59) return undefined;
  const ss = m[6] !== undefined ? Number(m[6]) : undefined;
  if (ss !== undefined && ss > 59) return undefined;
  let offsetMin = 0;
  const tz = m[8];
  if (tz && tz !== 'Z') {
    const sign = tz[0] === '-' ? -1 : 1;
    offsetMin = sign * (Number(tz.slice(1, 3)) * 60 + Number(tz.slice(4, 6)));
  }
  const base = Date.UTC(y, mo! - 1, d!, hh, mi, ss ?? 0) - offsetMin * 60000;
  if (ss === undefined) return [base, base + 60000 - 1];
  if (m[7]) {
    const ms = Math.round(Number(m[7]) * 1000);
    return [base + ms, base + ms];
  }
  return [base, base + 999];
}

export function parseDatePred(param: string, raw: string): DatePred {
  const [op, v] = splitPrefix(raw);
  const r = dateRange(v);
  if (!r) throw badRequest(`invalid date value "${raw}" for search parameter ${param}`);
  return { op, lo: r[0], hi: r[1] };
}

const NUM_RE = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/**
 * The implied range of a number search value, computed in decimal (R4 §3.1.1.4.2 / §3.1.1.4.x: "the
 * range of the value is the value ± half the precision", so `0.8` is [0.75, 0.85) and `1e2` is
 * [50, 150)). The bounds are exact decimal strings turned into the nearest double, the same rounding
 * as the stored values get: binary arithmetic (0.8 + 0.05 = 0.8500000000000001) would let 0.85 match.
 */
export function decimalRange(v: string): { lo: number; hi: number } {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(v)!;
  const digits = BigInt(`${m[2] || '0'}${m[3] ?? ''}`) * (m[1] === '-' ? -1n : 1n);
  // value = digits × 10^-scale; the half-precision step is 5 × 10^-(scale+1).
  const scale = (m[3] ?? '').length - Number(m[4] ?? 0);
  const at = (n: bigint) => Number(`${n}e${-(scale + 1)}`);
  return { lo: at(digits * 10n - 5n), hi: at(digits * 10n + 5n) };
}

export function parseNumPred(param: string, raw: string): NumPred {
  const [op, v] = splitPrefix(raw);
  if (!NUM_RE.test(v)) throw badRequest(`invalid number value "${raw}" for search parameter ${param}`);
  const value = Number(v);
  if (!Number.isFinite(value)) throw badRequest(`number value "${raw}" for search parameter ${param} is out of range`);
  return { op, value, ...decimalRange(v) };
}

export function parseQuantityPred(param: string, raw: string): NumPred {
  const parts = splitEscaped(raw, '|').map(unescape);
  if (parts.length !== 1 && parts.length !== 3) throw badRequest(`invalid quantity value "${raw}" for search parameter ${param}`);
  const pred = parseNumPred(param, parts[0]);
  if (parts.length === 3) {
    if (parts[1]) pred.system = parts[1];
    if (parts[2]) pred.code = parts[2];
  }
  return pred;
}

export function parseToken(raw: string): TokenVal {
  const parts = splitEscaped(raw, '|');
  if (parts.length === 1) return { code: unescapeValue(parts[0]) };
  const system = unescapeValue(parts[0]);
  const code = unescapeValue(parts.slice(1).join('|'));
  return { system: system === '' ? null : system, ...(code !== '' ? { code } : {}) };
}
