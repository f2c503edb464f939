/**
 * What the console can do, shared by the JSON admin API (api.ts) and the HTML pages (pages.ts), so
 * that both behave identically. Input mistakes become FhirErrors with 4xx statuses and a message in
 * words; nothing here knows about HTTP.
 */
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { AuthInputError, type ClientAddOptions, type PersonaListing, type SandboxClient } from '../auth/types.js';
import { sandboxUrls } from '../config/urls.js';
import { badRequest, conflict, notFound } from '../errors/errors.js';
import type { StoredAuditRecord } from '../launch/audit.js';
import type { LaunchResponse } from '../launch/service.js';
import { parseRegistration } from '../launch/validate.js';
import {
  createSandbox,
  DataChoiceError,
  type DataChoice,
  deleteSandbox,
  exportSandbox,
  parseDataChoice,
  resetSandbox,
} from '../sandbox/lifecycle.js';
import type { Services } from '../services.js';
import { TenantError } from '../storage/sqlite/tenant-store.js';
import type { Sandbox } from '../storage/types.js';
import { manifestToClient } from './manifest.js';
import { type Scenario, ScenarioExists, type ScenarioStore } from './scenarios.js';

export const CONSOLE_CALLER = { kind: 'admin', name: 'console' } as const;

export interface SandboxView {
  id: string;
  name: string;
  open: boolean;
  openWrite: boolean;
  openRegistration: boolean;
  createdAt: string;
  iss: string;
  issuer: string;
  smartConfiguration: string;
  openidConfiguration: string;
  metadata: string;
  openBase?: string;
}

export interface PatientRow {
  id: string;
  name: string;
  gender?: string;
  birthDate?: string;
}

export interface InspectedLaunch {
  launchHash: string;
  clientId?: string;
  username?: string;
  parameters: Record<string, unknown>;
  createdAt: string;
  createdBy: string;
  expiresAt: string;
  expired: boolean;
  consumedAt?: string;
  uses: { at: string; action: string; outcome: string; clientId?: string; username?: string; detail?: string }[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const iso = (ms: number) => new Date(ms).toISOString();

/** Runs a store call, turning the stores' typed refusals into 4xx answers. */
// `parseDataChoice` and the like are synchronous, stores are not.
function mappedSync<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw mapError(e);
  }
}

async function mapped<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw mapError(e);
  }
}

function mapError(e: unknown): unknown {
    if (e instanceof AuthInputError || e instanceof TenantError)
      return e.kind === 'exists' ? conflict(e.message) : e.kind === 'not-found' ? notFound(e.message) : badRequest(e.message);
    if (e instanceof DataChoiceError) return badRequest(e.message.replace('--data', 'data'), ['data']);
    if (e instanceof ScenarioExists) return conflict(e.message);
    return e;
}

function optString(body: Record<string, unknown>, key: string, max = 256): string | undefined {
  const v = body[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' || v.length > max) throw badRequest(`${key} must be a string of at most ${max} characters`, [key]);
  return v;
}

function optBool(body: Record<string, unknown>, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw badRequest(`${key} must be true or false`, [key]);
  return v;
}

function optStrings(body: Record<string, unknown>, key: string): string[] | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw badRequest(`${key} must be an array of strings`, [key]);
  return v as string[];
}

function requireObject(body: unknown, example: string): Record<string, unknown> {
  if (!isObject(body)) throw badRequest(`the request body must be a JSON object like ${example}`);
  return body;
}

/** A readable name from a FHIR HumanName list (text, else given + family). */
export function humanName(r: Resource | undefined): string {
  const names = (r as { name?: { text?: string; given?: string[]; family?: string; use?: string }[] } | undefined)?.name;
  if (!Array.isArray(names) || names.length === 0) return '';
  const n = names.find((x) => x.use === 'official') ?? names[0];
  if (n.text) return n.text;
  return [...(n.given ?? []), n.family ?? ''].join(' ').trim();
}

export class ConsoleOps {
  readonly scenarios: ScenarioStore;

  constructor(private readonly services: Services) {
    this.scenarios = services.scenarios;
  }

  // ---- sandboxes -------------------------------------------------------------------------------

