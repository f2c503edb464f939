/**
 * SMART scope parsing (App Launch 2.2 §"Scopes for requesting clinical data"): v2
 * `patient/Observation.rs?category=…` and v1 `patient/Observation.read` / `.write` / `.*`.
 * v1 maps read→rs and write→cud, `*` to cruds. Anything that is not a clinical-data scope
 * (openid, launch, fhirUser, offline_access, smart/…) is ignored here.
 */
export type Perm = 'c' | 'r' | 'u' | 'd' | 's';
export type ScopeContext = 'patient' | 'user' | 'system';

export interface ScopeRule {
  context: ScopeContext;
  /** A resource type or `*`. */
  type: string;
  perms: Set<Perm>;
  /** v2 search-parameter restriction (`?category=…`), ANDed with the scope. */
  query?: URLSearchParams;
  raw: string;
}

const SCOPE = /^(patient|user|system)\/(\*|[A-Z][A-Za-z]+)\.(read|write|\*|c?r?u?d?s?)(?:\?(.*))?$/;

export function parseScope(s: string): ScopeRule | undefined {
  const m = SCOPE.exec(s);
  if (!m || m[3] === '') return undefined;
  let perms: Perm[];
  if (m[3] === 'read') perms = ['r', 's'];
  else if (m[3] === 'write') perms = ['c', 'u', 'd'];
  else if (m[3] === '*') perms = ['c', 'r', 'u', 'd', 's'];
  else perms = m[3].split('') as Perm[];
  const rule: ScopeRule = { context: m[1] as ScopeContext, type: m[2], perms: new Set(perms), raw: s };
  if (m[4] !== undefined) {
    const q = new URLSearchParams(m[4]);
    if ([...q.keys()].length === 0) return undefined;
    rule.query = q;
  }
  return rule;
}

export function parseScopes(scope: string): ScopeRule[] {
  const out: ScopeRule[] = [];
  for (const s of scope.split(/\s+/)) {
    if (!s) continue;
    const r = parseScope(s);
    if (r) out.push(r);
  }
  return out;
}
