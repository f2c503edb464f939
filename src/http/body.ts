/**
 * Request body parsers shared by every route. JSON bodies are kept as parsed objects; a body that is
 * not valid JSON is a 400 (never a 500), and so is one nested deeper or with longer arrays than the
 * limits allow (config/limits.ts), checked on the raw text before JSON.parse. An empty body is no
 * body (undefined), whatever the Content-Type: many FHIR clients send the header on every request,
 * DELETE and GET included; routes that need a body say so themselves. Form bodies (`_search`, login/consent forms) become a
 * `Record<string, string | string[]>`. Other media types are refused by fastify with 415.
 */
import type { FastifyInstance } from 'fastify';
import { jsonShapeError, LIMITS } from '../config/limits.js';
import { badRequest } from '../errors/errors.js';

export const JSON_TYPES = ['application/json', 'application/fhir+json', 'application/json-patch+json'];

export function installBodyParsers(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(JSON_TYPES, { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(null, undefined);
    const shape = jsonShapeError(text);
    if (shape) return done(shape, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (e) {
      done(badRequest(`request body is not valid JSON: ${(e as Error).message}`), undefined);
    }
  });
  // The form limit is fastify's own for this parser: a larger Content-Length is refused (413) before
  // a byte is read; src/http/errors.ts names the limit.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: LIMITS.formBytes }, (_req, body, done) => {
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of new URLSearchParams(body as string)) {
      const prev = out[k];
      if (prev === undefined) out[k] = v;
      else if (Array.isArray(prev)) prev.push(v); // in place: a repeated key stays linear
      else out[k] = [prev, v];
    }
    done(null, out);
  });
}