  async sandbox(id: string): Promise<Sandbox> {
    const s = await this.services.tenants.get(id);
    if (!s) throw notFound(`sandbox ${id} does not exist`);
    return s;
  }

  view(s: Sandbox): SandboxView {
    const u = sandboxUrls(this.services.config.publicUrl, s.id);
    return {
      id: s.id,
      name: s.name,
      open: s.openRead,
      openWrite: s.openWrite,
      openRegistration: s.openRegistration,
      createdAt: iso(s.createdAt),
      iss: u.iss,
      issuer: u.issuer,
      smartConfiguration: `${u.iss}/.well-known/smart-configuration`,
      openidConfiguration: `${u.issuer}/.well-known/openid-configuration`,
      metadata: `${u.iss}/metadata`,
      ...(s.openRead ? { openBase: u.open } : {}),
    };
  }

  async listSandboxes(): Promise<SandboxView[]> {
    return (await this.services.tenants.list()).map((s) => this.view(s));
  }

  async createSandbox(body: unknown): Promise<{ sandbox: SandboxView; resources: number; personas: { username: string; password: string; resource: string }[] }> {
    const b = requireObject(body, '{"id":"my-sandbox","data":"demo"}');
    const id = optString(b, 'id', 63);
    if (!id) throw badRequest('id is required', ['id']);
    const open = optBool(b, 'open') ?? false;
    const openWrite = optBool(b, 'openWrite') ?? false;
    if (openWrite && !open) throw badRequest('openWrite needs open', ['openWrite']);
    const data: DataChoice = mappedSync(() => parseDataChoice(optString(b, 'data', 20) ?? 'empty'));
    if (data.kind === 'synthetic' && data.count > 5000)
      throw badRequest('the console creates at most synthetic:5000 (use `smart-sandbox sandbox create --data synthetic:N` for more)', ['data']);
    const created = await mapped(() =>
      createSandbox(this.services, id, { name: optString(b, 'name', 200), openRead: open, openWrite, openRegistration: optBool(b, 'openRegistration') ?? false, data }),
    );
    return { sandbox: this.view(created.sandbox), resources: created.resources, personas: created.personas };
  }

  async updateSandbox(id: string, body: unknown): Promise<SandboxView> {
    const b = requireObject(body, '{"open":true}');
    const s = await this.sandbox(id);
    const open = optBool(b, 'open');
    let openWrite = optBool(b, 'openWrite');
    if (openWrite && !(open ?? s.openRead)) throw badRequest('openWrite needs open', ['openWrite']);
    if (open === false) openWrite = false;
    const updated = await mapped(() =>
      this.services.tenants.update(id, { name: optString(b, 'name', 200), openRead: open, openWrite, openRegistration: optBool(b, 'openRegistration') }),
    );
    return this.view(updated);
  }

  /** Reset keeps id and settings; the data kind defaults to demo for `demo`, else empty (as the CLI). */
  async resetSandbox(id: string, body: unknown): Promise<{ sandbox: SandboxView; resources: number }> {
    const b = body === undefined || body === null ? {} : requireObject(body, '{"data":"demo"}');
    const old = await this.sandbox(id);
    const data = mappedSync(() => parseDataChoice(optString(b, 'data', 20) ?? (id === 'demo' ? 'demo' : 'empty')));
    if (data.kind === 'synthetic' && data.count > 5000) throw badRequest('the console resets with at most synthetic:5000', ['data']);
    const created = await mapped(() => resetSandbox(this.services, id, data));
    await this.scenarios.purgeSandbox(old.key);
    return { sandbox: this.view(created.sandbox), resources: created.resources };
  }

  async deleteSandbox(id: string): Promise<void> {
    const old = await this.sandbox(id);
    await mapped(() => deleteSandbox(this.services, id));
    await this.scenarios.purgeSandbox(old.key);
  }

  async exportSandbox(id: string): Promise<Bundle> {
    await this.sandbox(id);
    return exportSandbox(this.services, id);
  }

  // ---- patients --------------------------------------------------------------------------------

