/**
 * `smart-sandbox import <sandbox> <file>...`: FHIR transaction/batch Bundles (`.json`) and NDJSON
 * (`.ndjson`, one resource per line, as Bulk Data exports write). NDJSON is loaded in transactions of
 * 500 validated resources (PUT when the resource has an id, else POST); a failing batch stops the
 * import and names the line range, and nothing of that batch is written.
 */
import fs from 'node:fs';
import readline from 'node:readline';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import type { Command } from 'commander';
import { FhirError } from '../errors/errors.js';
import type { Services } from '../services.js';
import type { Sandbox } from '../storage/types.js';
import { addStorageOptions, CliError, withServices } from './context.js';
import { progressBar } from './progress.js';

const NDJSON_BATCH = 500;

function entryFor(resource: Resource): BundleEntry {
  return resource.id
    ? { resource, request: { method: 'PUT', url: `${resource.resourceType}/${resource.id}` } }
    : { resource, request: { method: 'POST', url: resource.resourceType } };
}

function describe(e: unknown): string {
  return e instanceof FhirError ? e.issues.map((i) => `${i.diagnostics ?? i.code}${i.expression ? ` at ${i.expression.join(', ')}` : ''}`).join('; ') : String(e);
}

async function importJson(s: Services, sandbox: Sandbox, file: string): Promise<number> {
  let doc: unknown;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new CliError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  const r = doc as Resource & Partial<Bundle>;
  if (typeof r !== 'object' || r === null || typeof r.resourceType !== 'string') throw new CliError(`${file}: not a FHIR resource`);
  let bundle: Bundle;
  if (r.resourceType === 'Bundle' && (r.type === 'transaction' || r.type === 'batch')) bundle = r as Bundle;
  else if (r.resourceType === 'Bundle') bundle = { resourceType: 'Bundle', type: 'transaction', entry: (r.entry ?? []).filter((e) => e.resource).map((e) => entryFor(e.resource as Resource)) };
  else bundle = { resourceType: 'Bundle', type: 'transaction', entry: [entryFor(r)] };
  try {
    await s.fhir.transaction(sandbox.key, bundle);
  } catch (e) {
    throw new CliError(`${file}: ${describe(e)}`);
  }
  return bundle.entry?.length ?? 0;
}

async function importNdjson(s: Services, sandbox: Sandbox, file: string): Promise<number> {
  const total = fs.statSync(file).size;
  const bar = progressBar(file, total);
  const lines = readline.createInterface({ input: fs.createReadStream(file, 'utf8'), crlfDelay: Number.POSITIVE_INFINITY });
  let batch: BundleEntry[] = [];
  let lineNo = 0;
  let firstLine = 1;
  let bytes = 0;
  let count = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    try {
      await s.fhir.transaction(sandbox.key, { resourceType: 'Bundle', type: 'transaction', entry: batch });
    } catch (e) {
      bar.stop();
      throw new CliError(`${file} lines ${firstLine}-${lineNo}: ${describe(e)} (earlier batches were imported)`);
    }
    count += batch.length;
    batch = [];
    firstLine = lineNo + 1;
    bar.update(bytes);
  };
  for await (const line of lines) {
    lineNo++;
    bytes += Buffer.byteLength(line) + 1;
    if (line.trim() === '') continue;
    let r: Resource;
    try {
      r = JSON.parse(line);
    } catch (e) {
      bar.stop();
      throw new CliError(`${file} line ${lineNo}: not valid JSON (${(e as Error).message})`);
    }
    if (typeof r !== 'object' || r === null || typeof r.resourceType !== 'string') throw new CliError(`${file} line ${lineNo}: not a FHIR resource`);
    batch.push(entryFor(r));
    if (batch.length === NDJSON_BATCH) await flush();
  }
  await flush();
  bar.update(total);
  bar.stop();
  return count;
}

export function registerImport(program: Command): void {
  addStorageOptions(
    program
      .command('import <sandbox> <files...>')
      .description('load transaction/batch Bundles (.json) or NDJSON (.ndjson) into a sandbox, validated'),
  ).action((id: string, files: string[], opts) =>
    withServices(opts, async (s) => {
      const sandbox = await s.tenants.get(id);
      if (!sandbox) throw new CliError(`sandbox ${id} does not exist`);
      for (const file of files) {
        if (!fs.existsSync(file)) throw new CliError(`${file}: no such file`);
        const n = file.endsWith('.ndjson') ? await importNdjson(s, sandbox, file) : await importJson(s, sandbox, file);
        process.stdout.write(`${file}: imported ${n} resources into ${id}\n`);
      }
      // Fresh planner statistics for the searches that follow a load (see loadData).
      await s.fhir.store.optimize();
    }),
  );
}
