/**
 * The launch lifecycle, owned here and nowhere else (docs/adr/0005-launch-lifecycle.md):
 *
 *   registered ──▶ used by any number of authorizations (codes ──▶ tokens) ──▶ expired | revoked
 *
 * This module alone decides who may register which context, to which app(s) a launch is bound, how
 * long it lives, who may redeem it at /authorize, whether it may sign its persona in without a
 * password, which patients a signed-in persona may be given, and what the launch audit records.
 * The registration API (service.ts) and the authorization server (src/auth) ask it. Launch ids are
 * hashed here only (hashLaunchId); the store sees hashes.
 */
import type { ClientLookup, Persona, PersonaLookup, SandboxClient } from '../auth/types.js';
import type { Clock } from '../config/clock.js';
import { badRequest, FhirError, forbidden, insufficientScope } from '../errors/errors.js';
import type { TokenGrant } from '../fhir/access/types.js';
import type { FhirDirectory } from '../fhir/directory.js';
import { hasScope as grantsScope, ORCHESTRATE_LAUNCH } from '../smart/scopes.js';
import type { Sandbox } from '../storage/types.js';
import type { AuditLog } from './audit.js';
import { hashLaunchId, LAUNCH_ID, type LaunchAuthority, type LaunchStore, newLaunchId, type StoredLaunch } from './model.js';
import { patientsOfPersona, type Visible, tokenConfinedTo } from './visibility.js';
import type { RegistrationRequest } from './validate.js';

/** The restricted scope that lets a token register launches for any app and persona (the SMART scope grammar's). */
export const ORCHESTRATE_SCOPE = ORCHESTRATE_LAUNCH;

export const LIFETIMES = {
  /** CDS Hooks cards register launches when they render, long before a click (also with a username). */
  defaultSeconds: 60 * 60,
  maxSeconds: 24 * 60 * 60,
  /** An orchestrator's launch signs its persona in without a password once, within this window. */
  ssoWindowSeconds: 2 * 60,
};

/** Who is calling the registration API. */
export type Caller =
  | { kind: 'token'; grant: TokenGrant }
  /** Legacy open registration (sandbox opt-in): no token at all. */
  | { kind: 'anonymous' }
  /** The local administrator (CLI, console): same rights as the orchestration scope. */
  | { kind: 'admin'; name: string };

/** The right a caller registers with (see `authority`). */
export interface Authority {
  kind: LaunchAuthority;
  /** client_id of the token, the administrator's name, or `anonymous`. */
  createdBy: string;
  /** App users: the token's user, who is always the launch's user. */
  user?: string;
  grant?: TokenGrant;
}

/** A launch refused at /authorize, as the OAuth error to answer (RFC 6749 §4.1.2.1). */
export interface AuthorizeRefusal {
  error: 'invalid_request' | 'invalid_scope' | 'access_denied';
  description: string;
}

/** The browser session at /authorize, as oidc-provider keeps it. */
export interface SessionView {
  uid?: string;
  accountId?: string;
  amr?: string[];
}

/** Authentication method reference of sessions created by a launch's password-less sign-in. */
export const SSO_AMR = 'smart_launch';

export interface LifecycleDeps {
  launches: LaunchStore;
  clients: ClientLookup & { list(sandboxKey: number): Promise<SandboxClient[]> };
  personas: PersonaLookup;
  fhir: FhirDirectory;
  audit?: AuditLog;
  clock: Clock;
}

const hasScope = (grant: TokenGrant, scope: string) => grantsScope(grant.scope, scope);

/** Origin and path of a URL: query and fragment ignored; WHATWG URL lower-cases the host and drops default ports. */
export function launchUrlKey(url: string): string | undefined {
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return undefined;
  }
}

export class LaunchLifecycle {
  constructor(private readonly deps: LifecycleDeps) {}

  now(): number {
    return this.deps.clock();
  }

  /** The one place launch ids are hashed. */
  hash(launchId: string): string {
    return hashLaunchId(launchId);
  }

  /** The live launch with this id in the sandbox generation, if any. */
  async find(sandboxKey: number, launchId: unknown): Promise<StoredLaunch | undefined> {
    if (typeof launchId !== 'string' || !LAUNCH_ID.test(launchId)) return undefined;
    return this.deps.launches.find(sandboxKey, hashLaunchId(launchId), this.now());
  }

  // ── Registration ────────────────────────────────────────────────────────────────────────────

