/**
 * `smart-sandbox launch`: registers a launch through the same service as
 * `POST {iss}/_services/smart/Launch` and prints the same JSON (with launch_url).
 */
import type { Command } from 'commander';
import { SIMULATED_ERRORS } from '../launch/model.js';
import { addStorageOptions, CliError, printJson, UsageError, withServices } from './context.js';

/** `k=v`: v is taken as JSON when it parses (true, 12, {"a":1}), else as a string. */
export function parseParam(text: string): [string, unknown] {
  const i = text.indexOf('=');
  if (i <= 0) throw new UsageError(`--param must look like key=value, got ${text}`);
  const key = text.slice(0, i);
  const raw = text.slice(i + 1);
  try {
    return [key, JSON.parse(raw)];
  } catch {
    return [key, raw];
  }
}

export function registerLaunch(program: Command): void {
  addStorageOptions(
    program
      .command('launch <sandbox>')
      .description('register a launch context and print it with its launch_url')
      .requiredOption('--client <id>', 'the app (client_id) the launch is for')
      .option('--patient <id>', 'patient in context')
      .option('--encounter <id>', 'encounter in context')
      .option('--persona <username>', 'single sign-on as this persona: no login, no consent, single use')
      .option('--param <k=v>', 'other context parameter (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
      .option('--expires-in <seconds>', 'lifetime in seconds')
      .option('--simulate-error <error>', `make the launch fail for real: ${SIMULATED_ERRORS.join(', ')}`)
      .option('--public-url <url>', 'public URL of the server (default: the one `serve` recorded)'),
  ).action((id: string, opts) =>
    withServices(opts, async (s) => {
      const sandbox = await s.tenants.get(id);
      if (!sandbox) throw new CliError(`sandbox ${id} does not exist`);
      const parameters: Record<string, unknown> = Object.fromEntries((opts.param as string[]).map(parseParam));
      if (opts.patient) parameters.patient = opts.patient;
      if (opts.encounter) parameters.encounter = opts.encounter;
      const body: Record<string, unknown> = { client_id: opts.client, parameters };
      if (opts.persona) body.username = opts.persona;
      if (opts.expiresIn !== undefined) body.expires_in = Number(opts.expiresIn);
      if (opts.simulateError !== undefined) body.simulate_error = opts.simulateError;
      printJson(await s.launch.register(sandbox, { kind: 'admin', name: 'cli' }, body));
    }),
  );
}
