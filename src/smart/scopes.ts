/**
 * The one SMART scope grammar of the server (SMART App Launch 2.2 §"Scopes and Launch Context"),
 * read the same way by the authorization server (what it grants and shows on the consent page), the
 * FHIR access policy (what a token may do), bulk export (through that policy) and launch registration
 * (who may orchestrate). It imports nothing of theirs: they import it.
 *
 * A scope string is space-separated scope tokens (RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B /
 * %x5D-7E )`); a token with any other character (tab, newline, `"`, `\`, non-ASCII) is invalid, never
 * split further. Each token is one of:
 *
 * - resource scope `(patient|user|system)/(Type|*).(perms)[?param=value&…]` where `Type` is written as
 *   a FHIR resource type name (`[A-Z][A-Za-z]*`, at most 64 characters) and `perms` is either a v2
 *   permission set (`c?r?u?d?s?` in that order, non-empty; §"Scopes for requesting FHIR resources") or
 *   a v1 suffix mapped to v2 letters (`read` → rs, `write` → cud, `*` → cruds; §"SMART 1.0 scopes").
 *   The optional restriction (§"Finer-grained resource constraints using search parameters") is a
 *   non-empty list of `name=value` pairs with non-empty names. A syntactically valid type the server
 *   does not know (`patient/A.rs`) is a valid scope that grants nothing: no request names that type;
 * - launch scope `launch`, `launch/patient`, `launch/encounter` or another lower-case context name,
 *   optionally `?role=…` on a named context (§"Scopes for requesting context data");
 * - identity: `openid`, `fhirUser`, `profile` (§"Scopes for requesting identity data"),
 *   `offline_access`, `online_access` (§"Scopes for requesting a refresh token");
 * - the restricted `smart/orchestrate_launch` (only granted to clients registered with it).
 *
 * Case matters everywhere (`Patient/…`, `patient/observation.rs`, `patient/Observation.RS` are invalid).
 * Anything else is not a scope of this server: the authorization server never grants it and the FHIR
 * server, should it ever see one, derives no right from it.
 */

export type Perm = 'c' | 'r' | 'u' | 'd' | 's';
export type ScopeContext = 'patient' | 'user' | 'system';

/** The permission letters in the order SMART v2 writes them. */
export const PERMS: readonly Perm[] = ['c', 'r', 'u', 'd', 's'];

export interface ResourceScope {
  kind: 'resource';
  context: ScopeContext;
  /** A resource type name or `*`. */
  type: string;
  perms: ReadonlySet<Perm>;
  /** The restriction as written after `?` (v2 granular scopes). */
  query?: string;
  /** The same restriction as search parameters, ANDed with the scope by the FHIR server. */
  restriction?: URLSearchParams;
  /** `v1` for read/write/* suffixes, `v2` for permission letters. */
  version: 'v1' | 'v2';
  raw: string;
}

export interface LaunchScope {
  kind: 'launch';
  /** undefined for the bare EHR-launch scope `launch`; `patient`, `encounter`, … otherwise. */
  type?: string;
  role?: string;
  raw: string;
}

export interface NamedScope {
  /** `identity`: openid, fhirUser, profile, offline_access; `refresh`: online_access; `restricted`: smart/orchestrate_launch. */
  kind: 'identity' | 'refresh' | 'restricted';
  name: string;
  raw: string;
}

export type ParsedScope = ResourceScope | LaunchScope | NamedScope;

/** Scopes oidc-provider handles as OpenID Connect scopes (everything else is a resource scope of `aud`). */
export const OIDC_SCOPES = ['openid', 'fhirUser', 'profile', 'offline_access'] as const;
const OIDC = new Set<string>(OIDC_SCOPES);

/** The restricted scope that lets a token register launches for any app and persona. */
export const ORCHESTRATE_LAUNCH = 'smart/orchestrate_launch';

/** Longest scope token read; longer ones are invalid (no regex runs over unbounded input). */
const MAX_TOKEN = 512;
/** RFC 6749 §3.3 scope-token characters. */
const TOKEN_CHARS = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
const RESOURCE = /^(patient|user|system)\/(\*|[A-Z][A-Za-z]{0,63})\.(read|write|\*|[cruds]{1,5})(?:\?(.*))?$/;
const V2_PERMS = /^(?=.)c?r?u?d?s?$/;
const LAUNCH = /^launch(?:\/([a-z][a-z-]{0,63}))?(?:\?role=(.+))?$/;

function parseRestriction(text: string): URLSearchParams | undefined {
  if (text === '') return undefined;
  for (const pair of text.split('&')) {
    const eq = pair.indexOf('=');
    if (eq <= 0 || eq === pair.length - 1) return undefined; // `name=value`, both non-empty
  }
  return new URLSearchParams(text);
}

/** Reads one scope token; undefined when it is not a scope of this grammar. */
export function parseScope(scope: string): ParsedScope | undefined {
  if (typeof scope !== 'string' || scope.length > MAX_TOKEN || !TOKEN_CHARS.test(scope)) return undefined;
  const r = RESOURCE.exec(scope);
  if (r) {
    const suffix = r[3];
    let perms: Perm[];
    let version: 'v1' | 'v2' = 'v1';
    if (suffix === 'read') perms = ['r', 's'];
    else if (suffix === 'write') perms = ['c', 'u', 'd'];
    else if (suffix === '*') perms = [...PERMS];
    else if (V2_PERMS.test(suffix)) {
      perms = suffix.split('') as Perm[];
      version = 'v2';
    } else return undefined;
    const out: ResourceScope = { kind: 'resource', context: r[1] as ScopeContext, type: r[2], perms: new Set(perms), version, raw: scope };
    if (r[4] !== undefined) {
      const restriction = parseRestriction(r[4]);
      if (!restriction) return undefined;
      out.query = r[4];
      out.restriction = restriction;
    }
    return out;
  }
  const l = LAUNCH.exec(scope);
  if (l) {
    if (l[2] !== undefined && l[1] === undefined) return undefined; // `launch?role=` is meaningless
    return { kind: 'launch', type: l[1], role: l[2], raw: scope };
  }
  if (OIDC.has(scope)) return { kind: 'identity', name: scope, raw: scope };
  if (scope === 'online_access') return { kind: 'refresh', name: scope, raw: scope };
  if (scope === ORCHESTRATE_LAUNCH) return { kind: 'restricted', name: scope, raw: scope };
  return undefined;
}

/** The tokens of a scope string, in order, de-duplicated (RFC 6749 §3.3: separated by spaces). */
export function splitScopes(scope: string | undefined): string[] {
  return [...new Set(String(scope ?? '').split(' ').filter(Boolean))];
}

/** Every valid scope of a scope string, parsed; invalid tokens are left out. */
export function parseScopes(scope: string | undefined): ParsedScope[] {
  const out: ParsedScope[] = [];
  for (const s of splitScopes(scope)) {
    const p = parseScope(s);
    if (p) out.push(p);
  }
  return out;
}

/** The valid resource scopes of a scope string (what the FHIR access policy enforces). */
export function resourceScopes(scope: string | undefined): ResourceScope[] {
  return parseScopes(scope).filter((p): p is ResourceScope => p.kind === 'resource');
}

/** Whether a scope string grants `name` (an identity, refresh, launch or restricted scope) exactly. */
export function hasScope(scope: string | undefined, name: string): boolean {
  return parseScopes(scope).some((p) => p.kind !== 'resource' && p.raw === name);
}

export const isOidcScope = (s: string): boolean => OIDC.has(s);
