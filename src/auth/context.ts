/**
 * The SMART launch context of one authorization (SMART 2.2 §"Launch context arrives with your
 * access_token"): what the token response, every refresh response and introspection carry.
 */
import { RESERVED_CONTEXT_KEYS, type StoredLaunch } from '../launch/model.js';

/**
 * Keys of the token response the context never overrides: the launch model's reserved keys, and
 * `smartStyleUrl` (registration normalises it to smart_style_url).
 */
const SHADOWED = new Set([...RESERVED_CONTEXT_KEYS, 'smartStyleUrl']);

/** Internal key carrying the full granted scope on access tokens (see provider.ts, token post-processing). */
export const GRANTED_SCOPE_KEY = 'smart_granted_scope';
/** Internal key: hash of the launch id an authorization came from, for the launch audit (never sent). */
export const LAUNCH_HASH_KEY = 'smart_launch_hash';
/** Internal key: the simulated error of the launch (src/launch/model.ts), enforced at /token and by the verifier. */
export const SIMULATE_KEY = 'smart_simulate_error';
const INTERNAL = new Set([GRANTED_SCOPE_KEY, LAUNCH_HASH_KEY, SIMULATE_KEY]);

/**
 * Launch parameter names are data, and some collide with members of Object.prototype (`constructor`,
 * `toString`, `__proto__`…). oidc-provider refuses extra token claims whose `constructor` is not
 * Object, and `__proto__` assigned with `=` would replace a prototype instead of adding a key. Such
 * names (and names that already carry the prefix) are stored escaped in the token's extra claims and
 * restored, as own properties, wherever the context leaves the server.
 */
const PROTOTYPE_KEYS = new Set(Object.getOwnPropertyNames(Object.prototype));
const ESCAPE_PREFIX = 'smart_key:';

/** Sets `key` as an own enumerable property, whatever its name (never touches a prototype). */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function escapeKey(k: string): string {
  return PROTOTYPE_KEYS.has(k) || k.startsWith(ESCAPE_PREFIX) ? `${ESCAPE_PREFIX}${k}` : k;
}

/** The original name of a stored extra-claim key (see escapeKey). */
export function unescapeKey(k: string): string {
  return k.startsWith(ESCAPE_PREFIX) ? k.slice(ESCAPE_PREFIX.length) : k;
}

/** A context as extra token claims: a plain object whose keys never name a prototype member. */
export function extraClaimsOf(context: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(context)) setOwn(out, escapeKey(k), v);
  return out;
}

export interface ContextInput {
  launch?: StoredLaunch;
  patient?: string;
  encounter?: string;
  /** Absolute fhirUser URL of the persona (for introspection; the id_token carries it too). */
  fhirUser?: string;
  defaultStyleUrl: string;
}

/**
 * Launch parameters keep their JSON types (docs/architecture.md §5). An EHR launch always carries
 * need_patient_banner (default true) and smart_style_url (default: the server's style document);
 * standalone launches get the same defaults so apps can rely on them.
 */
export function buildContext(i: ContextInput): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(i.launch?.parameters ?? {})) if (!SHADOWED.has(k) && v !== undefined) setOwn(out, k, v);
  delete out.patient;
  delete out.encounter;
  if (i.patient) out.patient = i.patient;
  if (i.encounter) out.encounter = i.encounter;
  const banner = out.need_patient_banner;
  out.need_patient_banner = banner === 'false' ? false : banner === 'true' ? true : typeof banner === 'boolean' ? banner : true;
  if (typeof out.smart_style_url !== 'string' || !out.smart_style_url) out.smart_style_url = i.defaultStyleUrl;
  if (i.fhirUser) out.fhirUser = i.fhirUser;
  if (i.launch) out[LAUNCH_HASH_KEY] = i.launch.idHash;
  if (i.launch?.simulateError) out[SIMULATE_KEY] = i.launch.simulateError;
  return out;
}

/**
 * The context keys that go into a token response (fhirUser travels in the id_token instead), from a
 * context or from a token's extra claims (escaped keys restored).
 */
export function tokenResponseContext(context: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [stored, v] of Object.entries(context)) {
    const k = unescapeKey(stored);
    if (!SHADOWED.has(k) && !INTERNAL.has(k)) setOwn(out, k, v);
  }
  return out;
}
