/**
 * Validation of a launch registration body (docs/architecture.md §5). Accepts HSPC's payload byte for byte
 * and the CDS Hooks sandbox's variant (`launchUrl` instead of `client_id`), keeps every value's JSON
 * type (no HSPC string-ification), and refuses keys that would shadow token or introspection fields.
 */
import { badRequest } from '../errors/errors.js';
import { RESERVED_CONTEXT_KEYS, SIMULATED_ERRORS, type SimulatedError } from './model.js';

/** Keys a launch parameter may not use (the shared list of the launch model). */
export const RESERVED_PARAMETER_KEYS = RESERVED_CONTEXT_KEYS;

const TOP_LEVEL_KEYS = new Set(['client_id', 'parameters', 'username', 'expires_in', 'launchUrl', 'simulate_error']);

export interface RegistrationRequest {
  clientId?: string;
  /** The CDS Hooks sandbox names the app by its launch URL instead of a client id. */
  launchUrl?: string;
  username?: string;
  expiresIn?: number;
  /** smart-sandbox extension: make this launch fail in a chosen way (SIMULATED_ERRORS). */
  simulateError?: SimulatedError;
  parameters: Record<string, unknown>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function optionalString(body: Record<string, unknown>, key: string, max = 256): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw badRequest(`${key} must be a non-empty string of at most ${max} characters`, [key]);
  return v;
}

function absoluteHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

/** Parses and normalises the body; existence checks (client, patient, persona) are the service's. */
export function parseRegistration(body: unknown): RegistrationRequest {
  if (!isObject(body)) throw badRequest('the request body must be a JSON object like {"client_id":"…","parameters":{…}}');
  const unknown = Object.keys(body).filter((k) => !TOP_LEVEL_KEYS.has(k));
  if (unknown.length) throw badRequest(`unknown top-level field(s): ${unknown.join(', ')}; allowed: ${[...TOP_LEVEL_KEYS].join(', ')}`);

  const clientId = optionalString(body, 'client_id');
  const username = optionalString(body, 'username');
  const launchUrl = optionalString(body, 'launchUrl', 2048);
  if (launchUrl !== undefined && !absoluteHttpUrl(launchUrl)) throw badRequest('launchUrl must be an absolute http(s) URL', ['launchUrl']);

  let expiresIn: number | undefined;
  if (body.expires_in !== undefined && body.expires_in !== null) {
    const e = body.expires_in;
    if (typeof e !== 'number' || !Number.isInteger(e) || e <= 0) throw badRequest('expires_in must be a positive integer number of seconds', ['expires_in']);
    expiresIn = e;
  }

  const raw = body.parameters ?? {};
  if (!isObject(raw)) throw badRequest('parameters must be a JSON object (it may be empty)', ['parameters']);
  const reserved = Object.keys(raw).filter((k) => RESERVED_PARAMETER_KEYS.has(k));
  if (reserved.length) throw badRequest(`reserved parameter key(s) not allowed: ${reserved.join(', ')}`, reserved.map((k) => `parameters.${k}`));

  const parameters: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (k.length === 0 || k.length > 128) throw badRequest('parameter names must have 1 to 128 characters', ['parameters']);
    // Defined, not assigned: a parameter named __proto__ is data, not a prototype (issue 12).
    Object.defineProperty(parameters, k === 'smartStyleUrl' ? 'smart_style_url' : k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  if ('smartStyleUrl' in raw && 'smart_style_url' in raw) throw badRequest('give either smartStyleUrl or smart_style_url, not both', ['parameters']);

  for (const key of ['patient', 'encounter', 'intent', 'tenant'] as const) {
    const v = parameters[key];
    if (v !== undefined && (typeof v !== 'string' || v.length === 0 || v.length > 256))
      throw badRequest(`parameters.${key} must be a non-empty string`, [`parameters.${key}`]);
  }
  for (const key of ['patient', 'encounter'] as const) {
    const v = parameters[key] as string | undefined;
    if (v !== undefined && !/^[A-Za-z0-9\-.]{1,64}$/.test(v)) throw badRequest(`parameters.${key} is not a valid FHIR id`, [`parameters.${key}`]);
  }

  const banner = parameters.need_patient_banner;
  if (banner !== undefined) {
    if (banner === 'true' || banner === 'false') parameters.need_patient_banner = banner === 'true';
    else if (typeof banner !== 'boolean') throw badRequest('parameters.need_patient_banner must be a boolean', ['parameters.need_patient_banner']);
  }

  const style = parameters.smart_style_url;
  if (style !== undefined && (typeof style !== 'string' || !absoluteHttpUrl(style)))
    throw badRequest('parameters.smart_style_url must be an absolute http(s) URL', ['parameters.smart_style_url']);

  const fhirContext = parameters.fhirContext;
  if (fhirContext !== undefined) {
    // SMART 2.2 §"fhirContext": an array of objects, each with reference, canonical or identifier.
    if (!Array.isArray(fhirContext) || !fhirContext.every(isObject))
      throw badRequest('parameters.fhirContext must be an array of objects (SMART App Launch 2.2)', ['parameters.fhirContext']);
    for (const item of fhirContext as Record<string, unknown>[]) {
      if (item.reference === undefined && item.canonical === undefined && item.identifier === undefined)
        throw badRequest('each parameters.fhirContext item needs reference, canonical or identifier', ['parameters.fhirContext']);
    }
  }

  const simulate = body.simulate_error;
  if (simulate !== undefined && simulate !== null && !(SIMULATED_ERRORS as readonly unknown[]).includes(simulate))
    throw badRequest(`simulate_error must be one of ${SIMULATED_ERRORS.join(', ')}`, ['simulate_error']);
  const simulateError = (simulate ?? undefined) as SimulatedError | undefined;

  if (username !== undefined && clientId === undefined) throw badRequest('username needs client_id: a single sign-on launch is bound to one app', ['username']);
  return { clientId, launchUrl, username, expiresIn, simulateError, parameters };
}
