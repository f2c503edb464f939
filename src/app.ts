/**
 * Builds the HTTP application from a config and already-created services. Nothing here reads the
 * environment or listens: `src/main.ts` (via the CLI) does that, tests call `buildApp` directly.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { registerDemoApps } from './apps/routes.js';
import { registerBulkRoutes } from './bulk/routes.js';
import { registerConsole } from './console/routes.js';
import type { Config } from './config/config.js';
import { registerFhirRoutes } from './fhir/routes.js';
import { installBodyParsers } from './http/body.js';
import { clientErrorHandler, frameworkErrorHandler, installErrorHandlers } from './http/errors.js';
import { registerLaunchRoutes } from './launch/routes.js';
import type { Services } from './services.js';

export async function buildApp(config: Config, services: Services): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: config.logLevel },
    bodyLimit: config.bodyLimit,
    trustProxy: config.trustProxy,
    return503OnClosing: true,
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
    // FHIR ids and search values may be long; the default 100 chars is too short for some params.
    routerOptions: { maxParamLength: 1000 },
  });
  installBodyParsers(app);
  installErrorHandlers(app);

  app.get('/healthz', async () => ({ status: 'ok' }));
  // Readiness for load balancers: the database answers (503 OperationOutcome while it is away). On
  // SQLite it also reports the write-ahead log's size against its bound (issue 17), to watch.
  app.get('/readyz', async () => {
    await services.backend.ping();
    return { status: 'ok', ...services.backend.health?.() };
  });

  const serveApi = config.role === 'all' || config.role === 'api';
  const serveAuth = config.role === 'all' || config.role === 'auth';
  if (serveApi) {
    await services.auth.registerDiscoveryRoutes(app);
    await registerLaunchRoutes(app, { config, services });
    await registerFhirRoutes(app, {
      config,
      tenants: services.tenants,
      fhir: services.fhir,
      verifier: services.auth.verifier,
      auditEvents: services.audit,
    });
    // Bulk Data $export (issue 8): its static paths under {iss} win over the FHIR wildcard; the API
    // role runs the export jobs (resuming unfinished ones) and stops them when the app closes.
    await registerBulkRoutes(app, { config, tenants: services.tenants, verifier: services.auth.verifier, bulk: services.bulk });
    app.addHook('onReady', async () => services.bulk.start());
    app.addHook('onClose', async () => services.bulk.stop());
  }
  if (serveAuth) {
    await services.auth.registerAuthRoutes(app);
    await registerDemoApps(app, { config });
    if (config.adminToken) await registerConsole(app, { config, services, adminToken: config.adminToken });
  }
  return app;
}
