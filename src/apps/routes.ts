/**
 * Serves the demo SMART app "bilirubin chart" (docs/architecture.md §3: `/apps/bilirubin-chart/launch.html` is
 * its launch URI, `/apps/bilirubin-chart/index.html` its redirect URI) and the browser build of the
 * `fhirclient` library it runs on, so the app works offline without a CDN.
 *
 * Only a fixed allow-list of files is served: the request names a file, never a path, so `..`,
 * encoded slashes and unknown names all end in the app-wide 404 OperationOutcome. The files are read
 * once at registration (≈ 250 kB) so a missing file is a startup error, not a broken page later.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/config.js';
import { bilirubinAppUrls } from '../config/urls.js';
import { notFound } from '../errors/errors.js';

export const APP_PREFIX = '/apps/bilirubin-chart';
export const VENDOR_FHIR_CLIENT = '/apps/vendor/fhir-client.min.js';

/**
 * The pages carry no inline script or style, so everything can be `'self'`. `frame-ancestors 'self'`
 * lets the console's simulated EHR frame (same origin) embed the app and nobody else.
 */
export const APP_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'self'";

/** The files of `apps/bilirubin-chart/` that exist and may be served, with their media types. */
export const APP_FILES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'launch.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'launch.js': 'text/javascript; charset=utf-8',
  'chart-math.js': 'text/javascript; charset=utf-8',
  'bili-fhir.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
  cacheControl: string;
}

/** The directory holding this package's `package.json`, found by walking up from this module (works from `src/` and `dist/src/`). */
export function packageRoot(from: string = path.dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    const candidate = path.join(dir, 'package.json');
    if (fs.existsSync(candidate)) {
      try {
        if ((JSON.parse(fs.readFileSync(candidate, 'utf8')) as { name?: string }).name === 'smart-sandbox') return dir;
      } catch {
        // not ours or unreadable: keep walking
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`smart-sandbox package root not found above ${from}`);
    dir = parent;
  }
}

function asset(file: string, type: string, cacheControl: string): Asset {
  const body = fs.readFileSync(file);
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  return { body, type, etag, cacheControl };
}

function send(request: FastifyRequest, reply: FastifyReply, a: Asset): FastifyReply {
  reply
    .header('content-security-policy', APP_CSP)
    .header('referrer-policy', 'no-referrer')
    .header('x-content-type-options', 'nosniff')
    .header('cache-control', a.cacheControl)
    .header('etag', a.etag);
  const inm = request.headers['if-none-match'];
  if (typeof inm === 'string' && inm.split(',').some((t) => t.trim().replace(/^W\//, '') === a.etag)) return reply.code(304).send();
  return reply.code(200).type(a.type).send(a.body);
}

export async function registerDemoApps(app: FastifyInstance, opts: { config: Config }): Promise<void> {
  const root = packageRoot();
  const appDir = path.join(root, 'apps', 'bilirubin-chart');
  // Not fingerprinted, so browsers revalidate (cheap thanks to the ETag) and see edits after a restart.
  const files = new Map<string, Asset>();
  for (const [name, type] of Object.entries(APP_FILES)) files.set(name, asset(path.join(appDir, name), type, 'no-cache'));
  const fhirClientPath = path.join(path.dirname(createRequire(import.meta.url).resolve('fhirclient/package.json')), 'build', 'fhir-client.min.js');
  // Pinned by package-lock; an hour of caching is harmless and saves 200 kB per launch.
  const vendor = asset(fhirClientPath, 'text/javascript; charset=utf-8', 'public, max-age=3600');

  const index = bilirubinAppUrls(opts.config.publicUrl).redirect;
  const toIndex = async (_request: FastifyRequest, reply: FastifyReply) => reply.redirect(index, 302);
  app.get(APP_PREFIX, toIndex);
  app.get(`${APP_PREFIX}/`, toIndex);

  app.get(`${APP_PREFIX}/:file`, async (request, reply) => {
    const { file } = request.params as { file: string };
    // Own-property lookup only: `constructor`, `__proto__` and friends are not files.
    const a = Object.hasOwn(APP_FILES, file) ? files.get(file) : undefined;
    if (!a) throw notFound(`${APP_PREFIX}/${file} does not exist`);
    return send(request, reply, a);
  });

  app.get(VENDOR_FHIR_CLIENT, async (request, reply) => send(request, reply, vendor));
}
