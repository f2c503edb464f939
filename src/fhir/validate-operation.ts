/**
 * `$validate` (R4 Resource-validate, http://hl7.org/fhir/R4/resource-operation-validate.html):
 * `POST [base]/[type]/$validate` and `POST [base]/[type]/[id]/$validate`. In: a Parameters resource
 * (`resource`, `mode`, `profile`) or the bare resource as the body; `mode` and `profile` may also be
 * URL parameters. Out: an OperationOutcome, 200 whenever the validation ran — errors in the resource
 * are issues, not a failed request. A request that cannot be understood is a 4xx.
 *
 * The resource is checked against base R4 exactly as a write is (validation.ts), and against every
 * StructureDefinition stored in the sandbox that it claims in `meta.profile` or that `profile` names.
 * `mode` adds what the interaction would check: `create` the create scope and the grant's compartment
 * rule for the new resource (an `error` issue when it would be refused); `update` and `delete` an
 * existing resource the grant may update/delete (the same 404 as the interaction, so `$validate` is no
 * existence oracle either); `update` also that the ids agree.
 */
import type { Resource, StructureDefinition } from '@medplum/fhirtypes';
import { badRequest, type OutcomeIssue } from '../errors/errors.js';
import { AccessPolicy } from './access/policy.js';
import type { Perm } from '../smart/scopes.js';
import { FhirRepository } from './repository.js';
import { validationIssues } from './validation.js';

const MODES = ['create', 'update', 'delete', 'profile'] as const;
type Mode = (typeof MODES)[number];

/** At most this many profiles are checked per request (each is a look-up and a validation pass). */
export const MAX_VALIDATE_PROFILES = 10;

/** The base definition of a type (`…/StructureDefinition/Patient`) is what base validation checks. */
const BASE_PROFILE = 'http://hl7.org/fhir/StructureDefinition/';

interface ValidateRequest {
  resource?: Record<string, any>;
  mode?: Mode;
  profile?: string;
}

/** `[type, '$validate']` or `[type, id, '$validate']`: the target of a `$validate` POST. */
export function validateTarget(path: string[]): { type: string; id?: string } | undefined {
  if (path.length === 2 && path[1] === '$validate') return { type: path[0] };
  if (path.length === 3 && path[2] === '$validate') return { type: path[0], id: path[1] };
  return undefined;
}

function setOnce(req: ValidateRequest, name: 'mode' | 'profile', value: unknown): void {
  if (typeof value !== 'string' || value === '') throw badRequest(`$validate: parameter ${name} must be a non-empty string`);
  if (req[name] !== undefined) throw badRequest(`$validate: parameter ${name} is given more than once`);
  if (name === 'mode') {
    if (!(MODES as readonly string[]).includes(value)) throw badRequest(`$validate: mode must be one of ${MODES.join(', ')}, got ${JSON.stringify(value)}`);
    req.mode = value as Mode;
  } else {
    req.profile = value;
  }
}

function isWrapper(type: string, body: Record<string, any>): boolean {
  if (body.resourceType !== 'Parameters') return false;
  // Validating a Parameters resource itself: it is the wrapper only when it carries a `resource` part.
  return type !== 'Parameters' || (Array.isArray(body.parameter) && body.parameter.some((p: any) => p?.name === 'resource'));
}

function parseRequest(type: string, body: unknown, query: URLSearchParams): ValidateRequest {
  const req: ValidateRequest = {};
  for (const [k, v] of query) {
    if (k === 'mode' || k === 'profile') setOnce(req, k, v);
    else if (k !== '_format' && k !== '_pretty') throw badRequest(`$validate: unknown URL parameter ${k}`);
  }
  if (body === undefined || body === null || body === '') return req;
  if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('$validate takes a Parameters resource or the resource to validate as a JSON object');
  const b = body as Record<string, any>;
  if (!isWrapper(type, b)) {
    req.resource = b;
    return req;
  }
  if (b.parameter !== undefined && !Array.isArray(b.parameter)) throw badRequest('Parameters.parameter must be an array');
  for (const p of (b.parameter ?? []) as any[]) {
    const name = p?.name;
    if (name === 'resource') {
      if (req.resource !== undefined) throw badRequest('$validate: parameter resource is given more than once');
      if (!p.resource || typeof p.resource !== 'object' || Array.isArray(p.resource)) throw badRequest('$validate: parameter resource must carry a resource');
      req.resource = p.resource;
    } else if (name === 'mode') {
      setOnce(req, 'mode', p.valueCode ?? p.valueString);
    } else if (name === 'profile') {
      setOnce(req, 'profile', p.valueUri ?? p.valueCanonical ?? p.valueString);
    } else {
      throw badRequest(`$validate: unknown parameter ${JSON.stringify(name ?? null)}`);
    }
  }
  return req;
}

/** The access the validated interaction needs; for plain validation any access to the type. */
async function authorize(repo: FhirRepository, type: string, id: string | undefined, mode: Mode | undefined): Promise<void> {
  if (mode === 'update' || mode === 'delete') {
    await repo.writableCurrent(type, id!, mode === 'update' ? 'u' : 'd');
    return;
  }
  if (mode === 'create') {
    repo.policy.constraint(type, 'c');
    return;
  }
  const any = (['c', 'u', 'r', 's'] as Perm[]).some((op) => repo.policy.tryConstraint(type, op) !== undefined);
  if (!any) repo.policy.constraint(type, 'c'); // throws the scope error
}

