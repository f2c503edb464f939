/**
 * Search result rendering (R4 §3.1.1.5.7 `_summary`, §3.1.1.5.8 `_elements`, §3.1.1.5.x paging).
 * Bundles are assembled as text around the stored JSON, so unsubsetted entries are never
 * re-serialised.
 */
import { core, ensureStructures } from '../medplum.js';
import type { Summary } from './parse.js';

const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' };

function mandatory(type: string): Set<string> {
  try {
    return new Set([...(core.getDataType(type).mandatoryProperties ?? [])].map((p) => p.replace('[x]', '')));
  } catch {
    return new Set();
  }
}

function keep(resource: Record<string, any>, allowed: (key: string) => boolean): Record<string, any> {
  const out: Record<string, any> = {};
  for (const [k, v] of Object.entries(resource)) if (allowed(k)) out[k] = v;
  const meta = { ...(out.meta ?? {}) };
  meta.tag = [...(meta.tag ?? []), SUBSETTED];
  out.meta = meta;
  return out;
}

const choiceBase = (k: string, names: Set<string>) => {
  if (names.has(k)) return true;
  for (const n of names) if (k.startsWith(n) && /^[A-Z]/.test(k.slice(n.length))) return true;
  return false;
};

/** Applies `_summary` / `_elements` to a stored resource; returns the text to embed. */
export function renderResource(content: string, summary: Summary | undefined, elements: string[] | undefined): string {
  if ((!summary || summary === 'false' || summary === 'count') && !elements) return content;
  const r = JSON.parse(content) as Record<string, any>;
  const type = r.resourceType as string;
  ensureStructures();
  const base = new Set(['resourceType', 'id', 'meta']);
  if (elements) {
    const names = new Set([...elements, ...mandatory(type)]);
    return JSON.stringify(keep(r, (k) => base.has(k) || choiceBase(k, names)));
  }
  if (summary === 'true') {
    let props: Set<string>;
    try {
      props = new Set([...(core.getDataType(type).summaryProperties ?? [])].map((p) => p.replace('[x]', '')));
    } catch {
      props = new Set();
    }
    return JSON.stringify(keep(r, (k) => base.has(k) || choiceBase(k, props)));
  }
  if (summary === 'text') {
    const m = mandatory(type);
    return JSON.stringify(keep(r, (k) => base.has(k) || k === 'text' || choiceBase(k, m)));
  }
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
