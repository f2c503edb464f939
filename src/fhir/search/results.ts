/**
 * Search result rendering (R4 §3.1.1.5.7 `_summary`, §3.1.1.5.8 `_elements`, §3.1.1.5.x paging).
 * Bundles are assembled as text around the stored JSON, so unsubsetted entries are never
 * re-serialised.
 */
import { core, ensureStructures } from '../medplum.js';
import type { Summary } from './parse.js';

const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' };

interface TypeFacts {
  mandatory: Set<string>;
  summary: Set<string>;
  /** Choice elements by base name (`value` for `value[x]`). */
  choices: Set<string>;
}

const facts = new Map<string, TypeFacts>();

function factsOf(type: string): TypeFacts {
  let f = facts.get(type);
  if (!f) {
    const strip = (xs: Iterable<string> | undefined) => new Set([...(xs ?? [])].map((p) => p.replace('[x]', '')));
    try {
      const dt = core.getDataType(type);
      f = {
        mandatory: strip(dt.mandatoryProperties),
        summary: strip(dt.summaryProperties),
        choices: new Set(Object.keys(dt.elements).filter((k) => k.endsWith('[x]')).map((k) => k.slice(0, -3))),
      };
    } catch {
      f = { mandatory: new Set(), summary: new Set(), choices: new Set() };
    }
    facts.set(type, f);
  }
  return f;
}

/**
 * Is JSON property `key` the element `name`? Exact, or a typed choice (`valueQuantity` for
 * `value[x]`, never `statusReason` for `status`), or its primitive extension sibling (`_birthDate`).
 */
function isElement(key: string, names: Set<string>, f: TypeFacts): boolean {
  const k = key.startsWith('_') ? key.slice(1) : key;
  if (names.has(k)) return true;
  for (const n of names) if (f.choices.has(n) && k.startsWith(n) && /^[A-Z]/.test(k.slice(n.length))) return true;
  return false;
}

function keep(resource: Record<string, any>, allowed: (key: string) => boolean): Record<string, any> {
  const out: Record<string, any> = {};
  for (const [k, v] of Object.entries(resource)) if (allowed(k)) out[k] = v;
  const meta = { ...(out.meta ?? {}) };
  meta.tag = [...(meta.tag ?? []), SUBSETTED];
  out.meta = meta;
  return out;
}

const BASE = new Set(['resourceType', 'id', 'meta']);

/**
 * Applies `_summary` / `_elements` to a stored resource; returns the text to embed.
 * R4 search, "Summary" (`_summary`): `true` the elements marked summary in the base definition; `text`
 * text, id, meta and the top-level mandatory elements; `data` everything but text; `count` and
 * `false` leave resources whole. "Elements" (`_elements`): the listed top-level elements plus the
 * mandatory ones (R5's `Type.element` form is accepted), and it does not apply to included
 * resources (`included`). Subsetted resources carry the SUBSETTED tag.
 */
export function renderResource(content: string, summary: Summary | undefined, elements: string[] | undefined, included = false): string {
  const useElements = elements !== undefined && !included;
  if ((!summary || summary === 'false' || summary === 'count') && !useElements) return content;
  const r = JSON.parse(content) as Record<string, any>;
  const type = r.resourceType as string;
  ensureStructures();
  const f = factsOf(type);
  if (useElements) {
    const names = new Set(f.mandatory);
    for (const e of elements!) {
      const dot = e.indexOf('.');
      if (dot < 0) names.add(e);
      else if (e.slice(0, dot) === type && !e.includes('.', dot + 1)) names.add(e.slice(dot + 1));
    }
    return JSON.stringify(keep(r, (k) => BASE.has(k) || isElement(k, names, f)));
  }
  if (summary === 'true') return JSON.stringify(keep(r, (k) => BASE.has(k) || isElement(k, f.summary, f)));
  if (summary === 'text') return JSON.stringify(keep(r, (k) => BASE.has(k) || k === 'text' || isElement(k, f.mandatory, f)));
  // data: everything but the narrative
  return JSON.stringify(keep(r, (k) => k !== 'text'));
}

export interface BundleEntryText {
  fullUrl?: string;
  /** Raw JSON of the resource. */
  resource?: string;
  search?: { mode: 'match' | 'include' | 'outcome' };
  request?: { method: string; url: string };
  response?: Record<string, unknown>;
}

/** Serialises a Bundle whose entries embed already-serialised resources. */
export function bundleText(head: Record<string, unknown>, entries: BundleEntryText[]): string {
  const h = JSON.stringify({ resourceType: 'Bundle', ...head });
  const parts = entries.map((e) => {
    const fields: string[] = [];
    if (e.fullUrl) fields.push(`"fullUrl":${JSON.stringify(e.fullUrl)}`);
    if (e.resource) fields.push(`"resource":${e.resource}`);
    if (e.search) fields.push(`"search":${JSON.stringify(e.search)}`);
    if (e.request) fields.push(`"request":${JSON.stringify(e.request)}`);
    if (e.response) fields.push(`"response":${JSON.stringify(e.response)}`);
    return `{${fields.join(',')}}`;
  });
  if (parts.length === 0) return h;
  return `${h.slice(0, -1)},"entry":[${parts.join(',')}]}`;
}
