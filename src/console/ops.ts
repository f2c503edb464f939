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
import { type Scenario, ScenarioExists, ScenarioStore } from './scenarios.js';

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
function mapped<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof AuthInputError || e instanceof TenantError)
      throw e.kind === 'exists' ? conflict(e.message) : e.kind === 'not-found' ? notFound(e.message) : badRequest(e.message);
    if (e instanceof DataChoiceError) throw badRequest(e.message.replace('--data', 'data'), ['data']);
    if (e instanceof ScenarioExists) throw conflict(e.message);
    throw e;
  }
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
    this.scenarios = new ScenarioStore(services.db);
  }

  // ---- sandboxes -------------------------------------------------------------------------------

  sandbox(id: string): Sandbox {
    const s = this.services.tenants.get(id);
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

  listSandboxes(): SandboxView[] {
    return this.services.tenants.list().map((s) => this.view(s));
  }

  createSandbox(body: unknown): { sandbox: SandboxView; resources: number; personas: { username: string; password: string; resource: string }[] } {
    const b = requireObject(body, '{"id":"my-sandbox","data":"demo"}');
    const id = optString(b, 'id', 63);
    if (!id) throw badRequest('id is required', ['id']);
    const open = optBool(b, 'open') ?? false;
    const openWrite = optBool(b, 'openWrite') ?? false;
    if (openWrite && !open) throw badRequest('openWrite needs open', ['openWrite']);
    const data: DataChoice = mapped(() => parseDataChoice(optString(b, 'data', 20) ?? 'empty'));
    if (data.kind === 'synthetic' && data.count > 5000)
      throw badRequest('the console creates at most synthetic:5000 (use `smart-sandbox sandbox create --data synthetic:N` for more)', ['data']);
    const created = mapped(() =>
      createSandbox(this.services, id, { name: optString(b, 'name', 200), openRead: open, openWrite, openRegistration: optBool(b, 'openRegistration') ?? false, data }),
    );
    return { sandbox: this.view(created.sandbox), resources: created.resources, personas: created.personas };
  }

  updateSandbox(id: string, body: unknown): SandboxView {
    const b = requireObject(body, '{"open":true}');
    const s = this.sandbox(id);
    const open = optBool(b, 'open');
    let openWrite = optBool(b, 'openWrite');
    if (openWrite && !(open ?? s.openRead)) throw badRequest('openWrite needs open', ['openWrite']);
    if (open === false) openWrite = false;
    const updated = mapped(() =>
      this.services.tenants.update(id, { name: optString(b, 'name', 200), openRead: open, openWrite, openRegistration: optBool(b, 'openRegistration') }),
    );
    return this.view(updated);
  }

  /** Reset keeps id and settings; the data kind defaults to demo for `demo`, else empty (as the CLI). */
  resetSandbox(id: string, body: unknown): { sandbox: SandboxView; resources: number } {
    const b = body === undefined || body === null ? {} : requireObject(body, '{"data":"demo"}');
    const old = this.sandbox(id);
    const data = mapped(() => parseDataChoice(optString(b, 'data', 20) ?? (id === 'demo' ? 'demo' : 'empty')));
    if (data.kind === 'synthetic' && data.count > 5000) throw badRequest('the console resets with at most synthetic:5000', ['data']);
    const created = mapped(() => resetSandbox(this.services, id, data));
    this.scenarios.purgeSandbox(old.key);
    return { sandbox: this.view(created.sandbox), resources: created.resources };
  }

  deleteSandbox(id: string): void {
    const old = this.sandbox(id);
    mapped(() => deleteSandbox(this.services, id));
    this.scenarios.purgeSandbox(old.key);
  }

  exportSandbox(id: string): Bundle {
    this.sandbox(id);
    return exportSandbox(this.services, id);
  }

  // ---- patients --------------------------------------------------------------------------------

  /** Name search with paging (`_offset`); one extra row tells whether a next page exists. */
  searchPatients(id: string, q: { name?: string; page?: number; count?: number }): { patients: PatientRow[]; page: number; count: number; hasNext: boolean } {
    const s = this.sandbox(id);
    const count = Math.min(Math.max(q.count ?? 20, 1), 100);
    const page = Math.max(q.page ?? 1, 1);
    if (page > 10000) throw badRequest('page is too large', ['page']);
    const params = new URLSearchParams({ _count: String(count + 1), _offset: String((page - 1) * count), _sort: 'family' });
    const name = q.name?.trim();
    if (name) {
      if (name.length > 100) throw badRequest('name is too long', ['name']);
      params.set('name', name);
    }
    const found = this.services.fhir.search(s.key, 'Patient', params);
    const patients = found.slice(0, count).map((p) => {
      const r = p as Resource & { gender?: string; birthDate?: string };
      return { id: r.id as string, name: humanName(r) || '(no name)', gender: r.gender, birthDate: r.birthDate };
    });
    return { patients, page, count, hasNext: found.length > count };
  }

  patientSummary(id: string, patientId: string): {
    patient: Resource;
    conditions: Resource[];
    observations: Resource[];
    medications: Resource[];
    encounters: Resource[];
  } {
    const s = this.sandbox(id);
    const patient = this.services.fhir.read(s.key, 'Patient', patientId);
    if (!patient) throw notFound(`patient ${patientId} does not exist in sandbox ${id}`);
    const by = (type: string, sort?: string) =>
      this.services.fhir.search(s.key, type, new URLSearchParams({ patient: patientId, _count: '100', ...(sort ? { _sort: sort } : {}) }));
    return {
      patient,
      conditions: by('Condition'),
      observations: by('Observation', '-date'),
      medications: by('MedicationRequest'),
      encounters: by('Encounter', '-date'),
    };
  }

  // ---- apps ------------------------------------------------------------------------------------

  listClients(id: string): SandboxClient[] {
    return this.services.auth.clients.list(this.sandbox(id).key);
  }

  /** Body: `client add` options in JSON (camelCase, as `ClientAddOptions`). */
  addClient(id: string, body: unknown): { client: SandboxClient; generatedSecret?: string } {
    const s = this.sandbox(id);
    const opts = clientOptions(requireObject(body, '{"clientId":"my_app","public":true,"redirectUris":["http://localhost:3000/"]}'));
    return mapped(() => this.services.auth.clients.add(s.key, opts));
  }

  /** Body: `{"manifest":{…}}` plus optional `clientId`, `pkce`, `consent` overrides. */
  addClientFromManifest(id: string, manifest: unknown, overrides: { clientId?: string; pkce?: string; consent?: string }): { client: SandboxClient; generatedSecret?: string } {
    const s = this.sandbox(id);
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
  updateClient(id: string, clientId: string, body: unknown): { client: SandboxClient; generatedSecret?: string } {
    const s = this.sandbox(id);
    const old = this.services.auth.clients.getClient(s.key, clientId);
    if (!old) throw notFound(`app ${clientId} does not exist in sandbox ${id}`);
    const b = requireObject(body, '{"scope":"launch patient/*.rs"}');
    const opts = clientOptions({ ...b, clientId });
    // One transaction: when the store refuses the new registration, the removal is rolled back too.
    const run = this.services.db.transaction(() => {
      this.services.auth.clients.remove(s.key, clientId);
      return this.services.auth.clients.add(s.key, opts);
    });
    return mapped(() => run());
  }

  removeClient(id: string, clientId: string): void {
    const s = this.sandbox(id);
    if (!this.services.auth.clients.remove(s.key, clientId)) throw notFound(`app ${clientId} does not exist in sandbox ${id}`);
  }

  // ---- personas --------------------------------------------------------------------------------

  listPersonas(id: string): PersonaListing[] {
    return this.services.auth.personas.list(this.sandbox(id).key);
  }

  addPersona(id: string, body: unknown): { persona: PersonaListing; generatedPassword?: string } {
    const s = this.sandbox(id);
    const b = requireObject(body, '{"username":"dr-who","resource":"Practitioner/123"}');
    const username = optString(b, 'username', 64);
    const resource = optString(b, 'resource', 200);
    if (!username) throw badRequest('username is required', ['username']);
    if (!resource) throw badRequest('resource is required (Practitioner/ID or Patient/ID)', ['resource']);
    return mapped(() => this.services.auth.personas.add(s.key, { username, resource, password: optString(b, 'password'), name: optString(b, 'name', 200) }));
  }

  removePersona(id: string, username: string): void {
    const s = this.sandbox(id);
    if (!this.services.auth.personas.remove(s.key, username)) throw notFound(`persona ${username} does not exist in sandbox ${id}`);
  }

  // ---- launches and scenarios -----------------------------------------------------------------

  /** Registers a launch exactly like `POST {iss}/_services/smart/Launch` with the orchestration right. */
  launch(id: string, body: unknown): LaunchResponse {
    const s = this.sandbox(id);
    return this.services.launch.register(s, CONSOLE_CALLER, body);
  }

  listScenarios(id: string): Scenario[] {
    return this.scenarios.list(this.sandbox(id).key);
  }

  /** Body: `{name, description?, client_id, username?, parameters}` (parameters as in launch registration). */
  createScenario(id: string, body: unknown): Scenario {
    const s = this.sandbox(id);
    const b = requireObject(body, '{"name":"Bili baby","client_id":"bilirubin_chart","parameters":{"patient":"BILIBABY"}}');
    const name = optString(b, 'name', 120)?.trim();
    if (!name) throw badRequest('name is required', ['name']);
    const description = optString(b, 'description', 1000);
    const clientId = optString(b, 'client_id', 128);
    if (!clientId) throw badRequest('client_id is required: a scenario launches one app', ['client_id']);
    const reg = parseRegistration({ client_id: clientId, username: b.username ?? undefined, parameters: b.parameters ?? {} });
    if (!this.services.auth.clients.getClient(s.key, clientId)) throw badRequest(`client_id ${clientId} is not an app of sandbox ${id}`, ['client_id']);
    if (reg.username !== undefined && !this.services.auth.personas.getPersona(s.key, reg.username))
      throw badRequest(`username ${reg.username} is not a persona of sandbox ${id}`, ['username']);
    return mapped(() => this.scenarios.create(s.key, { name, description, clientId, username: reg.username, parameters: reg.parameters }));
  }

  deleteScenario(id: string, scenarioId: number): void {
    const s = this.sandbox(id);
    if (!this.scenarios.delete(s.key, scenarioId)) throw notFound(`scenario ${scenarioId} does not exist in sandbox ${id}`);
  }

  /** A new launch from a saved scenario; records the last-launched time. */
  launchScenario(id: string, scenarioId: number): { scenario: Scenario; launch: LaunchResponse } {
    const s = this.sandbox(id);
    const sc = this.scenarios.get(s.key, scenarioId);
    if (!sc) throw notFound(`scenario ${scenarioId} does not exist in sandbox ${id}`);
    const launch = this.services.launch.register(s, CONSOLE_CALLER, {
      client_id: sc.clientId,
      ...(sc.username ? { username: sc.username } : {}),
      parameters: sc.parameters,
    });
    this.scenarios.markLaunched(s.key, sc.id);
    return { scenario: this.scenarios.get(s.key, sc.id)!, launch };
  }

  // ---- inspector -------------------------------------------------------------------------------

  /** Recent launches with their use as recorded in the audit trail (oldest use first). */
  inspect(id: string, limit = 50): InspectedLaunch[] {
    const s = this.sandbox(id);
    const now = Date.now();
    return this.services.launches.recent(s.key, Math.min(Math.max(limit, 1), 200)).map((l) => {
      const uses: StoredAuditRecord[] = this.services.audit.query(s.key, { launchHash: l.idHash, limit: 100 }).reverse();
      return {
        launchHash: l.idHash,
        clientId: l.clientId,
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
      };
    });
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
  }) as ClientAddOptions;
}

