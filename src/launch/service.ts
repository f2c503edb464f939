/**
 * The launch-context registration service (architecture §5): who may register, validation against
 * the sandbox's apps, personas and data, lifetimes, and the HSPC-compatible response.
 */
import type { ClientLookup, PersonaLookup, SandboxClient } from '../auth/types.js';
import { sandboxUrls } from '../config/urls.js';
import { badRequest, FhirError, forbidden, insufficientScope, notFound } from '../errors/errors.js';
import type { TokenGrant } from '../fhir/access/types.js';
import type { FhirDirectory } from '../fhir/directory.js';
import type { Sandbox } from '../storage/types.js';
import type { AuditLog } from './audit.js';
import { hashLaunchId, LAUNCH_ID, type LaunchStore, newLaunchId, type StoredLaunch } from './model.js';
import { parseRegistration } from './validate.js';
import { hasScope as grantsScope, ORCHESTRATE_LAUNCH } from '../smart/scopes.js';

/** The restricted scope that lets a token register launches for any app and persona (the SMART scope grammar's). */
export const ORCHESTRATE_SCOPE = ORCHESTRATE_LAUNCH;

export const LIFETIMES = {
  /** CDS Hooks cards register launches when they render, long before a click. */
  defaultSeconds: 60 * 60,
  maxSeconds: 24 * 60 * 60,
  /** Single sign-on launches act as a persona without login: keep them short. */
  ssoDefaultSeconds: 2 * 60,
  ssoMaxSeconds: 10 * 60,
};

/** Who is calling the registration API. */
export type Caller =
  | { kind: 'token'; grant: TokenGrant }
  /** Legacy open registration (sandbox opt-in): no token at all. */
  | { kind: 'anonymous' }
  /** The local administrator (CLI, console): same rights as the orchestration scope. */
  | { kind: 'admin'; name: string };

export interface LaunchResponse {
  launch_id: string;
  created_at: string;
  created_by: string;
  parameters: Record<string, unknown>;
  username: string;
  expires_at: string;
  launch_url?: string;
  /** smart-sandbox extension, only when the launch simulates an error. */
  simulate_error?: string;
}

interface Deps {
  publicUrl: string;
  launches: LaunchStore;
  clients: ClientLookup;
  personas: PersonaLookup;
  fhir: FhirDirectory;
  audit: AuditLog;
}

const hasScope = (grant: TokenGrant, scope: string) => grantsScope(grant.scope, scope);

export class LaunchService {
  constructor(private readonly deps: Deps) {}

  /**
   * What a caller may do: `orchestrator` (the restricted scope: any app, any persona), `app-user`
   * (an app flagged "may register launches" using its own user's token: username forced to that user),
   * `anonymous` (legacy open registration). Throws 403 for a token with neither right.
   */
  private async authority(sandbox: Sandbox, caller: Caller): Promise<{ kind: 'orchestrator' | 'app-user' | 'anonymous'; createdBy: string; user?: string }> {
    if (caller.kind === 'anonymous') {
      if (!sandbox.openRegistration) throw new FhirError(401, [{ severity: 'error', code: 'login', diagnostics: 'a bearer token is required' }], { 'www-authenticate': 'Bearer error="invalid_token", error_description="a bearer token is required"' });
      return { kind: 'anonymous', createdBy: 'anonymous' };
    }
    if (caller.kind === 'admin') return { kind: 'orchestrator', createdBy: caller.name };
    const { grant } = caller;
    if (hasScope(grant, ORCHESTRATE_SCOPE)) return { kind: 'orchestrator', createdBy: grant.clientId, user: grant.sub };
    const client = await this.deps.clients.getClient(sandbox.key, grant.clientId);
    if (client?.mayRegisterLaunches && grant.sub) return { kind: 'app-user', createdBy: grant.clientId, user: grant.sub };
    throw insufficientScope(`registering launches needs the ${ORCHESTRATE_SCOPE} scope or an app allowed to register launches for its user`);
  }

