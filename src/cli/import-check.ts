/**
 * The checking pass of `smart-sandbox import` (also all of `import --validate-only`): every resource
 * of every file is read and validated exactly as a write would validate it (R4 structure and
 * required bindings), before anything is written, so that a mistake in the input (a line that is not
 * JSON, an unknown resource type, an invalid resource) imports nothing and names its file and line.
 */
import fs from 'node:fs';
import readline from 'node:readline';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { FhirError } from '../errors/errors.js';
import { AUDIT_TYPE } from '../fhir/audit-events.js';
import { ID_PATTERN, isResourceType } from '../fhir/definitions.js';
import { validateFull } from '../fhir/validation.js';
import { CliError } from './context.js';

export function describeFhirError(e: unknown): string {
  return e instanceof FhirError
    ? e.issues.map((i) => `${i.diagnostics ?? i.code}${i.expression ? ` at ${i.expression.join(', ')}` : ''}`).join('; ')
    : e instanceof Error
      ? e.message
      : String(e);
}

/** The same refusals a privileged write makes, as one line that names where the resource is. */
export function checkResource(value: unknown, where: string): Resource {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CliError(`${where}: not a JSON object`);
  const r = value as Resource;
  if (typeof r.resourceType !== 'string') throw new CliError(`${where}: not a FHIR resource (no resourceType)`);
  if (!isResourceType(r.resourceType)) throw new CliError(`${where}: unknown resourceType ${JSON.stringify(r.resourceType)}`);
  // AuditEvent is the read-only launch audit trail (see fhir/audit-events.ts): every write refuses it.
  if (r.resourceType === AUDIT_TYPE) throw new CliError(`${where}: AuditEvent is the read-only launch audit trail and cannot be imported`);
  if (r.id !== undefined && (typeof r.id !== 'string' || !ID_PATTERN.test(r.id))) throw new CliError(`${where}: invalid id ${JSON.stringify(r.id)}`);
  try {
    validateFull(r);
  } catch (e) {
    throw new CliError(`${where}: ${r.resourceType}${r.id ? `/${r.id}` : ''} is invalid: ${describeFhirError(e)}`);
  }
  return r;
}

/** Each non-blank NDJSON line as a parsed value with its 1-based line number. */
export async function* ndjsonLines(file: string): AsyncIterable<{ value: unknown; line: number }> {
  const lines = readline.createInterface({ input: fs.createReadStream(file, 'utf8'), crlfDelay: Number.POSITIVE_INFINITY });
  let line = 0;
  for await (const text of lines) {
    line++;
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      lines.close();
      throw new CliError(`${file} line ${line}: not valid JSON (${(e as Error).message})`);
    }
    yield { value, line };
  }
}

/** A `.json` file as the transaction or batch Bundle to post: a Bundle of another type or a single resource is wrapped. */
export function jsonBundle(file: string): Bundle {
  let doc: unknown;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new CliError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  const r = doc as Resource & Partial<Bundle>;
  if (typeof r !== 'object' || r === null || Array.isArray(r) || typeof r.resourceType !== 'string') throw new CliError(`${file}: not a FHIR resource`);
  if (r.resourceType === 'Bundle' && (r.type === 'transaction' || r.type === 'batch')) {
    if (r.entry !== undefined && !Array.isArray(r.entry)) throw new CliError(`${file}: Bundle.entry must be an array`);
    return r as Bundle;
  }
  if (r.resourceType === 'Bundle') {
    const entries = Array.isArray(r.entry) ? r.entry : [];
    return { resourceType: 'Bundle', type: 'transaction', entry: entries.filter((e) => e?.resource).map((e) => entryFor(e.resource as Resource)) };
  }
  return { resourceType: 'Bundle', type: 'transaction', entry: [entryFor(r)] };
}

/** PUT when the resource has an id (kept), else POST. */
export function entryFor(resource: Resource): BundleEntry {
  return resource.id
    ? { resource, request: { method: 'PUT', url: `${resource.resourceType}/${resource.id}` } }
    : { resource, request: { method: 'POST', url: resource.resourceType } };
}

/**
 * Checks one file; returns how many resources it holds. `onResource` counts progress. Bundle entries
 * are named by their 1-based position ("entry 3"), NDJSON resources by their line.
 */
export async function checkFile(file: string, onResource: () => void): Promise<number> {
  let n = 0;
  if (file.endsWith('.ndjson')) {
    for await (const { value, line } of ndjsonLines(file)) {
      checkResource(value, `${file} line ${line}`);
      n++;
      onResource();
    }
    return n;
  }
  const bundle = jsonBundle(file);
  for (const [i, entry] of (bundle.entry ?? []).entries()) {
    if (entry?.resource === undefined) continue;
    checkResource(entry.resource, `${file} entry ${i + 1}`);
    n++;
    onResource();
  }
  return n;
}
