#!/usr/bin/env node
/**
 * The `smart-sandbox` command line (docs/architecture.md §4). Every command takes the storage options and
 * works on the same store as a running server.
 */
import { Command } from 'commander';
import { registerAuthCommands } from './auth.js';
import { addStorageOptions, reportError, withServices } from './context.js';
import { registerImport } from './import.js';
import { registerLaunch } from './launch.js';
import { registerSandbox } from './sandbox.js';
import { registerServe } from './serve.js';

const program = new Command('smart-sandbox')
  .description('A SMART on FHIR R4 sandbox: FHIR API, SMART App Launch 2.2 authorization server, launch registration')
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

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