  async register(sandbox: Sandbox, caller: Caller, body: unknown): Promise<LaunchResponse> {
    const who = await this.authority(sandbox, caller);
    const req = parseRegistration(body);

    let client: SandboxClient | undefined;
    if (req.clientId !== undefined) {
      client = await this.deps.clients.getClient(sandbox.key, req.clientId);
      if (!client) throw badRequest(`client_id ${req.clientId} is not an app of sandbox ${sandbox.id}`, ['client_id']);
    } else if (req.launchUrl !== undefined) {
      // CDS Hooks sandbox variant: it names the app by its launch URL only.
      client = await this.clientByLaunchUrl(sandbox, req.launchUrl);
    }

    let username = req.username;
    if (who.kind === 'anonymous') {
      if (username !== undefined) throw badRequest('open registration cannot name a username (single sign-on needs a token)', ['username']);
      if (req.clientId === undefined) throw badRequest('open registration requires client_id', ['client_id']);
    } else if (who.kind === 'app-user') {
      if (username !== undefined && username !== who.user) throw forbidden('a user token may only register launches for its own user');
      username = client ? who.user : undefined;
    }
    if (username !== undefined) {
      if (!(await this.deps.personas.getPersona(sandbox.key, username))) throw badRequest(`username ${username} is not a persona of sandbox ${sandbox.id}`, ['username']);
      if (!client) throw badRequest('username needs client_id: a single sign-on launch is bound to one app', ['username']);
    }

    await this.checkContextExists(sandbox, req.parameters);

    const sso = username !== undefined;
    const max = sso ? LIFETIMES.ssoMaxSeconds : LIFETIMES.maxSeconds;
    const lifetime = Math.min(req.expiresIn ?? (sso ? LIFETIMES.ssoDefaultSeconds : LIFETIMES.defaultSeconds), max);
    const now = Date.now();
    const launchId = newLaunchId();
    const stored: StoredLaunch = {
      sandboxKey: sandbox.key,
      idHash: hashLaunchId(launchId),
      clientId: client?.clientId,
      username,
      parameters: req.parameters,
      createdAt: now,
      createdBy: who.createdBy,
      expiresAt: now + lifetime * 1000,
      simulateError: req.simulateError,
    };
    await this.deps.launches.insert(stored);
    this.deps.audit.record({
      sandboxKey: sandbox.key,
      action: 'register',
      outcome: 'success',
      clientId: who.createdBy,
      launchHash: stored.idHash,
      patient: typeof req.parameters.patient === 'string' ? req.parameters.patient : undefined,
      detail: client ? `for ${client.clientId}` : undefined,
    });
    return this.response(sandbox, launchId, stored, client?.launchUri ?? req.launchUrl);
  }

  /** GET …/Launch/{id}: the stored launch, to a caller with the same right as registering. */
  async inspect(sandbox: Sandbox, caller: Caller, launchId: string): Promise<LaunchResponse> {
    const { launch } = await this.owned(sandbox, caller, launchId);
    const client = launch.clientId ? await this.deps.clients.getClient(sandbox.key, launch.clientId) : undefined;
    return this.response(sandbox, launchId, launch, client?.launchUri);
  }

  /** DELETE …/Launch/{id}: revokes a launch that was not used yet. */
  async revoke(sandbox: Sandbox, caller: Caller, launchId: string): Promise<void> {
    const { launch } = await this.owned(sandbox, caller, launchId);
    await this.deps.launches.delete(sandbox.key, launchId);
    this.deps.audit.record({ sandboxKey: sandbox.key, action: 'revoke', outcome: 'success', clientId: launch.createdBy, launchHash: launch.idHash });
  }

  private async owned(sandbox: Sandbox, caller: Caller, launchId: string): Promise<{ launch: StoredLaunch }> {
    const who = await this.authority(sandbox, caller);
    const launch = LAUNCH_ID.test(launchId) ? await this.deps.launches.find(sandbox.key, launchId) : undefined;
    // Callers without the orchestration scope only see their own launches; others' answer as unknown.
    if (!launch || (who.kind !== 'orchestrator' && launch.createdBy !== who.createdBy)) throw notFound('no such launch (unknown, expired or not yours)');
    return { launch };
  }

  private async clientByLaunchUrl(sandbox: Sandbox, launchUrl: string): Promise<SandboxClient | undefined> {
    const lookup = this.deps.clients as ClientLookup & { findByLaunchUri?: (key: number, uri: string) => Promise<SandboxClient | undefined> };
    return lookup.findByLaunchUri?.(sandbox.key, launchUrl);
  }

  private async checkContextExists(sandbox: Sandbox, p: Record<string, unknown>): Promise<void> {
    const patient = p.patient as string | undefined;
    if (patient !== undefined && !(await this.deps.fhir.read(sandbox.key, 'Patient', patient)))
      throw badRequest(`patient ${patient} does not exist in sandbox ${sandbox.id}`, ['parameters.patient']);
    const encounterId = p.encounter as string | undefined;
    if (encounterId !== undefined) {
      const encounter = (await this.deps.fhir.read(sandbox.key, 'Encounter', encounterId)) as { subject?: { reference?: string } } | undefined;
      if (!encounter) throw badRequest(`encounter ${encounterId} does not exist in sandbox ${sandbox.id}`, ['parameters.encounter']);
      if (patient !== undefined && encounter.subject?.reference !== `Patient/${patient}`)
        throw badRequest(`encounter ${encounterId} is not an encounter of patient ${patient}`, ['parameters.encounter']);
    }
  }

  private response(sandbox: Sandbox, launchId: string, l: StoredLaunch, launchUri: string | undefined): LaunchResponse {
    const out: LaunchResponse = {
      launch_id: launchId,
      created_at: new Date(l.createdAt).toISOString(),
      created_by: l.createdBy,
      parameters: l.parameters,
      username: l.username ?? 'none',
      expires_at: new Date(l.expiresAt).toISOString(),
    };
    if (l.simulateError) out.simulate_error = l.simulateError;
    if (launchUri) out.launch_url = launchUrl(launchUri, sandboxUrls(this.deps.publicUrl, sandbox.id).iss, launchId);
    return out;
  }
}

/** `{launch_uri}?iss={iss}&launch={id}`, keeping any query the launch URI already has (SMART App Launch §EHR launch). */
export function launchUrl(launchUri: string, iss: string, launchId: string): string {
  const u = new URL(launchUri);
  u.searchParams.set('iss', iss);
  u.searchParams.set('launch', launchId);
  return u.toString();
}
