/**
 * Static files of the console (`console/` at the package root): its style sheet (the pages need no
 * script: plain forms work with the keyboard and without JavaScript), served from a fixed allow-list like the demo app (src/apps/routes.ts). They hold nothing secret,
 * so they need no admin cookie; the login-error page uses them too.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { packageRoot } from '../apps/routes.js';
import { notFound } from '../errors/errors.js';

export const ASSET_PREFIX = '/console/assets';

const FILES: Readonly<Record<string, string>> = {
  'console.css': 'text/css; charset=utf-8',
};

export async function registerAssets(app: FastifyInstance): Promise<void> {
  const dir = path.join(packageRoot(), 'console');
  const assets = new Map<string, { body: Buffer; etag: string; type: string }>();
  for (const [name, type] of Object.entries(FILES)) {
    const body = fs.readFileSync(path.join(dir, name));
    assets.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` });
  }
  app.get(`${ASSET_PREFIX}/:file`, async (request, reply) => {
    const { file } = request.params as { file: string };
    const a = Object.hasOwn(FILES, file) ? assets.get(file) : undefined;
    if (!a) throw notFound(`${ASSET_PREFIX}/${file} does not exist`);
    reply.header('x-content-type-options', 'nosniff').header('cache-control', 'no-cache').header('etag', a.etag);
    if (request.headers['if-none-match'] === a.etag) return reply.code(304).send();
    return reply.type(a.type).send(a.body);
  });
}
