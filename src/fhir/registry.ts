/**
 * The search-parameter registry: the R4 core SearchParameters per resource type, with the per-type
 * slice of each expression (docs/storage.md §1: evaluating the shared 32-base expressions is 20×
 * slower), a compiled fast path for plain dotted paths and a pre-parsed FHIRPath fallback for the rest.
 * Built lazily: the first write, search or CapabilityStatement pays the definition load (≈0.5 s).
 */
import type { SearchParameter } from '@medplum/fhirtypes';
import { resourceTypes } from './definitions.js';
import { compileFastPath, type FastPath } from './fastpath.js';
import { core, ensureSearchParameters, readDefinition } from './medplum.js';

export type ParamType = 'number' | 'date' | 'string' | 'token' | 'reference' | 'composite' | 'quantity' | 'uri' | 'special';

export interface ParamComponent {
  type: ParamType;
  /** Relative to the composite's base item. */
  extract: Extractor;
}

export interface Extractor {
  fast?: FastPath;
  /** Pre-parsed FHIRPath, used when the fast path does not apply. */
  parsed?: ReturnType<typeof core.parseFhirPath>;
}

export interface ParamDef {
  code: string;
  type: ParamType;
  url?: string;
  description?: string;
  /** The expression restricted to this resource type. */
  expression?: string;
  extract?: Extractor;
  /** Target resource types of a reference parameter. */
  targets: string[];
  /** Composite parameters: the two component definitions. */
  components?: ParamComponent[];
}

/** Medplum-only parameters (docs/storage.md §1) and the ones served from resource columns. */
const SKIP = new Set(['_project', '_compartment']);
export const COLUMN_PARAMS = new Set(['_id', '_lastUpdated']);

let byUrl: Map<string, SearchParameter> | undefined;
const perType = new Map<string, Map<string, ParamDef>>();

function spByUrl(url: string): SearchParameter | undefined {
  if (!byUrl) {
    byUrl = new Map();
    const bundle = readDefinition<{ entry: { resource: SearchParameter }[] }>('fhir/r4/search-parameters.json');
    for (const e of bundle.entry) if (e.resource.url) byUrl.set(e.resource.url, e.resource);
  }
  return byUrl.get(url);
}

/** Splits a FHIRPath union at top level (outside parentheses and string literals). */
export function splitUnion(expr: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = false;
  let start = 0;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i];
    if (c === "'" && expr[i - 1] !== '\\') quote = !quote;
    if (quote) continue;
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) {
      out.push(expr.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(expr.slice(start).trim());
  return out.filter(Boolean);
}

/**
 * The slice of a shared expression that applies to `type`. Medplum's getExpressionForResourceType
 * drops a bare `Observation` part (the base of `code-value-quantity`), so we slice it ourselves.
 */
export function expressionForType(type: string, expr: string): string | undefined {
  const head = new RegExp(`^\\(*${type}(?:\\.|\\)|$)`);
  const parts = splitUnion(expr).filter((p) => head.test(p));
  if (parts.length) return parts.join(' | ');
  return core.getExpressionForResourceType(type, expr);
}

function makeExtractor(startType: string, expression: string, prefixed: boolean): Extractor {
  const fast = compileFastPath(startType, expression, prefixed);
  if (fast) return { fast };
  return { parsed: core.parseFhirPath(expression) };
}

function buildType(type: string): Map<string, ParamDef> {
  ensureSearchParameters();
  const out = new Map<string, ParamDef>();
  const sps = core.getSearchParameters(type) ?? {};
  for (const [code, sp] of Object.entries(sps)) {
    if (SKIP.has(code)) continue;
    const def: ParamDef = {
      code,
      type: sp.type as ParamType,
      url: sp.url,
      description: sp.description,
      targets: (sp.target as string[] | undefined) ?? [],
    };
    if (COLUMN_PARAMS.has(code)) {
      out.set(code, def);
      continue;
    }
    const expr = sp.expression ? expressionForType(type, sp.expression) : undefined;
    if (!expr) continue; // no expression for this type (e.g. special params): not searchable here
    def.expression = expr;
    if (def.type === 'composite') {
      const comps: ParamComponent[] = [];
      for (const c of sp.component ?? []) {
        const cdef = c.definition ? spByUrl(c.definition) : undefined;
        if (!cdef || !c.expression) break;
        comps.push({ type: cdef.type as ParamType, extract: { parsed: core.parseFhirPath(c.expression) } });
      }
      if (comps.length !== 2) continue; // only two-component composites are indexed
      def.components = comps;
      def.extract = { parsed: core.parseFhirPath(expr) };
    } else if (def.type !== 'special') {
      def.extract = makeExtractor(type, expr, true);
    }
    out.set(code, def);
  }
  return out;
}

/** The searchable parameters of a resource type, by code. */
export function paramsOf(type: string): Map<string, ParamDef> {
  let m = perType.get(type);
  if (!m) {
    m = resourceTypes().has(type) ? buildType(type) : new Map();
    perType.set(type, m);
  }
  return m;
}

export function paramOf(type: string, code: string): ParamDef | undefined {
  return paramsOf(type).get(code);
}
