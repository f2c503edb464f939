/**
 * SMART App Launch 2.2 scopes (scopes-and-launch-context §"Scopes"): parsing, the per-client
 * allow-list check, and plain-language descriptions for the consent page.
 *
 * Resource scopes: `(patient|user|system)/(Type|*).(cruds subset in order | read | write | *)[?param=value&…]`.
 * v1 suffixes map to v2 letters: read → rs, write → cud, * → cruds (§"Scopes for requesting FHIR
 * resources", v1 compatibility).
 */

export type Perm = 'c' | 'r' | 'u' | 'd' | 's';

export interface ResourceScope {
  kind: 'resource';
  context: 'patient' | 'user' | 'system';
  type: string;
  perms: Set<Perm>;
  /** The `?…` restriction (v2 granular scopes), without the `?`. */
  query?: string;
}

export interface LaunchScope {
  kind: 'launch';
  /** undefined for the bare EHR-launch scope `launch`. */
  type?: string;
  role?: string;
}

export type ParsedScope = ResourceScope | LaunchScope | { kind: 'identity' | 'refresh' | 'restricted'; name: string };

/** Scopes oidc-provider handles as OpenID Connect scopes (everything else is a resource scope of `aud`). */
export const OIDC_SCOPES = ['openid', 'fhirUser', 'profile', 'offline_access'] as const;
const OIDC = new Set<string>(OIDC_SCOPES);

/** Scopes only granted to clients registered with them (brief, §2). */
export const ORCHESTRATE_LAUNCH = 'smart/orchestrate_launch';

const RESOURCE = /^(patient|user|system)\/(\*|[A-Z][A-Za-z]{0,63})\.([a-z*]{1,5})(?:\?(\S+))?$/;
const V2_PERMS = /^(?=.)c?r?u?d?s?$/;
const LAUNCH = /^launch(?:\/([a-z][a-z-]{0,63}))?(?:\?role=(\S+))?$/;

export function parseScope(scope: string): ParsedScope | undefined {
  if (scope.length > 512) return undefined;
  const r = RESOURCE.exec(scope);
  if (r) {
    const suffix = r[3];
    let perms: Perm[];
    if (suffix === 'read') perms = ['r', 's'];
    else if (suffix === 'write') perms = ['c', 'u', 'd'];
    else if (suffix === '*') perms = ['c', 'r', 'u', 'd', 's'];
    else if (V2_PERMS.test(suffix)) perms = suffix.split('') as Perm[];
    else return undefined;
    return { kind: 'resource', context: r[1] as ResourceScope['context'], type: r[2], perms: new Set(perms), query: r[4] };
  }
  const l = LAUNCH.exec(scope);
  if (l) {
    if (l[2] !== undefined && l[1] === undefined) return undefined; // `launch?role=` is meaningless
    return { kind: 'launch', type: l[1], role: l[2] };
  }
  if (OIDC.has(scope)) return { kind: 'identity', name: scope };
  if (scope === 'online_access') return { kind: 'refresh', name: scope };
  if (scope === ORCHESTRATE_LAUNCH) return { kind: 'restricted', name: scope };
  return undefined;
}

export function splitScopes(scope: string | undefined): string[] {
  return [...new Set(String(scope ?? '').split(' ').filter(Boolean))];
}

/**
 * Whether `requested` is covered by one of the client's registered scopes. Resource scopes match by
 * context, type (`*` covers every type) and permission letters; a registered scope with a `?…`
 * restriction only covers the identical restriction. `system/` and `smart/orchestrate_launch` are
 * therefore only granted to clients registered with them.
 */
export function scopeAllowed(requested: string, allowed: readonly string[]): boolean {
  const want = parseScope(requested);
  if (!want) return false;
  for (const a of allowed) {
    if (a === requested) return true;
    const have = parseScope(a);
    if (!have) continue;
    if (want.kind === 'resource' && have.kind === 'resource') {
      if (have.context !== want.context) continue;
      if (have.type !== '*' && have.type !== want.type) continue;
      if (have.query !== undefined && have.query !== want.query) continue;
      if ([...want.perms].every((p) => have.perms.has(p))) return true;
    } else if (want.kind === 'launch' && have.kind === 'launch') {
      if (have.type === want.type && have.role === undefined) return true;
      if (have.type === '*' && want.type !== undefined) return true;
    }
  }
  return false;
}

/** The requested scopes the client may be granted, in request order, de-duplicated. */
export function allowedScopes(requested: string | undefined, clientScope: string): string[] {
  const allow = splitScopes(clientScope);
  return splitScopes(requested).filter((s) => scopeAllowed(s, allow));
}

export const isOidcScope = (s: string): boolean => OIDC.has(s);

const PERM_WORDS: Record<Perm, string> = { c: 'create', r: 'read', u: 'update', d: 'delete', s: 'search' };

/** One line of plain language per scope, for the consent page. */
export function describeScope(scope: string): string {
  const p = parseScope(scope);
  if (!p) return scope;
  switch (p.kind) {
    case 'resource': {
      const what = p.type === '*' ? 'all kinds of records' : `${p.type} records`;
      const whose =
        p.context === 'patient' ? 'of the patient in context' : p.context === 'user' ? 'that you can access' : 'of the whole sandbox';
      const verbs = (['c', 'r', 'u', 'd', 's'] as Perm[]).filter((x) => p.perms.has(x)).map((x) => PERM_WORDS[x]);
      return `${verbs.join(', ')} ${what} ${whose}${p.query ? ` (only where ${p.query})` : ''}`;
    }
    case 'launch':
      if (p.type === undefined) return 'receive the context of the launch from the EHR (patient, encounter…)';
      return `know which ${p.type} you choose when the app starts${p.role ? ` (role ${p.role})` : ''}`;
    case 'identity':
      return {
        openid: 'confirm your identity (OpenID Connect)',
        fhirUser: 'know which FHIR resource represents you',
        profile: 'read your name',
        offline_access: 'keep access when you are not using it (long-lived refresh token)',
      }[p.name] as string;
    case 'refresh':
      return 'keep access while you stay logged in';
    case 'restricted':
      return 'register launch contexts for other apps';
  }
}
