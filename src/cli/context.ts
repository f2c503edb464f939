/**
 * Shared plumbing of CLI commands: storage options on every command (docs/architecture.md §4), opening the
 * services on the same store the server uses, and turning a user's mistake into one clear line on
 * stderr: exit 2 for bad usage (commander's own errors and options of the wrong form), exit 1 for a
 * command that was understood but cannot be done (no such sandbox, a file that cannot be written, a
 * busy port, a data dir that is a file).
 */
import type { Command } from 'commander';
import { ConfigError, type ConfigInput, configFromEnv, resolveConfig, type Config } from '../config/config.js';
import { FhirError } from '../errors/errors.js';
import { DataChoiceError } from '../sandbox/lifecycle.js';
import { createServices, type Services, StorageNotAvailable } from '../services.js';
import { TenantError } from '../storage/sqlite/tenant-store.js';

export function addStorageOptions(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'directory of the embedded SQLite store (env SMART_SANDBOX_DATA)', undefined)
    .option('--database-url <url>', 'PostgreSQL URL (env DATABASE_URL)', undefined);
}

export function configFor(opts: Record<string, unknown>, extra: ConfigInput = {}): Config {
  return resolveConfig(
    { dataDir: opts.dataDir as string | undefined, databaseUrl: opts.databaseUrl as string | undefined, ...extra },
    configFromEnv(process.env),
  );
}

/**
 * Opens the services for a one-shot command. The public URL comes from the flag or env, else from
 * what `serve` recorded in the store, so that printed URLs match the running server.
 */
export async function withServices<T>(opts: Record<string, unknown>, fn: (s: Services) => Promise<T> | T): Promise<T> {
  const config = configFor(opts, { publicUrl: opts.publicUrl as string | undefined });
  const services = await createServices(config, { recordedPublicUrl: !opts.publicUrl && !process.env.PUBLIC_URL });
  try {
    return await fn(services);
  } finally {
    await services.close();
  }
}

/** A command that was understood but cannot be done: one line, exit 1. */
export class CliError extends Error {}

/** An option or argument of the wrong form: one line, exit 2, like commander's own usage errors. */
export class UsageError extends CliError {}

/** Exit codes of the command line (README "Command line"). */
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** An error from the operating system (a file, a directory, a socket): it names the path or address. */
function systemErrorLine(e: NodeJS.ErrnoException): string {
  const target = e.path ?? (e as { address?: string }).address;
  if (!target) return e.message;
  switch (e.code) {
    case 'ENOENT':
      return `${target}: no such file or directory`;
    case 'EACCES':
    case 'EPERM':
      return `${target}: permission denied`;
    case 'EISDIR':
      return `${target}: is a directory`;
    case 'ENOTDIR':
      return `${target}: a part of this path is not a directory`;
    case 'ENOSPC':
      return `${target}: no space left on the device`;
    case 'EROFS':
      return `${target}: read-only file system`;
    default:
      return e.message;
  }
}

/**
 * Known, user-caused failures print one line (`smart-sandbox: …`) and exit 1, or 2 for bad usage;
 * anything else is a bug in smart-sandbox and keeps its stack trace for the report.
 */
export function reportError(e: unknown): never {
  const fail = (line: string, code: number): never => {
    process.stderr.write(`smart-sandbox: ${line}\n`);
    process.exit(code);
  };
  if (e instanceof UsageError || e instanceof DataChoiceError || e instanceof ConfigError) fail(e.message, EXIT_USAGE);
  if (e instanceof CliError || e instanceof TenantError || e instanceof StorageNotAvailable) fail((e as Error).message, EXIT_FAILED);
  if (e instanceof FhirError) fail(e.issues.map((i) => i.diagnostics ?? i.code).join('; '), EXIT_FAILED);
  const sys = e as NodeJS.ErrnoException;
  if (sys instanceof Error && typeof sys.code === 'string' && typeof sys.syscall === 'string') fail(systemErrorLine(sys), EXIT_FAILED);
  throw e;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