  /**
   * What a caller may do (docs/architecture.md §5), fail closed: `orchestrator` (the restricted scope or the
   * local administrator), `app-user` (an app flagged "may register launches" with its user's token),
   * `anonymous` (legacy open registration). 403 for a token with neither right.
   */
  async authority(sandbox: Sandbox, caller: Caller): Promise<Authority> {
    if (caller.kind === 'anonymous') {
      if (!sandbox.openRegistration)
        throw new FhirError(401, [{ severity: 'error', code: 'login', diagnostics: 'a bearer token is required' }], { 'www-authenticate': 'Bearer error="invalid_token", error_description="a bearer token is required"' });
      return { kind: 'anonymous', createdBy: 'anonymous' };
    }
    if (caller.kind === 'admin') return { kind: 'orchestrator', createdBy: caller.name };
    const { grant } = caller;
    if (hasScope(grant, ORCHESTRATE_SCOPE)) return { kind: 'orchestrator', createdBy: grant.clientId, user: grant.sub, grant };
    const client = await this.deps.clients.getClient(sandbox.key, grant.clientId);
    if (client?.mayRegisterLaunches && grant.sub) return { kind: 'app-user', createdBy: grant.clientId, user: grant.sub, grant };
    throw insufficientScope(`registering launches needs the ${ORCHESTRATE_SCOPE} scope or a user token of an app allowed to register launches`);
  }

  /** Decides and stores a launch; returns its id (shown once) and the stored record. */
  async register(sandbox: Sandbox, who: Authority, req: RegistrationRequest): Promise<{ launchId: string; launch: StoredLaunch; launchUri?: string }> {
    let username = req.username;
    if (who.kind === 'anonymous') {
      if (username !== undefined) throw badRequest('open registration cannot name a username (single sign-on needs a token)', ['username']);
      if (req.clientId === undefined) throw badRequest('open registration requires client_id', ['client_id']);
    } else if (who.kind === 'app-user') {
      // The launch's user is always the token's user (a forwarded token signs nobody else in).
      if (username !== undefined && username !== who.user) throw forbidden('a user token may only register launches for its own user');
      username = who.user;
    }

    const bound = await this.binding(sandbox, who, req);
    if (username !== undefined && !(await this.deps.personas.getPersona(sandbox.key, username)))
      throw badRequest(`username ${username} is not a persona of sandbox ${sandbox.id}`, ['username']);
    await this.checkContext(sandbox, who, req.parameters);

    const app = bound.length === 1 ? bound[0] : undefined;
    // expires_in, else the app's own default (client setting), else 60 minutes; never over 24 hours.
    const lifetime = Math.min(req.expiresIn ?? app?.launchTtl ?? LIFETIMES.defaultSeconds, LIFETIMES.maxSeconds);
    const now = this.now();
    const launchId = newLaunchId();
    const launch: StoredLaunch = {
      sandboxKey: sandbox.key,
      idHash: hashLaunchId(launchId),
      clientIds: bound.map((c) => c.clientId),
      username,
      authority: who.kind,
      sessionUid: who.kind === 'app-user' ? who.grant?.sessionUid : undefined,
      parameters: req.parameters,
      createdAt: now,
      createdBy: who.createdBy,
      expiresAt: now + lifetime * 1000,
      simulateError: req.simulateError,
    };
    await this.deps.launches.insert(launch);
    this.deps.audit?.record({
      sandboxKey: sandbox.key,
      action: 'register',
      outcome: 'success',
      clientId: who.createdBy,
      username,
      launchHash: launch.idHash,
      patient: typeof req.parameters.patient === 'string' ? req.parameters.patient : undefined,
      detail: bound.length ? `for ${launch.clientIds.join(', ')}` : undefined,
    });
    return { launchId, launch, launchUri: app?.launchUri ?? req.launchUrl };
  }

  /**
   * The apps a launch is bound to. `client_id` names one; `launchUrl` (the CDS Hooks sandbox) names
   * every app whose launch URI has the same origin and path. An app user's launch is never unbound:
   * no match is a 400 that says how to fix it, recorded in the audit so the inspector shows why a
   * card link is dead. Orchestrators may leave a launch unbound (any app of the sandbox).
   */
  private async binding(sandbox: Sandbox, who: Authority, req: RegistrationRequest): Promise<SandboxClient[]> {
    if (req.clientId !== undefined) {
      const client = await this.deps.clients.getClient(sandbox.key, req.clientId);
      if (!client) throw badRequest(`client_id ${req.clientId} is not an app of sandbox ${sandbox.id}`, ['client_id']);
      return [client];
    }
    if (req.launchUrl !== undefined) {
      const key = launchUrlKey(req.launchUrl);
      const matches = (await this.deps.clients.list(sandbox.key)).filter((c) => c.launchUri !== undefined && launchUrlKey(c.launchUri) === key);
      if (matches.length || who.kind !== 'app-user') return matches;
      const why = `no app of sandbox ${sandbox.id} has the launch URI ${req.launchUrl} (compared by origin and path); register the app with that launch URI (console app form, or smart-sandbox client add … --launch-uri ${key}), or send its client_id`;
      throw badRequest(this.refused(sandbox, who, why), ['launchUrl']);
    }
    if (who.kind === 'app-user') throw badRequest('a launch registered with a user token must name its app: send client_id, or launchUrl matching the app\'s launch URI', ['client_id']);
    return [];
  }

