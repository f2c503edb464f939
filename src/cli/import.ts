/**
 * `smart-sandbox import <sandbox> <file>...`: FHIR transaction/batch Bundles (`.json`) and NDJSON
 * (`.ndjson`, one resource per line, as Bulk Data exports write).
 *
 * All or nothing: a first pass reads and validates every resource of every file (import-check.ts);
 * the first mistake is reported with its file and line (or Bundle entry) and nothing is written.
 * `--validate-only` stops after that pass. Then NDJSON is written in transactions of 500 resources
 * (PUT when the resource has an id, else POST) and each `.json` Bundle as one transaction; a failure
 * while writing, after a clean check (a full disk, a concurrent writer), names the line range and says
 * that earlier batches stay written. Progress counts resources with a rate on stderr.
 */
import fs from 'node:fs';
import type { BundleEntry, Resource } from '@medplum/fhirtypes';
import type { Command } from 'commander';
import { ensureStructures } from '../fhir/medplum.js';
import type { Services } from '../services.js';
import type { Sandbox } from '../storage/types.js';
import { addStorageOptions, CliError, withServices } from './context.js';
import { checkFile, describeFhirError, entryFor, jsonBundle, ndjsonLines } from './import-check.js';
import { type Progress, progress } from './progress.js';

const NDJSON_BATCH = 500;

async function importJson(s: Services, sandbox: Sandbox, file: string, bar: Progress, before: number): Promise<number> {
  const bundle = jsonBundle(file);
  try {
    await s.fhir.transaction(sandbox.key, bundle);
  } catch (e) {
    throw new CliError(`${file}: ${describeFhirError(e)}${before ? ' (the files before it were imported)' : ' (nothing was imported)'}`);
  }
  const n = bundle.entry?.length ?? 0;
  bar.update(before + n);
  return n;
}

async function importNdjson(s: Services, sandbox: Sandbox, file: string, bar: Progress, before: number): Promise<number> {
  let batch: BundleEntry[] = [];
  let firstLine = 0;
  let lastLine = 0;
  let count = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    try {
      await s.fhir.transaction(sandbox.key, { resourceType: 'Bundle', type: 'transaction', entry: batch });
    } catch (e) {
      const written = before + count;
      throw new CliError(`${file} lines ${firstLine}-${lastLine}: ${describeFhirError(e)} (${written ? `${written} resources before these were imported` : 'nothing was imported'})`);
    }
    count += batch.length;
    batch = [];
    bar.update(before + count);
  };
  for await (const { value, line } of ndjsonLines(file)) {
    if (batch.length === 0) firstLine = line;
    lastLine = line;
    batch.push(entryFor(value as Resource));
    if (batch.length === NDJSON_BATCH) await flush();
  }
  await flush();
  return count;
}

export function registerImport(program: Command): void {
  addStorageOptions(
    program
      .command('import <sandbox> <files...>')
      .description('load transaction/batch Bundles (.json) or NDJSON (.ndjson) into a sandbox: all validated first, all or nothing')
      .option('--validate-only', 'check every resource as an import would and report; write nothing'),
  ).action((id: string, files: string[], opts) =>
    withServices(opts, async (s) => {
      const sandbox = await s.tenants.get(id);
      if (!sandbox) throw new CliError(`sandbox ${id} does not exist`);
      for (const file of files) {
        const stat = fs.statSync(file, { throwIfNoEntry: false });
        if (!stat) throw new CliError(`${file}: no such file`);
        if (!stat.isFile()) throw new CliError(`${file}: not a file`);
      }
      // The R4 definitions load once, before the clock of the rate starts.
      ensureStructures();
      const counts: number[] = [];
      const checking = progress('validating');
      let checked = 0;
      try {
        for (const file of files) counts.push(await checkFile(file, () => checking.update(++checked)));
      } catch (e) {
        checking.stop({ silent: true });
        throw e instanceof CliError ? new CliError(`${e.message} (nothing was imported)`) : e;
      }
      checking.stop();
      if (opts.validateOnly) {
        for (const [i, file] of files.entries()) process.stdout.write(`${file}: ${counts[i]} resources valid\n`);
        return;
      }
      const total = counts.reduce((a, b) => a + b, 0);
      const importing = progress(`importing into ${id}`, total);
      let done = 0;
      try {
        for (const file of files) {
          const n = file.endsWith('.ndjson') ? await importNdjson(s, sandbox, file, importing, done) : await importJson(s, sandbox, file, importing, done);
          done += n;
          process.stdout.write(`${file}: imported ${n} resources into ${id}\n`);
        }
      } finally {
        importing.stop({ silent: done === 0 });
      }
      // Fresh planner statistics for the searches that follow a load (see loadData).
      await s.fhir.store.optimize();
    }),
  );
}
