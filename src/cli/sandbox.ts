import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { sandboxUrls } from '../config/urls.js';
import { createSandbox, deleteSandbox, exportSandbox, parseDataChoice, resetSandbox } from '../sandbox/lifecycle.js';
import { addStorageOptions, CliError, printJson, UsageError, withServices } from './context.js';
import { progress } from './progress.js';

/** `--out` must name a file in an existing, writable folder (the export does not create folders). */
function checkWritable(file: string): void {
  const dir = path.dirname(path.resolve(file));
  const stat = fs.statSync(dir, { throwIfNoEntry: false });
  if (!stat) throw new CliError(`--out ${file}: the folder ${dir} does not exist`);
  if (!stat.isDirectory()) throw new CliError(`--out ${file}: ${dir} is not a folder`);
  if (fs.statSync(file, { throwIfNoEntry: false })?.isDirectory()) throw new CliError(`--out ${file}: is a folder; name a file`);
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch {
    throw new CliError(`--out ${file}: the folder ${dir} is not writable`);
  }
}

export function registerSandbox(program: Command): void {
  const sandbox = program.command('sandbox').description('create, change, list, reset, export and delete sandboxes');

  addStorageOptions(
    sandbox
      .command('create <id>')
      .description('create a sandbox (ids: lowercase letters, digits and dashes)')
      .option('--name <text>', 'display name')
      .option('--open', 'serve /{id}/open without a token (read-only)')
      .option('--open-write', 'with --open: allow writes on the open base too')
      .option('--open-registration', "allow HSPC's legacy tokenless launch registration (rate-limited)")
      .option('--data <kind>', 'demo | empty | synthetic:N', 'empty'),
  ).action((id: string, opts) =>
    withServices(opts, async (s) => {
      if (opts.openWrite && !opts.open) throw new UsageError('--open-write needs --open');
      const data = parseDataChoice(opts.data);
      const bar = data.kind === 'synthetic' ? progress(`loading ${id}`, data.count) : undefined;
      const created = await createSandbox(
        s,
        id,
        { name: opts.name, openRead: !!opts.open, openWrite: !!opts.openWrite, openRegistration: !!opts.openRegistration, data },
        bar?.update,
      );
      bar?.stop();
      const urls = sandboxUrls(s.config.publicUrl, id);
      printJson({ id, key: created.sandbox.key, resources: created.resources, iss: urls.iss, issuer: urls.issuer, open: created.sandbox.openRead ? urls.open : undefined, personas: created.personas.length ? created.personas : undefined });
    }),
  );

  addStorageOptions(
    sandbox
      .command('update <id>')
      .description('change open access, open registration or the name')
      .option('--name <text>', 'display name')
      .option('--open', 'serve /{id}/open without a token')
      .option('--no-open', 'stop serving /{id}/open')
      .option('--open-write', 'allow writes on the open base')
      .option('--no-open-write', 'open base read-only')
      .option('--open-registration', 'allow tokenless launch registration')
      .option('--no-open-registration', 'require a token to register launches'),
  ).action((id: string, opts) =>
    withServices(opts, async (s) => {
      const updated = await s.tenants.update(id, { name: opts.name, openRead: opts.open, openWrite: opts.openWrite, openRegistration: opts.openRegistration });
      printJson(updated);
    }),
  );

  addStorageOptions(sandbox.command('list').description('list sandboxes')).action((opts) =>
    withServices(opts, async (s) => {
      for (const sb of await s.tenants.list())
        process.stdout.write(
          `${sb.id}\t${sandboxUrls(s.config.publicUrl, sb.id).iss}\t${sb.openRead ? (sb.openWrite ? 'open-write' : 'open') : 'secured'}${sb.openRegistration ? '\topen-registration' : ''}\t${sb.name}\n`,
        );
    }),
  );

  addStorageOptions(sandbox.command('delete <id>').description('delete a sandbox and everything in it (tokens and launches die at once)')).action(
    (id: string, opts) =>
      withServices(opts, async (s) => {
        await deleteSandbox(s, id);
        process.stdout.write(`deleted sandbox ${id}\n`);
      }),
  );

  addStorageOptions(
    sandbox
      .command('reset <id>')
      .description('replace a sandbox by a fresh generation with the same settings (all tokens and launches die)')
      .option('--data <kind>', 'demo | empty | synthetic:N (default: demo for the demo sandbox, else empty)'),
  ).action((id: string, opts) =>
    withServices(opts, async (s) => {
      const data = parseDataChoice(opts.data ?? (id === 'demo' ? 'demo' : 'empty'));
      const created = await resetSandbox(s, id, data);
      printJson({ id, key: created.sandbox.key, resources: created.resources, personas: created.personas.length ? created.personas : undefined });
    }),
  );

  addStorageOptions(
    sandbox.command('export <id>').description("write the sandbox's resources as a FHIR transaction Bundle").option('--out <file>', 'file to write (default: stdout)'),
  ).action((id: string, opts) =>
    withServices(opts, async (s) => {
      // Checked before the export runs: a mistyped folder should not cost a full read of the sandbox.
      if (opts.out) checkWritable(opts.out);
      const text = `${JSON.stringify(await exportSandbox(s, id))}\n`;
      if (opts.out) fs.writeFileSync(opts.out, text);
      else process.stdout.write(text);
    }),
  );
}
