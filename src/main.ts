/**
 * The server process: opens the store, seeds the demo sandbox on first start, listens, and shuts
 * down cleanly on SIGINT/SIGTERM. The only place that listens on a socket.
 */
import crypto from 'node:crypto';
import net from 'node:net';
import { buildApp } from './app.js';
import { type Config, isLoopbackHost } from './config/config.js';
import { bilirubinAppUrls, sandboxUrls } from './config/urls.js';
import { BILIRUBIN_CLIENT_ID } from './auth/service.js';
import { createSandbox } from './sandbox/lifecycle.js';
import { TenantError } from './storage/sqlite/tenant-store.js';
import type { Clock } from './config/clock.js';
import { createServices, PUBLIC_URL_SETTING, type Services } from './services.js';
import { sqliteOf } from './storage/sqlite/backend.js';
import { startCheckpointer } from './storage/sqlite/checkpointer.js';
import { WalWarnings } from './storage/sqlite/wal.js';

const DEMO_ID = 'demo';
const DEMO_SEEDED_SETTING = 'demo_seeded';
/** Expired launches and oidc-provider payloads are purged on this period. */
const PURGE_INTERVAL_MS = 5 * 60 * 1000;

export interface RunningServer {
  url: string;
  config: Config;
  services: Services;
  close(): Promise<void>;
}

/**
 * The demo sandbox is created once, on the first start of a store (not again after a user deleted
 * it). Its persona passwords are generated then; `persona list demo` shows them later.
 */
async function seedDemoOnce(services: Services, log: (line: string) => void): Promise<void> {
  if (await services.tenants.getSetting(DEMO_SEEDED_SETTING)) return;
  if (!(await services.tenants.get(DEMO_ID))) {
    const t = Date.now();
    try {
      const created = await createSandbox(services, DEMO_ID, { name: 'Demo sandbox', openRead: false, data: { kind: 'demo' } });
      log(`created the demo sandbox with ${created.resources} resources in ${Date.now() - t} ms`);
    } catch (e) {
      // Another node sharing the database created it first.
      if (!(e instanceof TenantError && e.kind === 'exists')) throw e;
    }
  }
  await services.tenants.setSetting(DEMO_SEEDED_SETTING, new Date().toISOString());
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** A free port on `host`, for `--port 0` (tests): the public URL must be known before the app is built. */
async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * The demo app's launch and redirect URIs derive from the current public URL (docs/architecture.md §3): when
 * the server starts under another URL (another port, a proxy), every sandbox's registration of the
 * bundled bilirubin chart follows. Registrations pointing elsewhere (a user's own copy) are left alone.
 */
async function followDemoAppUrls(services: Services, publicUrl: string): Promise<void> {
  const urls = bilirubinAppUrls(publicUrl);
  const isDemoAppUrl = (u: string | undefined) => !!u && /\/apps\/bilirubin-chart\/(launch|index)\.html$/.test(new URL(u).pathname);
  for (const sandbox of await services.tenants.list()) {
    const client = await services.auth.clients.getClient(sandbox.key, BILIRUBIN_CLIENT_ID);
    if (!client || !isDemoAppUrl(client.launchUri) || !client.redirectUris.every(isDemoAppUrl)) continue;
    if (client.launchUri === urls.launch && client.redirectUris.length === 1 && client.redirectUris[0] === urls.redirect) continue;
    await services.auth.clients.updateUrls(sandbox.key, BILIRUBIN_CLIENT_ID, { launchUri: urls.launch, redirectUris: [urls.redirect] });
  }
}

export async function startServer(
  config: Config,
  log: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
  opts: { clock?: Clock } = {},
): Promise<RunningServer> {
  if (config.port === 0) {
    const port = await freePort(config.host);
    const defaultUrl = `http://${hostForUrl(config.host)}:0`;
    config = { ...config, port, publicUrl: config.publicUrl === defaultUrl ? `http://${hostForUrl(config.host)}:${port}` : config.publicUrl };
  }
  // The console link carries a fresh random credential on loopback; elsewhere one must be configured.
  if (!config.adminToken && isLoopbackHost(config.host)) config = { ...config, adminToken: crypto.randomBytes(24).toString('base64url') };
  const services = await createServices(config, { clock: opts.clock });
  if (config.demo && config.role !== 'api') await seedDemoOnce(services, log);
  // WAL checkpoints off the request path, bounded (issue 17): SQLite only (PostgreSQL checkpoints by itself).
  const sqlite = sqliteOf(services.backend);
  const walWarnings = new WalWarnings(log);
  const checkpointer = sqlite
    ? startCheckpointer(sqlite.db, sqlite.wal, {
        onError: (m) => log(`WAL checkpoint: ${m}`),
        onEscalation: (e) => walWarnings.escalated(sqlite.wal.limits, e, 'the checkpoint worker'),
      })
    : undefined;
  if (sqlite) sqlite.wal.onInlineEscalation = (e) => walWarnings.escalated(sqlite.wal.limits, e, 'a writing request (backstop)');
  const app = await buildApp(config, services);
  await app.listen({ port: config.port, host: config.host });
  const url = `http://${hostForUrl(config.host)}:${config.port}`;
  await services.tenants.setSetting(PUBLIC_URL_SETTING, config.publicUrl);
  await followDemoAppUrls(services, config.publicUrl);
  const purge = setInterval(() => {
    services.launches.purgeExpired().catch((e) => app.log.error({ err: e }, 'purge of expired launches failed'));
  }, PURGE_INTERVAL_MS);
  purge.unref();

  log(`smart-sandbox listening on ${url} (role ${config.role}, data in ${config.databaseUrl ? 'PostgreSQL' : config.dataDir})`);
  const demo = await services.tenants.get(DEMO_ID);
  if (config.role !== 'api') {
    if (config.adminToken) {
      log(`console: ${config.publicUrl}/?token=${config.adminToken}`);
      if (demo && (await services.auth.clients.getClient(demo.key, BILIRUBIN_CLIENT_ID)))
        log(
          `launch the bilirubin chart for BILIBABY: ${config.publicUrl}/console/s/demo/launch?client=${BILIRUBIN_CLIENT_ID}&patient=BILIBABY&persona=practitioner&token=${config.adminToken}`,
        );
    }
    else log('console: not served (bound to a non-loopback interface without SMART_SANDBOX_ADMIN_TOKEN)');
  }
  if (demo) {
    const urls = sandboxUrls(config.publicUrl, demo.id);
    log(`demo sandbox FHIR base (iss): ${urls.iss}`);
    log(`demo sandbox authorization server: ${urls.issuer}`);
    log('persona passwords: smart-sandbox persona list demo');
  }
  return {
    url,
    config,
    services,
    async close() {
      clearInterval(purge);
      await app.close();
      await checkpointer?.stop();
      await services.close();
    },
  };
}
