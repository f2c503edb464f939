/**
 * Computes the search index rows and the Patient-compartment membership of a resource at write time
 * (docs/storage.md §2). Values come from the fast path or FHIRPath (registry.ts) and are converted
 * with Medplum's `convertToSearchable*` helpers, except HumanName/Address, which we split into their
 * parts so that `name=joh` prefix-matches each part (R4 §3.1.1.4.7 string search).
 */
import type { Resource } from '@medplum/fhirtypes';
import { patientCompartmentParams } from './definitions.js';
import { runFastPath, type TypedValue } from './fastpath.js';
import { core } from './medplum.js';
import { type Extractor, type ParamDef, paramsOf } from './registry.js';
import { emptyIndexRows, type IndexRows } from './store.js';

/** Marks CodeableConcept.text / Coding.display tokens, which go to the `:text` table, not the code table. */
const TEXT_SYSTEM = 'urn:smart-sandbox:text';
const MIN_DATE = -8.64e15;
const MAX_DATE = 8.64e15;

/** Search normalisation for strings: case- and accent-insensitive (R4 §3.1.1.4.7). */
export function normalizeString(s: string): string {
  return s
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase();
}

/** Values of an extractor on a resource, or on a typed item (composite components). */
export function evaluate(ex: Extractor, input: Resource | TypedValue, isItem = false): TypedValue[] {
  const raw = isItem ? (input as TypedValue).value : input;
  if (ex.fast) return runFastPath(ex.fast, raw);
  const typed = isItem ? (input as TypedValue) : core.toTypedValue(input);
  try {
    return core.evalFhirPathTyped(ex.parsed!, [typed as any]) as TypedValue[];
  } catch {
    // An expression that cannot evaluate on this instance indexes nothing rather than failing the write.
    return [];
  }
}

export function parseDateMs(iso: string | undefined, dflt: number): number {
  if (!iso) return dflt;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? dflt : t;
}

/** A parsed reference string: relative `Type/id[/_history/v]` gives type+id; anything else a url. */
export function parseReference(ref: string): { type: string | null; id: string | null; url: string | null } {
  const m = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(ref);
  if (m) return { type: m[1], id: m[2], url: null };
  return { type: null, id: null, url: ref };
}

const NAME_PARTS = ['family', 'given', 'prefix', 'suffix', 'text'];
const ADDRESS_PARTS = ['line', 'city', 'district', 'state', 'postalCode', 'country', 'text'];

function stringsOf(v: TypedValue): string[] {
  const parts = v.type === 'HumanName' ? NAME_PARTS : v.type === 'Address' ? ADDRESS_PARTS : undefined;
  if (parts) {
    const out: string[] = [];
    for (const p of parts) {
      const x = v.value?.[p];
      if (typeof x === 'string') out.push(x);
      else if (Array.isArray(x)) for (const y of x) if (typeof y === 'string') out.push(y);
    }
    return out;
  }
  if (typeof v.value === 'string') return [v.value];
  return core.convertToSearchableStrings([v as any]).filter((s): s is string => typeof s === 'string');
}

function addValues(rows: IndexRows, def: ParamDef, values: TypedValue[]): void {
  if (values.length === 0) return;
  const code = def.code;
  switch (def.type) {
    case 'token':
      for (const t of core.convertToSearchableTokens(values as any, { textSearchSystem: TEXT_SYSTEM })) {
        if (t.system === TEXT_SYSTEM) {
          if (t.value) rows.tokenText.push([code, normalizeString(t.value)]);
        } else if (t.value !== undefined || t.system !== undefined) {
          rows.token.push([code, t.system ?? null, t.value ?? null]);
        }
      }
      return;
    case 'string':
      for (const v of values) for (const s of stringsOf(v)) rows.string.push([code, normalizeString(s), s]);
      return;
    case 'date':
      for (const p of core.convertToSearchableDates(values as any)) {
        if (!p.start && !p.end) continue;
        rows.date.push([code, parseDateMs(p.start, MIN_DATE), parseDateMs(p.end, MAX_DATE)]);
      }
      return;
    case 'number':
      for (const [lo, hi] of core.convertToSearchableNumbers(values as any)) rows.number.push([code, lo ?? null, hi ?? null]);
      return;
    case 'quantity':
      for (const q of core.convertToSearchableQuantities(values as any)) {
        rows.quantity.push([code, q.value ?? null, q.system ?? null, q.code ?? q.unit ?? null]);
      }
      return;
    case 'uri':
      for (const u of core.convertToSearchableUris(values as any)) if (u) rows.uri.push([code, u]);
      return;
    case 'reference':
      for (const v of values) {
        if (typeof v.value === 'string') {
          rows.ref.push([code, null, null, v.value]); // canonical / uri targets
          continue;
        }
        const ref = v.value?.reference;
        if (typeof ref === 'string' && !ref.startsWith('#')) {
          const p = parseReference(ref);
          rows.ref.push([code, p.type, p.id, p.url]);
        }
        // Logical references (Reference.identifier) serve the `:identifier` modifier.
        const ident = v.value?.identifier;
        if (ident?.value) rows.token.push([code, ident.system ?? null, ident.value]);
      }
      return;
    default:
      return;
  }
}

