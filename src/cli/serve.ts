import type { Command } from 'commander';
import { startServer } from '../main.js';
import { addStorageOptions, configFor } from './context.js';

export function registerServe(program: Command): void {
  addStorageOptions(
    program
      .command('serve')
      .description('serve the FHIR API, the SMART authorization servers and the demo sandbox')
      .option('--port <port>', 'port to listen on (env PORT)', undefined)
      .option('--host <host>', 'interface to bind (env HOST)', undefined)
      .option('--public-url <url>', 'base URL clients see, e.g. behind a proxy (env PUBLIC_URL)', undefined)
      .option('--role <role>', 'all | api (FHIR bases) | auth (authorization servers, console)', undefined)
      .option('--no-demo', 'do not create the demo sandbox on first start'),
  ).action(async (opts) => {
    const config = configFor(opts, { port: opts.port, host: opts.host, publicUrl: opts.publicUrl, role: opts.role, demo: opts.demo });
    const server = await startServer(config);
    const stop = async (signal: string) => {
      process.stdout.write(`received ${signal}, shutting down\n`);
      await server.close();
      process.exit(0);
    };
    process.once('SIGINT', () => void stop('SIGINT'));
    process.once('SIGTERM', () => void stop('SIGTERM'));
  });
}
