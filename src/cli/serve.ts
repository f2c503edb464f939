import net from 'node:net';
import type { Command } from 'commander';
import { startServer } from '../main.js';
import { addStorageOptions, CliError, configFor } from './context.js';

/** One line for a socket that cannot be bound: the usual user mistakes, by error code. */
function listenProblem(e: NodeJS.ErrnoException, host: string, port: number): string | undefined {
  if (e.syscall !== 'listen' && e.syscall !== 'bind') return undefined;
  const where = `${host}:${port}`;
  if (e.code === 'EADDRINUSE') return `cannot listen on ${where}: the port is already in use (choose another with --port or PORT)`;
  if (e.code === 'EACCES') return `cannot listen on ${where}: permission denied (ports below 1024 need privileges; choose another with --port)`;
  if (e.code === 'EADDRNOTAVAIL') return `cannot listen on ${where}: ${host} is not an address of this machine (--host or HOST)`;
  return `cannot listen on ${where}: ${e.message}`;
}

/**
 * Binds and releases the port before the store is opened and the demo sandbox seeded, so that a busy
 * port fails in a moment rather than after the seeding; listen errors of the real server (the port
 * taken in between) are reported the same way.
 */
async function checkListen(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (e: NodeJS.ErrnoException) => reject(new CliError(listenProblem(e, host, port) ?? e.message)));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve()));
  });
}

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
    await checkListen(config.host, config.port);
    const server = await startServer(config).catch((e: NodeJS.ErrnoException) => {
      const line = e instanceof Error ? listenProblem(e, config.host, config.port) : undefined;
      throw line ? new CliError(line) : e;
    });
    const stop = async (signal: string) => {
      process.stdout.write(`received ${signal}, shutting down\n`);
      await server.close();
      process.exit(0);
    };
    process.once('SIGINT', () => void stop('SIGINT'));
    process.once('SIGTERM', () => void stop('SIGTERM'));
  });
}
