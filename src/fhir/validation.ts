/**
 * Validation of every written resource: Medplum's `validateResource` (cardinality, JSON types,
 * unknown elements, primitive formats, invariants), plus the required value-set bindings on `code`
 * elements that Medplum does not check (docs/storage.md §1: `Observation.status: bogus` and
 * `Patient.gender: robot` pass it). The binding plan per type and the value-set expansions are
 * computed lazily from the StructureDefinitions and `valuesets.json`, then cached.
 */
import type { Resource, StructureDefinition } from '@medplum/fhirtypes';
import { FhirError, type OutcomeIssue } from '../errors/errors.js';
import { isResourceType } from './definitions.js';
import { core, ensureStructures, readDefinition } from './medplum.js';

interface ElementPlan {
  key: string;
  type: string;
  /** Allowed codes of a required binding on a `code` element (undefined: not checked). */
  codes?: Set<string>;
  valueSet?: string;
}

const plans = new Map<string, ElementPlan[]>();
let terminology: Map<string, any> | undefined;
const expansions = new Map<string, Set<string> | null>();

function loadTerminology(): Map<string, any> {
  if (!terminology) {
    terminology = new Map();
    for (const file of ['fhir/r4/valuesets.json', 'fhir/r4/v3-codesystems.json']) {
      const b = readDefinition<{ entry: { resource: any }[] }>(file);
      for (const e of b.entry) if (e.resource?.url) terminology.set(`${e.resource.resourceType}|${e.resource.url}`, e.resource);
    }
  }
  return terminology;
}

function conceptCodes(concepts: any[] | undefined, out: Set<string>): void {
  for (const c of concepts ?? []) {
    if (c.code) out.add(c.code);
    conceptCodes(c.concept, out);
  }
}

/** The codes of a value set, or null when it cannot be enumerated (filters, external systems). */
export function expandValueSet(url: string, depth = 0): Set<string> | null {
  const key = url.split('|')[0];
  if (expansions.has(key)) return expansions.get(key)!;
  if (depth > 5) return null;
  const t = loadTerminology();
  const vs = t.get(`ValueSet|${key}`);
  let result: Set<string> | null = null;
  if (vs?.expansion?.contains) {
    result = new Set();
    const walk = (cs: any[]) => {
      for (const c of cs) {
        if (c.code) result!.add(c.code);
        if (c.contains) walk(c.contains);
      }
    };
    walk(vs.expansion.contains);
  } else if (vs?.compose?.include) {
    result = new Set();
    for (const inc of vs.compose.include) {
      if (inc.filter?.length) return memo(key, null);
      for (const nested of inc.valueSet ?? []) {
        const n = expandValueSet(nested, depth + 1);
        if (!n) return memo(key, null);
        for (const c of n) result.add(c);
      }
      if (inc.concept) {
        for (const c of inc.concept) result.add(c.code);
      } else if (inc.system) {
        const cs = t.get(`CodeSystem|${inc.system}`);
        if (cs?.content !== 'complete' || !cs.concept) return memo(key, null);
        conceptCodes(cs.concept, result);
      }
    }
    for (const exc of vs.compose.exclude ?? []) for (const c of exc.concept ?? []) result.delete(c.code);
  }
  return memo(key, result && result.size > 0 ? result : null);
}

function memo(key: string, v: Set<string> | null): Set<string> | null {
  expansions.set(key, v);
  return v;
}

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const isPrimitive = (t: string) => /^[a-z]/.test(t) || t.includes('/');

function planFor(type: string): ElementPlan[] {
  let p = plans.get(type);
  if (p) return p;
  p = [];
  let elements: Record<string, any> = {};
  try {
    elements = core.getDataType(type).elements as Record<string, any>;
  } catch {
    elements = {};
  }
  for (const [name, el] of Object.entries(elements)) {
    const types: string[] = (el.type ?? []).map((t: { code: string }) => t.code);
    const choice = name.endsWith('[x]');
    for (const t of types) {
      if (t === 'Extension' || t === 'Element' || t === 'Narrative') continue;
      const key = choice ? name.slice(0, -3) + cap(t) : name;
      const plan: ElementPlan = { key, type: t };
      if (t === 'code' && el.binding?.strength === 'required' && el.binding.valueSet) {
        const codes = expandValueSet(el.binding.valueSet);
        if (codes) {
          plan.codes = codes;
          plan.valueSet = el.binding.valueSet.split('|')[0];
        }
      }
      if (plan.codes || !isPrimitive(t)) p.push(plan);
    }
  }
  plans.set(type, p);
  return p;
}

function checkBindings(type: string, value: any, path: string, issues: OutcomeIssue[], depth: number): void {
  if (depth > 15 || value === null || typeof value !== 'object') return;
  for (const el of planFor(type)) {
    const v = value[el.key];
    if (v === undefined) continue;
    const items = Array.isArray(v) ? v : [v];
    items.forEach((item, i) => {
      const p = `${path}.${el.key}${Array.isArray(v) ? `[${i}]` : ''}`;
      if (el.codes) {
        if (typeof item === 'string' && !el.codes.has(item)) {
          issues.push({
            severity: 'error',
            code: 'code-invalid',
            diagnostics: `value "${item}" is not in the required value set ${el.valueSet}`,
            expression: [p],
          });
        }
      } else if (el.type === 'Resource') {
        if (item && typeof item.resourceType === 'string' && isResourceType(item.resourceType)) {
          checkBindings(item.resourceType, item, p, issues, depth + 1);
        }
      } else {
        checkBindings(el.type, item, p, issues, depth + 1);
      }
    });
  }
}

/** Issues of required-binding violations (empty when none). */
export function requiredBindingIssues(resource: Resource): OutcomeIssue[] {
  ensureStructures();
  const issues: OutcomeIssue[] = [];
  checkBindings(resource.resourceType, resource, resource.resourceType, issues, 0);
  return issues;
}

/**
 * Every issue of `resource` — errors, warnings and information — against base R4 (Medplum's validator
 * plus our required-binding check), or against `profile`, a StructureDefinition with a snapshot
 * (Medplum's validator walks the profile's snapshot, which carries the base rules too).
 */
export function validationIssues(resource: Resource, profile?: StructureDefinition): OutcomeIssue[] {
  ensureStructures();
  let issues: OutcomeIssue[];
  try {
    issues = (core.validateResource(resource as any, profile ? { profile: profile as any } : undefined) ?? []).map(toIssue);
  } catch (e) {
    const oo = (e as { outcome?: { issue?: any[] } }).outcome;
    if (!oo?.issue) return [{ severity: 'error', code: 'invalid', diagnostics: `invalid resource: ${(e as Error).message}` }];
    issues = oo.issue.map(toIssue);
  }
  if (!profile) issues.push(...requiredBindingIssues(resource));
  return issues;
}

const isError = (i: OutcomeIssue) => i.severity === 'error' || i.severity === 'fatal';

/** Full validation; throws a 400 FhirError whose issues carry FHIRPath expressions. */
export function validateFull(resource: Resource): void {
  const errors = validationIssues(resource).filter(isError);
  if (errors.length) throw new FhirError(400, errors);
}

const SEVERITIES = new Set(['fatal', 'error', 'warning', 'information']);

function toIssue(w: any): OutcomeIssue {
  return {
    severity: SEVERITIES.has(w.severity) ? w.severity : 'error',
    code: w.code ?? 'invalid',
    diagnostics: w.details?.text ?? w.diagnostics ?? 'invalid',
    ...(w.expression ? { expression: w.expression } : {}),
  };
}
