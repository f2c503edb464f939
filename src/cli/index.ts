#!/usr/bin/env node
/**
 * The `smart-sandbox` command line (docs/architecture.md §4). Every command takes the storage options and
 * works on the same store as a running server.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { packageRoot } from '../apps/routes.js';
import { registerAuthCommands } from './auth.js';
import { addStorageOptions, EXIT_USAGE, reportError, withServices } from './context.js';
import { registerImport } from './import.js';
import { registerLaunch } from './launch.js';
import { registerSandbox } from './sandbox.js';
import { registerServe } from './serve.js';

const { version } = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string };

const program = new Command('smart-sandbox')
  .description('A SMART on FHIR R4 sandbox: FHIR API, SMART App Launch 2.2 authorization server, launch registration')
  .version(version, '-V, --version', 'print the version of smart-sandbox')
  // A usage error is one line, with a pointer to the help instead of the whole help text.
  .configureOutput({ outputError: (text, write) => write(`smart-sandbox: ${text.replace(/^error: /, '').trimEnd()} (see --help)\n`) })
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE));

registerServe(program);
addStorageOptions(program.command('migrate').description('apply pending database migrations and exit')).action((opts) =>
  withServices(opts, () => {
    process.stdout.write('migrations applied\n');
  }),
);
registerSandbox(program);
registerImport(program);
registerAuthCommands(program);
registerLaunch(program);

program.parseAsync(process.argv).catch(reportError);