  /**
   * Patient and encounter exist; the encounter belongs to the patient; and an app user names only
   * what that user may see (docs/architecture.md §5): a persona that is not a Practitioner only the
   * patient(s) its resource gives it, a token with only `patient/` resource scopes (or none) only its
   * context patient. Orchestrators may name any.
   */
  private async checkContext(sandbox: Sandbox, who: Authority, p: Record<string, unknown>): Promise<void> {
    const { fhir } = this.deps;
    let patient = p.patient as string | undefined;
    if (patient !== undefined && !(await fhir.read(sandbox.key, 'Patient', patient)))
      throw badRequest(`patient ${patient} does not exist in sandbox ${sandbox.id}`, ['parameters.patient']);
    const encounterId = p.encounter as string | undefined;
    if (encounterId !== undefined) {
      const encounter = (await fhir.read(sandbox.key, 'Encounter', encounterId)) as { subject?: { reference?: string } } | undefined;
      if (!encounter) throw badRequest(`encounter ${encounterId} does not exist in sandbox ${sandbox.id}`, ['parameters.encounter']);
      const owner = /^Patient\/([A-Za-z0-9.-]{1,64})$/.exec(encounter.subject?.reference ?? '')?.[1];
      if (patient !== undefined && owner !== patient) {
        const why = `encounter ${encounterId} is not an encounter of patient ${patient}`;
        // An app user names only what its user may see: an encounter of another patient is refused (403).
        if (who.kind === 'app-user') throw forbidden(this.refused(sandbox, who, why));
        throw badRequest(why, ['parameters.encounter']);
      }
      // An encounter alone names its patient, for the checks below.
      patient ??= owner;
      if (who.kind === 'app-user' && owner === undefined) throw forbidden(`encounter ${encounterId} has no patient; a user token may only name encounters of patients it may see`);
    }
    if (who.kind !== 'app-user' || patient === undefined) return;
    const persona = await this.deps.personas.getPersona(sandbox.key, who.user as string);
    if (!persona) throw forbidden(this.refused(sandbox, who, `the token's user ${who.user} is no longer a persona of sandbox ${sandbox.id}`));
    const visible = await this.visiblePatients(sandbox.key, persona);
    if (visible !== 'any' && !visible.includes(patient))
      throw forbidden(this.refused(sandbox, who, `persona ${persona.username} (${persona.resource}) may not register a launch for patient ${patient}: ${describeVisible(visible)}`));
    const confined = who.grant ? tokenConfinedTo(who.grant) : undefined;
    if (confined !== undefined && confined !== patient)
      throw forbidden(
        this.refused(sandbox, who, `a token whose resource scopes are all patient/ (or none) may only register launches for its own context patient${confined ? ` ${confined}` : ' (it has none)'}`),
      );
  }

  /** Records a refused registration in the launch audit (no launch exists to hang it on); returns why. */
  private refused(sandbox: Sandbox, who: Authority, why: string): string {
    this.deps.audit?.record({ sandboxKey: sandbox.key, action: 'register', outcome: 'failure', clientId: who.createdBy, username: who.user, detail: why });
    return why;
  }

  /** Revokes a launch: it is unknown from now on. */
  async revoke(sandbox: Sandbox, launch: StoredLaunch): Promise<void> {
    await this.deps.launches.delete(sandbox.key, launch.idHash);
    this.deps.audit?.record({ sandboxKey: sandbox.key, action: 'revoke', outcome: 'success', clientId: launch.createdBy, launchHash: launch.idHash });
  }

  // ── Authorization server ────────────────────────────────────────────────────────────────────

  /** The patients a persona may be given (docs/architecture.md §5); `any` for a Practitioner. */
  visiblePatients(sandboxKey: number, persona: Persona): Promise<Visible> {
    return patientsOfPersona(this.deps.fhir, sandboxKey, persona);
  }

