/**
 * Test helpers for sample data: a required-binding checker (Medplum's validateResource checks
 * structure, cardinality and invariants but not terminology bindings) and a reference collector.
 * The checker walks each resource along Medplum's type schema and, for every element bound with
 * strength `required`, tests the codes against the value set expanded from the R4 definitions.
 */
import { core, ensureStructures, readDefinition } from '../../src/fhir/medplum.js';

interface Concept {
  code: string;
  concept?: Concept[];
}
interface Include {
  system?: string;
  concept?: { code: string }[];
  filter?: unknown[];
  valueSet?: string[];
}
interface TermResource {
  resourceType: 'CodeSystem' | 'ValueSet';
  url: string;
  concept?: Concept[];
  compose?: { include: Include[] };
}

let terms: Map<string, TermResource> | undefined;
const expansions = new Map<string, Set<string> | null>();

function terminology(): Map<string, TermResource> {
  if (terms) return terms;
  terms = new Map();
  for (const file of ['fhir/r4/valuesets.json', 'fhir/r4/v3-codesystems.json', 'fhir/r4/v2-tables.json']) {
    const bundle = readDefinition<{ entry: { resource: TermResource }[] }>(file);
    for (const e of bundle.entry) {
      const key = `${e.resource.resourceType}|${e.resource.url}`;
      if (!terms.has(key)) terms.set(key, e.resource);
    }
  }
  return terms;
}

function systemCodes(system: string): string[] | null {
  const cs = terminology().get(`CodeSystem|${system}`);
  if (!cs?.concept) return null;
  const out: string[] = [];
  const walk = (cs: Concept[]) => {
    for (const c of cs) {
      out.push(c.code);
      if (c.concept) walk(c.concept);
    }
  };
  walk(cs.concept);
  return out;
}

/** `system|code` pairs of a value set, or null when it cannot be expanded from the bundled definitions. */
export function expandValueSet(url: string): Set<string> | null {
  const canonical = url.split('|')[0]!;
  if (expansions.has(canonical)) return expansions.get(canonical)!;
  const vs = terminology().get(`ValueSet|${canonical}`);
  let result: Set<string> | null = vs?.compose ? new Set() : null;
  for (const inc of vs?.compose?.include ?? []) {
    if (!result) break;
    for (const nested of inc.valueSet ?? []) {
      const n = expandValueSet(nested);
      if (!n) result = null;
      else for (const x of n) result?.add(x);
    }
    if (!result || !inc.system) continue;
    // A filtered include is widened to the whole system: lenient, but only ever for codes of that system.
    const codes = inc.concept && !inc.filter ? inc.concept.map((c) => c.code) : systemCodes(inc.system);
    if (!codes) result = null;
    else for (const c of codes) result.add(`${inc.system}|${c}`);
  }
  expansions.set(canonical, result);
  return result;
}

const isPrimitive = (code: string) => code[0] === code[0]!.toLowerCase() || code === 'Resource' || code === 'Extension';

/** Problems with required bindings in `resource`, as `path: message` strings (empty when all codes are allowed). */
export function requiredBindingProblems(resource: { resourceType: string }): string[] {
  ensureStructures();
  const problems: string[] = [];
  walk(resource, resource.resourceType, resource.resourceType, problems);
  return problems;
}

function walk(value: any, typeName: string, path: string, problems: string[]): void {
  const schema = core.getDataType(typeName);
  for (const [key, el] of Object.entries(schema.elements)) {
    const candidates = key.endsWith('[x]')
      ? el.type.map((t) => [key.slice(0, -3) + t.code[0]!.toUpperCase() + t.code.slice(1), t.code] as const)
      : [[key, el.type[0]!.code] as const];
    for (const [prop, typeCode] of candidates) {
      const v = value[prop];
      if (v === undefined) continue;
      const items = Array.isArray(v) ? v : [v];
      items.forEach((item, i) => {
        const p = `${path}.${prop}${Array.isArray(v) ? `[${i}]` : ''}`;
        if (el.binding?.strength === 'required' && el.binding.valueSet) checkBinding(item, typeCode, el.binding.valueSet, p, problems);
        if (!isPrimitive(typeCode) && typeof item === 'object') walk(item, typeCode, p, problems);
      });
    }
  }
}

function checkBinding(item: any, typeCode: string, valueSet: string, path: string, problems: string[]): void {
  const allowed = expandValueSet(valueSet);
  if (!allowed) {
    problems.push(`${path}: value set ${valueSet} cannot be expanded here; avoid the element or extend the checker`);
    return;
  }
  const codings: { system?: string; code?: string }[] =
    typeCode === 'CodeableConcept' ? (item.coding ?? []) : typeCode === 'Coding' ? [item] : [];
  if (typeCode === 'code' || typeCode === 'string' || typeCode === 'uri') {
    if (![...allowed].some((x) => x.endsWith(`|${item}`))) problems.push(`${path}: '${item}' is not in ${valueSet}`);
    return;
  }
  if (codings.length === 0) problems.push(`${path}: no coding for required binding ${valueSet}`);
  for (const c of codings) {
    if (!allowed.has(`${c.system}|${c.code}`)) problems.push(`${path}: ${c.system}|${c.code} is not in ${valueSet}`);
  }
}

/** Every `reference` string anywhere inside `value`. */
export function collectReferences(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) {
    for (const v of value) collectReferences(v, out);
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'reference' && typeof v === 'string') out.push(v);
      else collectReferences(v, out);
    }
  }
  return out;
}