/** A StructureDefinition stored in the sandbox with this canonical URL (`url|version` picks a version). */
async function storedProfile(repo: FhirRepository, canonical: string): Promise<StructureDefinition | undefined> {
  const [url, version] = canonical.split('|', 2);
  // Conformance resources are looked up by the server itself, whatever the token may read.
  const server = new FhirRepository({ store: repo.store, tenant: repo.tenant, policy: new AccessPolicy({ kind: 'privileged' }), baseUrl: repo.baseUrl });
  const found = await server.search(['StructureDefinition'], [['url', url], ['_sort', '-_lastUpdated']], { count: 50 });
  const sds = found.matches.map((m) => JSON.parse(m.content) as StructureDefinition);
  return sds.find((sd) => version === undefined || sd.version === version);
}

async function profileIssues(repo: FhirRepository, resource: Resource, url: string, nominated: boolean): Promise<OutcomeIssue[]> {
  const missing = nominated ? 'error' : 'warning';
  const sd = await storedProfile(repo, url);
  if (!sd) {
    return [{ severity: missing, code: 'not-found', diagnostics: `profile ${url} is not a StructureDefinition stored in this sandbox; not validated against it` }];
  }
  if (sd.type !== resource.resourceType) {
    return [{ severity: 'error', code: 'invalid', diagnostics: `profile ${url} constrains ${sd.type}, not ${resource.resourceType}` }];
  }
  if (!sd.snapshot?.element?.length) {
    return [{ severity: missing, code: 'not-supported', diagnostics: `profile ${url} has no snapshot; only profiles with a snapshot can be validated against` }];
  }
  return validationIssues(resource, sd).map((i) => ({ ...i, diagnostics: `${i.diagnostics ?? i.code} (profile ${url})` }));
}

/** Runs `$validate`; returns the OperationOutcome (200) or throws a FhirError (4xx). */
export async function validateOperation(repo: FhirRepository, type: string, id: string | undefined, body: unknown, query: URLSearchParams): Promise<Record<string, unknown>> {
  repo.requireType(type);
  const req = parseRequest(type, body, query);
  const { mode } = req;
  if ((mode === 'update' || mode === 'delete') && id === undefined) throw badRequest(`$validate mode ${mode} checks an existing resource: POST [base]/${type}/[id]/$validate`);
  if (mode === 'create' && id !== undefined) throw badRequest('$validate mode create is a type-level operation: POST [base]/[type]/$validate');
  await authorize(repo, type, id, mode);
  if (mode === 'delete') {
    // Nothing in this server refuses a delete the grant allows (no referential integrity checks).
    return outcome([]);
  }
  if (!req.resource) throw badRequest('$validate needs the resource: a Parameters part named resource, or the resource itself as the body');
  const resource = req.resource as Resource;
  if (resource.resourceType !== type) {
    return outcome([{ severity: 'error', code: 'invalid', diagnostics: `resourceType must be ${type}, got ${JSON.stringify(resource.resourceType ?? null)}`, expression: ['resourceType'] }]);
  }
  const issues: OutcomeIssue[] = [];
  if ((mode === 'update' || (id !== undefined && resource.id !== undefined)) && resource.id !== id) {
    issues.push({ severity: 'error', code: 'invalid', diagnostics: `the resource id ${JSON.stringify(resource.id ?? null)} does not match the URL id ${id}`, expression: [`${type}.id`] });
  }
  issues.push(...validationIssues(resource));
  if (mode === 'create' && !issues.some((i) => i.severity === 'error' || i.severity === 'fatal')) {
    const refusal = await repo.createRefusal(type, resource);
    if (refusal) issues.push({ severity: 'error', code: 'forbidden', diagnostics: `a create would be refused: ${refusal}` });
  }
  const claimed = Array.isArray(resource.meta?.profile) ? resource.meta.profile.filter((p): p is string => typeof p === 'string') : [];
  const profiles = [...new Set([...(req.profile ? [req.profile] : []), ...claimed])].filter((p) => p !== `${BASE_PROFILE}${type}`);
  for (const [i, url] of profiles.entries()) {
    if (i >= MAX_VALIDATE_PROFILES) {
      issues.push({ severity: 'warning', code: 'too-costly', diagnostics: `only the first ${MAX_VALIDATE_PROFILES} profiles are checked; ${url} and later ones were not` });
      break;
    }
    issues.push(...(await profileIssues(repo, resource, url, url === req.profile)));
  }
  return outcome(dedupe(issues));
}

function dedupe(issues: OutcomeIssue[]): OutcomeIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = JSON.stringify(i);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function outcome(issues: OutcomeIssue[]): Record<string, unknown> {
  return {
    resourceType: 'OperationOutcome',
    issue: issues.length ? issues : [{ severity: 'information', code: 'informational', diagnostics: 'validation successful: no issues found' }],
  };
}
