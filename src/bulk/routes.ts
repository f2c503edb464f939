/**
 * HTTP surface of `$export` (Bulk Data Access IG 2.0) under the SMART-secured FHIR base `{iss}` =
 * `/{sandbox}/data` (docs/architecture.md §3). These static paths win over the FHIR router's wildcard:
 *
 *   GET|POST {iss}/$export, {iss}/Patient/$export, {iss}/Group/{id}/$export   kick-off → 202 + Content-Location
 *   GET|DELETE {iss}/$export-status/{job}                                       status / manifest / cancel
 *   GET {iss}/$export-file/{job}/{file}                                         NDJSON output (requiresAccessToken)
 *
 * Status and file URLs answer only a token of the client and user (and sandbox generation) that kicked the
 * export off; any other valid token gets 404, exactly as for an unknown job. Not served on `/open`:
 * an export belongs to an authenticated client.
 */
import fs from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/config.js';
import { badRequest, FhirError, notFound } from '../errors/errors.js';
import { requireBearerGrant } from '../fhir/access/bearer.js';
import { authenticatedCacheHeaders } from '../http/caching.js';
import type { TokenGrant, TokenVerifier } from '../fhir/access/types.js';
import { ID_PATTERN } from '../fhir/definitions.js';
import { corsOnRequest } from '../http/cors.js';
import type { Sandbox, TenantStore } from '../storage/types.js';
import { type ExportLevel, inputFromParameters, inputFromQuery } from './request.js';
import { type BulkService, RETRY_AFTER_SECONDS } from './service.js';
import type { BulkJob } from './store.js';

const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const NDJSON = 'application/fhir+ndjson';

export interface BulkRouteDeps {
  config: Config;
  tenants: TenantStore;
  verifier: TokenVerifier;
  bulk: BulkService;
}

function header(req: FastifyRequest, name: string): string {
  const v = req.headers[name];
  return (Array.isArray(v) ? v.join(',') : v) ?? '';
}

/** The manifest of a finished job (IG 2.0 §"Response - Complete Status"). */
export function manifest(job: BulkJob, iss: string): Record<string, unknown> {
  const url = (file: string) => `${iss}/$export-file/${job.id}/${encodeURIComponent(file)}`;
  return {
    transactionTime: new Date(job.transactionTime).toISOString(),
    request: job.requestUrl,
    requiresAccessToken: true,
    output: (job.output?.files ?? []).map((f) => ({ type: f.type, url: url(f.file), count: f.count })),
    error: (job.output?.errors ?? []).map((f) => ({ type: f.type, url: url(f.file), count: f.count })),
  };
}