function addComposite(rows: IndexRows, def: ParamDef, resource: Resource): void {
  const [c1, c2] = def.components!;
  for (const item of evaluate(def.extract!, resource)) {
    const v1 = evaluate(c1.extract, item, true);
    const v2 = evaluate(c2.extract, item, true);
    if (v1.length === 0 || v2.length === 0) continue;
    const tokens = core
      .convertToSearchableTokens(v1 as any, { textSearchSystem: TEXT_SYSTEM })
      .filter((t) => t.system !== TEXT_SYSTEM && t.value !== undefined);
    const seconds: Array<[number | null, string | null, string | null, number | null, number | null, string | null]> = [];
    if (c2.type === 'quantity') {
      for (const q of core.convertToSearchableQuantities(v2 as any)) seconds.push([q.value ?? null, q.system ?? null, q.code ?? q.unit ?? null, null, null, null]);
    } else if (c2.type === 'token') {
      for (const t of core.convertToSearchableTokens(v2 as any, { textSearchSystem: TEXT_SYSTEM })) {
        if (t.system !== TEXT_SYSTEM) seconds.push([null, t.system ?? null, t.value ?? null, null, null, null]);
      }
    } else if (c2.type === 'date') {
      for (const p of core.convertToSearchableDates(v2 as any)) {
        seconds.push([null, null, null, parseDateMs(p.start, MIN_DATE), parseDateMs(p.end, MAX_DATE), null]);
      }
    } else if (c2.type === 'string') {
      for (const v of v2) for (const s of stringsOf(v)) seconds.push([null, null, null, null, null, normalizeString(s)]);
    } else if (c2.type === 'number') {
      for (const [lo] of core.convertToSearchableNumbers(v2 as any)) seconds.push([lo ?? null, null, null, null, null, null]);
    }
    for (const t of tokens) for (const s of seconds) rows.composite.push([def.code, t.system ?? null, t.value ?? null, ...s]);
  }
}

export interface IndexResult {
  rows: IndexRows;
  /** Patients whose compartment the resource belongs to. */
  compartments: string[];
}

/** Index rows and compartment membership of `resource` (which must have its final id). */
export function indexResource(resource: Resource): IndexResult {
  const rows = emptyIndexRows();
  const type = resource.resourceType;
  for (const def of paramsOf(type).values()) {
    if (!def.extract) continue;
    if (def.type === 'composite') addComposite(rows, def, resource);
    else addValues(rows, def, evaluate(def.extract, resource));
  }
  return { rows, compartments: compartmentsFromRows(type, resource.id, rows) };
}

export function compartmentsFromRows(type: string, id: string | undefined, rows: IndexRows): string[] {
  const out = new Set<string>();
  if (type === 'Patient' && id) out.add(id);
  const params = new Set(patientCompartmentParams(type));
  if (params.size) {
    for (const [code, ttype, tid] of rows.ref) if (ttype === 'Patient' && tid && params.has(code)) out.add(tid);
  }
  return [...out];
}

/** Compartment membership alone (history confinement of past versions). */
export function compartmentsOf(resource: Resource): string[] {
  const type = resource.resourceType;
  const rows = emptyIndexRows();
  const params = paramsOf(type);
  for (const code of patientCompartmentParams(type)) {
    const def = params.get(code);
    if (def?.extract) addValues(rows, def, evaluate(def.extract, resource));
  }
  return compartmentsFromRows(type, resource.id, rows);
}