  /** Name search with paging (`_offset`); one extra row tells whether a next page exists. */
  async searchPatients(id: string, q: { name?: string; page?: number; count?: number }): Promise<{ patients: PatientRow[]; page: number; count: number; hasNext: boolean }> {
    const s = await this.sandbox(id);
    const count = Math.min(Math.max(q.count ?? 20, 1), 100);
    const page = Math.max(q.page ?? 1, 1);
    if (page > 10000) throw badRequest('page is too large', ['page']);
    const params = new URLSearchParams({ _count: String(count + 1), _offset: String((page - 1) * count), _sort: 'family' });
    const name = q.name?.trim();
    if (name) {
      if (name.length > 100) throw badRequest('name is too long', ['name']);
      params.set('name', name);
    }
    const found = await this.services.fhir.search(s.key, 'Patient', params);
    const patients = found.slice(0, count).map((p) => {
      const r = p as Resource & { gender?: string; birthDate?: string };
      return { id: r.id as string, name: humanName(r) || '(no name)', gender: r.gender, birthDate: r.birthDate };
    });
    return { patients, page, count, hasNext: found.length > count };
  }

  async patientSummary(id: string, patientId: string): Promise<{
    patient: Resource;
    conditions: Resource[];
    observations: Resource[];
    medications: Resource[];
    encounters: Resource[];
  }> {
    const s = await this.sandbox(id);
    const patient = await this.services.fhir.read(s.key, 'Patient', patientId);
    if (!patient) throw notFound(`patient ${patientId} does not exist in sandbox ${id}`);
    const by = (type: string, sort?: string) =>
      this.services.fhir.search(s.key, type, new URLSearchParams({ patient: patientId, _count: '100', ...(sort ? { _sort: sort } : {}) }));
    return {
      patient,
      conditions: await by('Condition'),
      observations: await by('Observation', '-date'),
      medications: await by('MedicationRequest'),
      encounters: await by('Encounter', '-date'),
    };
  }

  // ---- apps ------------------------------------------------------------------------------------

  async listClients(id: string): Promise<SandboxClient[]> {
    return this.services.auth.clients.list((await this.sandbox(id)).key);
  }

  /** Body: `client add` options in JSON (camelCase, as `ClientAddOptions`). */
  async addClient(id: string, body: unknown): Promise<{ client: SandboxClient; generatedSecret?: string }> {
    const s = await this.sandbox(id);
    const opts = clientOptions(requireObject(body, '{"clientId":"my_app","public":true,"redirectUris":["http://localhost:3000/"]}'));
    return mapped(() => this.services.auth.clients.add(s.key, opts));
  }

  /** Body: `{"manifest":{…}}` plus optional `clientId`, `pkce`, `consent` overrides. */
  async addClientFromManifest(id: string, manifest: unknown, overrides: { clientId?: string; pkce?: string; consent?: string }): Promise<{ client: SandboxClient; generatedSecret?: string }> {
    const s = await this.sandbox(id);
    const opts = manifestToClient(manifest, { clientId: overrides.clientId });
    const { pkce, consent } = clientOptions({ pkce: overrides.pkce, consent: overrides.consent });
    return mapped(() => this.services.auth.clients.add(s.key, { ...opts, ...stripUndefined({ pkce, consent }) }));
  }

  /**
   * Edit = re-registration under the same client id: the store has no in-place update, and a changed
   * registration (scopes, redirect URIs, keys) should not keep grants made under the old one, so every
   * token of the app is revoked. A confidential client keeps no secret across an edit: give `secret`
   * or a new one is generated and shown once. If the new registration is invalid the old one stays.
   */
  async updateClient(id: string, clientId: string, body: unknown): Promise<{ client: SandboxClient; generatedSecret?: string }> {
    const s = await this.sandbox(id);
    const old = await this.services.auth.clients.getClient(s.key, clientId);
    if (!old) throw notFound(`app ${clientId} does not exist in sandbox ${id}`);
    const b = requireObject(body, '{"scope":"launch patient/*.rs"}');
    const opts = clientOptions({ ...b, clientId });
    // Atomic in the store: when it refuses the new registration, the old one stays.
    return mapped(() => this.services.auth.clients.replace(s.key, opts));
  }

  async removeClient(id: string, clientId: string): Promise<void> {
    const s = await this.sandbox(id);
    if (!(await this.services.auth.clients.remove(s.key, clientId))) throw notFound(`app ${clientId} does not exist in sandbox ${id}`);
  }

