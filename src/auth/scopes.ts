/**
 * The authorization server's use of the SMART scope grammar (src/smart/scopes.ts, the only parser):
 * the per-client allow-list check and plain-language descriptions for the consent page.
 */
import { type Perm, PERMS, parseScope, splitScopes } from '../smart/scopes.js';

// The grammar, re-exported for the authorization server's modules.
export { isOidcScope, OIDC_SCOPES, ORCHESTRATE_LAUNCH, parseScope, splitScopes } from '../smart/scopes.js';

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
      const verbs = PERMS.filter((x) => p.perms.has(x)).map((x) => PERM_WORDS[x]);
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
