/**
 * The console's JSON admin API under `/api` (issue 6; documented in docs/console.md). Same
 * capabilities as the pages, through the same ConsoleOps. Access control (token, Host, Origin, CSRF,
 * no CORS) is applied by routes.ts to the whole `/api` scope before any handler runs.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { badRequest } from '../errors/errors.js';
import { fetchManifest } from './manifest.js';
import type { ConsoleOps } from './ops.js';

type P = { id: string };

const json = (reply: FastifyReply, status: number, body: unknown) => reply.code(status).type('application/json; charset=utf-8').send(body);

function intParam(v: unknown, name: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string' || !/^\d{1,6}$/.test(v)) throw badRequest(`${name} must be a positive integer`, [name]);
  return Number(v);
}

function scenarioId(v: string): number {
  if (!/^\d{1,12}$/.test(v)) throw badRequest('scenario id must be a number', ['scenario']);
  return Number(v);
}

export async function registerApi(api: FastifyInstance, ops: ConsoleOps): Promise<void> {
  api.get('/api/sandboxes', async () => ({ sandboxes: (await ops.listSandboxes()) }));
  api.post('/api/sandboxes', async (req, reply) => json(reply, 201, (await ops.createSandbox(req.body))));
  api.get('/api/sandboxes/:id', async (req) => ops.view((await ops.sandbox((req.params as P).id))));
  api.patch('/api/sandboxes/:id', async (req) => (await ops.updateSandbox((req.params as P).id, req.body)));
  api.delete('/api/sandboxes/:id', async (req, reply) => {
    (await ops.deleteSandbox((req.params as P).id));
    return reply.code(204).send();
  });
  api.post('/api/sandboxes/:id/reset', async (req) => (await ops.resetSandbox((req.params as P).id, req.body)));
  api.get('/api/sandboxes/:id/export', async (req, reply) => {
    const { id } = req.params as P;
    const bundle = (await ops.exportSandbox(id));
    return reply.header('content-disposition', `attachment; filename="${id}.json"`).type('application/fhir+json; charset=utf-8').send(bundle);
  });

  api.get('/api/sandboxes/:id/patients', async (req) => {
    const q = req.query as Record<string, unknown>;
    if (q.name !== undefined && typeof q.name !== 'string') throw badRequest('name must be given once', ['name']);
    return (await ops.searchPatients((req.params as P).id, { name: q.name as string | undefined, page: intParam(q.page, 'page'), count: intParam(q.count, 'count') }));
  });
  api.get('/api/sandboxes/:id/patients/:patient', async (req) => {
    const { id, patient } = req.params as P & { patient: string };
    return (await ops.patientSummary(id, patient));
  });

  api.get('/api/sandboxes/:id/apps', async (req) => ({ apps: (await ops.listClients((req.params as P).id)) }));
  api.post('/api/sandboxes/:id/apps', async (req, reply) => json(reply, 201, (await ops.addClient((req.params as P).id, req.body))));
  api.post('/api/sandboxes/:id/apps/manifest', async (req, reply) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    if (typeof b !== 'object' || Array.isArray(b)) throw badRequest('the body must be {"manifest":{…}} or {"manifest_url":"…"}');
    let manifest = b.manifest;
    if (manifest === undefined) {
      if (typeof b.manifest_url !== 'string') throw badRequest('give manifest (the JSON object) or manifest_url', ['manifest']);
      manifest = await fetchManifest(b.manifest_url);
    }
    const str = (k: string) => (typeof b[k] === 'string' && b[k] !== '' ? (b[k] as string) : undefined);
    return json(reply, 201, (await ops.addClientFromManifest((req.params as P).id, manifest, { clientId: str('clientId'), pkce: str('pkce'), consent: str('consent') })));
  });
  api.put('/api/sandboxes/:id/apps/:client', async (req) => {
    const { id, client } = req.params as P & { client: string };
    return (await ops.updateClient(id, client, req.body));
  });
  api.delete('/api/sandboxes/:id/apps/:client', async (req, reply) => {
    const { id, client } = req.params as P & { client: string };
    (await ops.removeClient(id, client));
    return reply.code(204).send();
  });

  api.get('/api/sandboxes/:id/personas', async (req) => ({ personas: (await ops.listPersonas((req.params as P).id)) }));
  api.post('/api/sandboxes/:id/personas', async (req, reply) => json(reply, 201, (await ops.addPersona((req.params as P).id, req.body))));
  api.delete('/api/sandboxes/:id/personas/:username', async (req, reply) => {
    const { id, username } = req.params as P & { username: string };
    (await ops.removePersona(id, username));
    return reply.code(204).send();
  });

  api.post('/api/sandboxes/:id/launches', async (req, reply) => json(reply, 201, (await ops.launch((req.params as P).id, req.body))));
  api.get('/api/sandboxes/:id/launches', async (req) => {
    const limit = intParam((req.query as Record<string, unknown>).limit, 'limit');
    const id = (req.params as P).id;
    return { launches: await ops.inspect(id, limit ?? 50), refused: await ops.refusedRegistrations(id) };
  });

  api.get('/api/sandboxes/:id/scenarios', async (req) => ({ scenarios: (await ops.listScenarios((req.params as P).id)) }));
  api.post('/api/sandboxes/:id/scenarios', async (req, reply) => json(reply, 201, (await ops.createScenario((req.params as P).id, req.body))));
  api.delete('/api/sandboxes/:id/scenarios/:scenario', async (req, reply) => {
    const { id, scenario } = req.params as P & { scenario: string };
    (await ops.deleteScenario(id, scenarioId(scenario)));
    return reply.code(204).send();
  });
  api.post('/api/sandboxes/:id/scenarios/:scenario/launch', async (req, reply) => {
    const { id, scenario } = req.params as P & { scenario: string };
    return json(reply, 201, (await ops.launchScenario(id, scenarioId(scenario))));
  });
}