  // ---- personas --------------------------------------------------------------------------------

  async listPersonas(id: string): Promise<PersonaListing[]> {
    return this.services.auth.personas.list((await this.sandbox(id)).key);
  }

  async addPersona(id: string, body: unknown): Promise<{ persona: PersonaListing; generatedPassword?: string }> {
    const s = await this.sandbox(id);
    const b = requireObject(body, '{"username":"dr-who","resource":"Practitioner/123"}');
    const username = optString(b, 'username', 64);
    const resource = optString(b, 'resource', 200);
    if (!username) throw badRequest('username is required', ['username']);
    if (!resource) throw badRequest('resource is required (Practitioner/ID or Patient/ID)', ['resource']);
    return mapped(() => this.services.auth.personas.add(s.key, { username, resource, password: optString(b, 'password'), name: optString(b, 'name', 200) }));
  }

  async removePersona(id: string, username: string): Promise<void> {
    const s = await this.sandbox(id);
    if (!(await this.services.auth.personas.remove(s.key, username))) throw notFound(`persona ${username} does not exist in sandbox ${id}`);
  }

  // ---- launches and scenarios -----------------------------------------------------------------

  /** Registers a launch exactly like `POST {iss}/_services/smart/Launch` with the orchestration right. */
  async launch(id: string, body: unknown): Promise<LaunchResponse> {
    const s = await this.sandbox(id);
    return this.services.launch.register(s, CONSOLE_CALLER, body);
  }

  async listScenarios(id: string): Promise<Scenario[]> {
    return this.scenarios.list((await this.sandbox(id)).key);
  }

  /** Body: `{name, description?, client_id, username?, parameters}` (parameters as in launch registration). */
  async createScenario(id: string, body: unknown): Promise<Scenario> {
    const s = await this.sandbox(id);
    const b = requireObject(body, '{"name":"Bili baby","client_id":"bilirubin_chart","parameters":{"patient":"BILIBABY"}}');
    const name = optString(b, 'name', 120)?.trim();
    if (!name) throw badRequest('name is required', ['name']);
    const description = optString(b, 'description', 1000);
    const clientId = optString(b, 'client_id', 128);
    if (!clientId) throw badRequest('client_id is required: a scenario launches one app', ['client_id']);
    const reg = parseRegistration({ client_id: clientId, username: b.username ?? undefined, parameters: b.parameters ?? {} });
    if (!(await this.services.auth.clients.getClient(s.key, clientId))) throw badRequest(`client_id ${clientId} is not an app of sandbox ${id}`, ['client_id']);
    if (reg.username !== undefined && !(await this.services.auth.personas.getPersona(s.key, reg.username)))
      throw badRequest(`username ${reg.username} is not a persona of sandbox ${id}`, ['username']);
    return mapped(() => this.scenarios.create(s.key, { name, description, clientId, username: reg.username, parameters: reg.parameters }));
  }

  async deleteScenario(id: string, scenarioId: number): Promise<void> {
    const s = await this.sandbox(id);
    if (!(await this.scenarios.delete(s.key, scenarioId))) throw notFound(`scenario ${scenarioId} does not exist in sandbox ${id}`);
  }

  /** A new launch from a saved scenario; records the last-launched time. */
  async launchScenario(id: string, scenarioId: number): Promise<{ scenario: Scenario; launch: LaunchResponse }> {
    const s = await this.sandbox(id);
    const sc = await this.scenarios.get(s.key, scenarioId);
    if (!sc) throw notFound(`scenario ${scenarioId} does not exist in sandbox ${id}`);
    const launch = await this.services.launch.register(s, CONSOLE_CALLER, {
      client_id: sc.clientId,
      ...(sc.username ? { username: sc.username } : {}),
      parameters: sc.parameters,
    });
    await this.scenarios.markLaunched(s.key, sc.id);
    return { scenario: (await this.scenarios.get(s.key, sc.id))!, launch };
  }

  // ---- inspector -------------------------------------------------------------------------------

