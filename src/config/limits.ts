/**
 * The documented limits of every request (README "Limits"). Each guards work that grows with the
 * input — SQL terms, recursion, synchronous validation — so that one hostile or broken request gets a
 * fast 400 instead of holding the event loop. They are checked before the expensive step they protect
 * (the raw JSON text is scanned before JSON.parse; search parameters before SQL is built; sizes before
 * validation). A refused request is a 400 OperationOutcome (`too-costly`) whose diagnostics name the
 * limit and the value allowed. The request body as a whole is capped by `bodyLimit` (config.ts,
 * `SMART_SANDBOX_BODY_LIMIT`).
 */
import { FhirError } from '../errors/errors.js';

export const LIMITS = {
  /** `_sort`: keys in one search (all `_sort` parameters together). */
  sortKeys: 8,
  /** Values in one comma-separated OR-list of one search parameter (R4 §3.1.1.1.2). */
  orValues: 100,
  /** Chained parameter hops (`subject.organization.name` is 2) (R4 §3.1.1.5.5). */
  chainDepth: 4,
  /** `_has` levels in one parameter (`_has:A:x:_has:B:y:z` is 2) (R4 §3.1.1.5.6). */
  hasDepth: 3,
  /** `_include` plus `_revinclude` parameters of one search. */
  includes: 10,
  /** Largest `_count` (search, history, `$everything`). */
  count: 1000,
  /** Largest `_offset`: 2^53, the largest integer every layer (JSON, SQLite, PostgreSQL) holds exactly. */
  offset: 2 ** 53,
  /** Nesting depth of arrays and objects in any JSON request body (FHIR, launch API, console API). */
  jsonDepth: 100,
  /** Elements of one array in any JSON request body. */
  jsonArrayLength: 10_000,
  /** Bytes of an application/x-www-form-urlencoded body (POST `_search`, sign-in and console forms). */
  formBytes: 64 * 1024,
  /** Search index rows of one written resource (each is a database row written with it). */
  indexRows: 10_000,
  /** Serialized size of one written resource, in bytes, unless RESOURCE_BYTES_BY_TYPE says otherwise. */
  resourceBytes: 1024 * 1024,
} as const;

/** Types that carry documents or attachments inline may be larger (still within bodyLimit). */
export const RESOURCE_BYTES_BY_TYPE: Readonly<Record<string, number>> = {
  Binary: 16 * 1024 * 1024,
  DocumentReference: 16 * 1024 * 1024,
  Media: 16 * 1024 * 1024,
};

export type LimitName = keyof typeof LIMITS | 'resourceBytesByType';

/** A 400 OperationOutcome naming the limit exceeded and the value allowed. */
export function limitExceeded(limit: LimitName, allowed: number, what: string): FhirError {
  return new FhirError(400, [{ severity: 'error', code: 'too-costly', diagnostics: `${what}: exceeds limit ${limit} (at most ${allowed})` }]);
}

export function resourceBytesLimit(type: string): number {
  return RESOURCE_BYTES_BY_TYPE[type] ?? LIMITS.resourceBytes;
}

/** Refuses a resource of `type` whose serialized form has more than its type's limit of bytes. */
export function checkResourceSize(type: string, bytes: number): void {
  const max = resourceBytesLimit(type);
  if (bytes > max) throw limitExceeded(type in RESOURCE_BYTES_BY_TYPE ? 'resourceBytesByType' : 'resourceBytes', max, `a ${type} of ${bytes} bytes`);
}

/** `_count`: a non-negative integer up to LIMITS.count. */
export function countParam(name: string, v: string): number {
  if (!/^\d+$/.test(v)) throw badInteger(name, v);
  if (v.length > 16 || Number(v) > LIMITS.count) throw limitExceeded('count', LIMITS.count, `${name}=${v.slice(0, 32)}`);
  return Number(v);
}

/** `_offset`: a non-negative integer up to LIMITS.offset (larger ones do not fit a database integer). */
export function offsetParam(name: string, v: string): number {
  if (!/^\d+$/.test(v)) throw badInteger(name, v);
  if (v.length > 16 || BigInt(v) > BigInt(LIMITS.offset)) throw limitExceeded('offset', LIMITS.offset, `${name}=${v.slice(0, 32)}`);
  return Number(v);
}

function badInteger(name: string, v: string): FhirError {
  return new FhirError(400, [{ severity: 'error', code: 'invalid', diagnostics: `${name} must be a non-negative integer, got "${v.slice(0, 64)}"` }]);
}

/**
 * Checks nesting depth and array lengths of JSON text without parsing it: one pass over the bytes,
 * skipping strings, so that a body nested 50,000 levels is refused before JSON.parse or any recursive
 * walk could exhaust the stack. Returns the violated limit as a FhirError, or undefined. Malformed JSON
 * passes (JSON.parse reports it).
 */
export function jsonShapeError(text: string, maxDepth: number = LIMITS.jsonDepth, maxArray: number = LIMITS.jsonArrayLength): FhirError | undefined {
  // Per open container: -1 for an object, else the commas seen so far in that array.
  const commas = new Int32Array(maxDepth + 1);
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      // Skip the string: its closing quote is the next one not escaped by an odd run of backslashes.
      let j = text.indexOf('"', i + 1);
      while (j !== -1) {
        let k = j - 1;
        while (text.charCodeAt(k) === 92 /* \ */) k--;
        if ((j - 1 - k) % 2 === 0) break;
        j = text.indexOf('"', j + 1);
      }
      if (j === -1) return undefined; // an unterminated string: JSON.parse reports it
      i = j;
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (depth === maxDepth) return limitExceeded('jsonDepth', maxDepth, 'JSON body nesting depth');
      commas[++depth] = c === 123 ? -1 : 0;
    } else if (c === 125 /* } */ || c === 93 /* ] */) {
      if (depth > 0) depth--;
    } else if (c === 44 /* , */ && depth > 0 && commas[depth] >= 0) {
      if (++commas[depth] >= maxArray) return limitExceeded('jsonArrayLength', maxArray, 'JSON body array length');
    }
  }
  return undefined;
}

/** JSON.parse behind the same shape limits, for JSON that arrives inside other input (form fields, fetched manifests). */
export function parseJsonWithinLimits(text: string): unknown {
  const shape = jsonShapeError(text);
  if (shape) throw shape;
  return JSON.parse(text);
}

/** Refuses a resource whose search index would have more rows than LIMITS.indexRows. */
export function checkIndexRows(type: string, rows: Record<string, unknown[]>): void {
  let n = 0;
  for (const list of Object.values(rows)) n += list.length;
  if (n > LIMITS.indexRows) throw limitExceeded('indexRows', LIMITS.indexRows, `a ${type} with ${n} search index entries`);
}