export async function registerBulkRoutes(app: FastifyInstance, deps: BulkRouteDeps): Promise<void> {
  const { config, tenants, verifier, bulk } = deps;

  /** The one bearer-token check of every resource route (src/fhir/access/bearer.ts). */
  async function authenticate(req: FastifyRequest): Promise<{ sandbox: Sandbox; grant: TokenGrant; iss: string }> {
    const { sandbox: sid } = req.params as { sandbox: string };
    const sandbox = await tenants.get(sid);
    if (!sandbox) throw notFound(`unknown sandbox ${sid}`);
    const grant = await requireBearerGrant(verifier, sandbox, req.headers.authorization);
    return { sandbox, grant, iss: `${config.publicUrl}/${sandbox.id}/data` };
  }

  /** IG 2.0 §"Headers": `Accept: application/fhir+json` and `Prefer: respond-async` are required. */
  function checkKickoffHeaders(req: FastifyRequest): { lenient: boolean } {
    const accept = header(req, 'accept')
      .split(',')
      .map((t) => t.split(';')[0].trim().toLowerCase());
    if (!accept.includes('application/fhir+json')) throw badRequest('a kick-off request needs the header Accept: application/fhir+json');
    const prefer = header(req, 'prefer')
      .split(/[,;]/)
      .map((p) => p.trim().toLowerCase());
    if (!prefer.includes('respond-async')) throw badRequest('a kick-off request needs the header Prefer: respond-async');
    return { lenient: prefer.includes('handling=lenient') };
  }

  async function kickOff(req: FastifyRequest, reply: FastifyReply, level: ExportLevel): Promise<FastifyReply> {
    const { lenient } = checkKickoffHeaders(req);
    const { sandbox, grant, iss } = await authenticate(req);
    let groupId: string | undefined;
    if (level === 'group') {
      groupId = (req.params as { id: string }).id;
      if (!ID_PATTERN.test(groupId)) throw notFound('resource not found');
    }
    const qi = req.url.indexOf('?');
    const query = new URLSearchParams(qi >= 0 ? req.url.slice(qi + 1) : '');
    let input: ReturnType<typeof inputFromQuery>;
    if (req.method === 'POST') {
      const ct = header(req, 'content-type').split(';')[0].trim().toLowerCase();
      if (req.body !== undefined && ct !== 'application/fhir+json' && ct !== 'application/json') {
        throw new FhirError(415, [{ severity: 'error', code: 'not-supported', diagnostics: 'a POST kick-off takes a Parameters resource as application/fhir+json' }]);
      }
      if ([...query].length) throw badRequest('a POST kick-off takes its parameters in the Parameters body, not the query string');
      input = inputFromParameters(req.body);
    } else {
      input = inputFromQuery(query);
    }
    const job = await bulk.kickOff({ sandbox, grant, level, groupId, input, lenient, requestUrl: `${config.publicUrl}${req.url}` });
    return reply
      .code(202)
      .header('content-location', `${iss}/$export-status/${job}`)
      .type(FHIR_JSON)
      .send({ resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', diagnostics: 'export accepted; poll the Content-Location URL' }] });
  }

  await app.register(async (f) => {
    // Preflights reach the FHIR router's OPTIONS route (same base, same methods).
    f.addHook('onRequest', corsOnRequest);
    f.addHook('onRequest', async (_req, reply) => {
      authenticatedCacheHeaders(reply);
    });

    for (const method of ['GET', 'POST'] as const) {
      f.route({ method, url: '/:sandbox/data/$export', handler: (req, reply) => kickOff(req, reply, 'system') });
      f.route({ method, url: '/:sandbox/data/Patient/$export', handler: (req, reply) => kickOff(req, reply, 'patient') });
      f.route({ method, url: '/:sandbox/data/Group/:id/$export', handler: (req, reply) => kickOff(req, reply, 'group') });
    }

    f.get('/:sandbox/data/$export-status/:job', async (req, reply) => {
      const { sandbox, grant, iss } = await authenticate(req);
      const job = await bulk.ownJob(sandbox, grant, (req.params as { job: string }).job);
      if (job.status === 'queued' || job.status === 'running') {
        return reply
          .code(202)
          .header('x-progress', job.status === 'queued' ? 'queued' : (job.progress ?? 'started'))
          .header('retry-after', String(RETRY_AFTER_SECONDS))
          .send();
      }
      if (job.status === 'failed') {
        // IG 2.0 §"Response - Error Status": a failed export is a 5xx with an OperationOutcome.
        return reply
          .code(500)
          .type(FHIR_JSON)
          .send({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'processing', diagnostics: job.error ?? 'the export failed' }] });
      }
      if (job.expiresAt) reply.header('expires', new Date(job.expiresAt).toUTCString());
      return reply.code(200).type('application/json; charset=utf-8').send(manifest(job, iss));
    });

    f.delete('/:sandbox/data/$export-status/:job', async (req, reply) => {
      const { sandbox, grant } = await authenticate(req);
      await bulk.cancel(sandbox, grant, (req.params as { job: string }).job);
      return reply
        .code(202)
        .type(FHIR_JSON)
        .send({ resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', diagnostics: 'export cancelled and its files deleted' }] });
    });

    f.get('/:sandbox/data/$export-file/:job/:file', async (req, reply) => {
      const { sandbox, grant } = await authenticate(req);
      const { job, file } = req.params as { job: string; file: string };
      const p = await bulk.filePath(sandbox, grant, job, file);
      let stream: fs.ReadStream;
      try {
        await fs.promises.access(p);
        stream = fs.createReadStream(p);
      } catch {
        throw notFound('unknown export file'); // swept between the lookup and the read
      }
      return reply.code(200).type(NDJSON).send(stream);
    });
  });
}
