/**
 * Read-side dispatch shared by the HTTP routes and Bundle GET entries: maps a path under the FHIR
 * base to read, vread, search, history, compartment search or `$everything`.
 */
import { badRequest, FhirError } from '../errors/errors.js';
import { resourceTypes } from './definitions.js';
import type { FhirRepository } from './repository.js';

function notFoundRoute(path: string[]): FhirError {
  return new FhirError(404, [{ severity: 'error', code: 'not-found', diagnostics: `no FHIR interaction at ${path.join('/') || '(base)'}` }]);
}

/** System-level search types: `_type`, or every type. */
export function systemSearchTypes(params: [string, string][], all: Iterable<string>): string[] {
  const t = params.find(([k]) => k === '_type');
  if (!t) return [...all];
  return t[1]
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * Evaluates a GET on the repository; returns the response body as JSON text. `query` is a query
 * string, or the parameters already parsed (POST `_search`: no round trip through a string).
 */
export async function getText(
  repo: FhirRepository,
  path: string[],
  query: string | [string, string][],
  opts: { strict?: boolean; allTypes: Iterable<string> },
): Promise<string> {
  const params = typeof query === 'string' ? [...new URLSearchParams(query)] : query;
  const [type, id, op, vid] = path;
  if (path.length === 0) {
    const types = systemSearchTypes(params, opts.allTypes);
    const r = await repo.search(types, params, { strict: opts.strict });
    return repo.searchBundle(r, '');
  }
  if (path.length === 1 && type === '_history') return repo.history({}, new URLSearchParams(params));
  if (path.length === 1) {
    const r = await repo.search([type], params, { strict: opts.strict });
    return repo.searchBundle(r, type);
  }
  if (path.length === 2 && id === '_history') return repo.history({ type }, new URLSearchParams(params));
  if (path.length === 2) return (await repo.read(type, id)).content!;
  if (path.length === 3 && op === '_history') return repo.history({ type, id }, new URLSearchParams(params));
  if (path.length === 3 && type === 'Patient' && op === '$everything') return repo.everything(id, new URLSearchParams(params));
  if (path.length === 3 && type === 'Patient' && /^[A-Z]/.test(op)) {
    // Compartment search: the patient must be readable, then the search is confined to it.
    await repo.read('Patient', id);
    const r = await repo.search([op], params, { strict: opts.strict, compartment: id });
    return repo.searchBundle(r, `Patient/${id}/${op}`);
  }
  if (path.length === 3 && /^[A-Z]/.test(op)) throw badRequest(`compartment searches are supported for Patient only`);
  if (path.length === 4 && op === '_history') return (await repo.vread(type, id, vid)).content!;
  throw notFoundRoute(path);
}

export async function handleGet(repo: FhirRepository, path: string[], query: string, allTypes: Iterable<string> = resourceTypes()): Promise<unknown> {
  return JSON.parse(await getText(repo, path, query, { allTypes }));
}
