/**
 * Shared plumbing of CLI commands: storage options on every command (docs/architecture.md §4), opening the
 * services on the same store the server uses, and turning known errors into one clear line + exit 2.
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

export class CliError extends Error {}

/** Known, user-caused failures print one line; anything else is a bug and shows its stack. */
export function reportError(e: unknown): never {
  if (e instanceof CliError || e instanceof DataChoiceError || e instanceof ConfigError || e instanceof TenantError || e instanceof StorageNotAvailable) {
    process.stderr.write(`smart-sandbox: ${e.message}\n`);
    process.exit(2);
  }
  if (e instanceof FhirError) {
    process.stderr.write(`smart-sandbox: ${e.issues.map((i) => i.diagnostics ?? i.code).join('; ')}\n`);
    process.exit(2);
  }
  throw e;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