  /**
   * Registrations refused before a launch existed — a CDS Hooks card link whose launch URL matches no
   * app, a user token naming a patient it may not see — newest first, so a dead card link can be explained.
   */
  async refusedRegistrations(id: string, limit = 20): Promise<{ at: string; clientId?: string; username?: string; detail?: string }[]> {
    const s = await this.sandbox(id);
    const failures = await this.services.audit.query(s.key, { outcome: 'failure', limit: 200 });
    return failures
      .filter((r) => r.action === 'register')
      .slice(0, limit)
      .map((r) => ({ at: iso(r.recordedAt), ...(r.clientId ? { clientId: r.clientId } : {}), ...(r.username ? { username: r.username } : {}), ...(r.detail ? { detail: r.detail } : {}) }));
  }

  /** Recent launches with their use as recorded in the audit trail (oldest use first). */
  async inspect(id: string, limit = 50): Promise<InspectedLaunch[]> {
    const s = await this.sandbox(id);
    const now = Date.now();
    const out: InspectedLaunch[] = [];
    for (const l of await this.services.launches.recent(s.key, Math.min(Math.max(limit, 1), 200))) {
      const uses: StoredAuditRecord[] = (await this.services.audit.query(s.key, { launchHash: l.idHash, limit: 100 })).reverse();
      out.push({
        launchHash: l.idHash,
        // The bound app(s), space-separated (a CDS Hooks card link may bind several).
        clientId: l.clientIds.length ? l.clientIds.join(' ') : undefined,
        username: l.username,
        parameters: l.parameters,
        createdAt: iso(l.createdAt),
        createdBy: l.createdBy,
        expiresAt: iso(l.expiresAt),
        expired: l.expiresAt <= now,
        ...(l.consumedAt ? { consumedAt: iso(l.consumedAt) } : {}),
        uses: uses.map((u) => ({
          at: iso(u.recordedAt),
          action: u.action,
          outcome: u.outcome,
          ...(u.clientId ? { clientId: u.clientId } : {}),
          ...(u.username ? { username: u.username } : {}),
          ...(u.detail ? { detail: u.detail } : {}),
        })),
      });
    }
    return out;
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Validates the JSON shape of client options; the client store validates the values. */
export function clientOptions(b: Record<string, unknown>): ClientAddOptions {
  const pkce = optString(b, 'pkce', 20);
  if (pkce !== undefined && pkce !== 'required' && pkce !== 'if-sent') throw badRequest('pkce must be required or if-sent', ['pkce']);
  const consent = optString(b, 'consent', 20);
  if (consent !== undefined && consent !== 'prompt' && consent !== 'skip') throw badRequest('consent must be prompt or skip', ['consent']);
  const secretMethod = optString(b, 'secretMethod', 40);
  if (secretMethod !== undefined && secretMethod !== 'client_secret_basic' && secretMethod !== 'client_secret_post')
    throw badRequest('secretMethod must be client_secret_basic or client_secret_post', ['secretMethod']);
  const jwks = b.jwks;
  if (jwks !== undefined && jwks !== null && !isObject(jwks)) throw badRequest('jwks must be a JSON Web Key Set object', ['jwks']);
  const ttl = (k: string) => {
    const v = b[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number') throw badRequest(`${k} must be a number of seconds`, [k]);
    return v;
  };
  return stripUndefined({
    clientId: optString(b, 'clientId', 128) ?? '',
    name: optString(b, 'name', 200),
    public: optBool(b, 'public'),
    secret: optString(b, 'secret'),
    secretMethod: secretMethod as ClientAddOptions['secretMethod'],
    jwksUrl: optString(b, 'jwksUrl', 2048),
    jwks: (jwks ?? undefined) as ClientAddOptions['jwks'],
    redirectUris: optStrings(b, 'redirectUris'),
    launchUri: optString(b, 'launchUri', 2048),
    scope: optString(b, 'scope', 4000),
    grantTypes: optStrings(b, 'grantTypes'),
    pkce: pkce as ClientAddOptions['pkce'],
    consent: consent as ClientAddOptions['consent'],
    mayRegisterLaunches: optBool(b, 'mayRegisterLaunches'),
    accessTokenTtl: ttl('accessTokenTtl'),
    refreshTokenTtl: ttl('refreshTokenTtl'),
    launchTtl: ttl('launchTtl'),
  }) as ClientAddOptions;
}