  /**
   * May `clientId` redeem the launch at /authorize? It must be live, and bound to the client when
   * bound. Any number of authorizations may use it until it expires or is revoked. Refusals are
   * audited. Simulated errors (model.ts) are answered here too.
   */
  checkAuthorize(sandboxKey: number, launchId: string, launch: StoredLaunch | undefined, clientId: string): AuthorizeRefusal | undefined {
    let refusal: AuthorizeRefusal | undefined;
    if (!launch) refusal = { error: 'invalid_request', description: 'the launch is unknown or has expired' };
    else if (launch.clientIds.length && !launch.clientIds.includes(clientId)) refusal = { error: 'invalid_request', description: 'the launch was registered for another app' };
    else if (launch.simulateError === 'auth_invalid_scope')
      refusal = { error: 'invalid_scope', description: 'simulated error: the requested scope is invalid (launch registered with simulate_error=auth_invalid_scope)' };
    else if (launch.simulateError === 'auth_access_denied')
      refusal = { error: 'access_denied', description: 'simulated error: the user denied access (launch registered with simulate_error=auth_access_denied)' };
    if (refusal) {
      const detail = refusal.description.startsWith('simulated error') ? `simulated error ${launch?.simulateError}` : refusal.description;
      this.deps.audit?.record({ sandboxKey, action: 'authorize', outcome: 'failure', clientId, launchHash: hashLaunchId(launchId), patient: launch?.parameters.patient as string | undefined, detail });
    }
    return refusal;
  }

  /**
   * Does the browser's session stand in for a login at /authorize? A launch naming a persona: only a
   * session of that persona — and for an app user's launch, the session its token was issued under
   * or one signed in with a password (a password-less session of another origin never). A launch
   * without a persona, and a standalone launch: any session but one a launch's password-less
   * sign-in created (those satisfy only launches naming their persona).
   */
  sessionSatisfies(launch: StoredLaunch | undefined, session: SessionView | undefined): boolean {
    if (!session?.accountId) return false;
    const passwordless = session.amr?.includes(SSO_AMR) ?? false;
    if (!launch?.username) return !passwordless;
    if (session.accountId !== launch.username) return false;
    if (launch.authority === 'orchestrator') return true;
    return (launch.sessionUid !== undefined && session.uid === launch.sessionUid) || !passwordless;
  }

  /**
   * How the persona of a launch signs in when no session satisfies it: `sso` (no password) only for
   * an orchestrator's launch, once, within LIFETIMES.ssoWindowSeconds of registration; otherwise
   * `login-as` (the login page with the username fixed). Launches without a persona: `login`.
   */
  signInMode(launch: StoredLaunch | undefined): 'sso' | 'login-as' | 'login' {
    if (!launch?.username) return 'login';
    const fresh = this.now() - launch.createdAt <= LIFETIMES.ssoWindowSeconds * 1000;
    return launch.authority === 'orchestrator' && launch.consumedAt === undefined && fresh ? 'sso' : 'login-as';
  }

  /** Spends the launch's one password-less sign-in; false when another request spent it first. */
  spendSingleSignOn(launch: StoredLaunch): Promise<boolean> {
    return this.deps.launches.consume(launch.sandboxKey, launch.idHash, this.now());
  }

  /** A refused sign-in or patient, in the launch audit. */
  recordRefusal(launch: StoredLaunch, clientId: string, username: string | undefined, detail: string): void {
    this.deps.audit?.record({ sandboxKey: launch.sandboxKey, action: 'authorize', outcome: 'failure', clientId, username, launchHash: launch.idHash, patient: launch.parameters.patient as string | undefined, detail });
  }

  /** An authorization granted from the launch. */
  recordAuthorized(launch: StoredLaunch, clientId: string, username: string, patient: string | undefined, passwordless: boolean): void {
    this.deps.audit?.record({ sandboxKey: launch.sandboxKey, action: 'authorize', outcome: 'success', clientId, username, patient, launchHash: launch.idHash, detail: passwordless ? 'single sign-on' : undefined });
  }

  /** A code redeemed at /token for tokens carrying the launch's context. */
  recordToken(sandboxKey: number, launchHash: string, clientId: string | undefined, username: string | undefined, patient: string | undefined): void {
    this.deps.audit?.record({ sandboxKey, action: 'token', outcome: 'success', clientId, username, launchHash, patient });
  }
}

function describeVisible(v: string[]): string {
  return v.length ? `its resource gives it only patient ${v.join(', ')}` : 'its resource gives it no patient';
}
