/**
 * Our interaction pages (docs/auth-server.md §5): sign-in as a sandbox persona, patient picker
 * (`launch/patient`), encounter picker (`launch/encounter`), consent. What a launch allows — signing
 * in without a password, which persona may sign in, which patients a persona may get — is the launch
 * lifecycle's decision (src/launch/lifecycle.ts); these pages carry it out.
 *
 * The picker steps carry their choices in form fields; the final POST re-validates every value
 * against the sandbox data and the persona, so a tampered field gains nothing. Every POST carries a
 * CSRF token bound to the interaction (HMAC with the sandbox's cookie key).
 */
import crypto from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { InteractionResults } from 'oidc-provider';
import { SSO_AMR } from '../launch/lifecycle.js';
import type { StoredLaunch } from '../launch/model.js';
import { buildContext } from './context.js';
import {
  type Choice,
  PAGE_HEADERS,
  switchPersonaPage,
  consentPage,
  encounterPickerPage,
  loginPage,
  patientPickerPage,
  renderErrorPage,
} from './pages.js';
import { type AuthDeps, LIFETIMES, type SandboxProvider } from './provider.js';
import { allowedScopes, describeScope, isOidcScope, parseScope } from './scopes.js';
import type { Persona, SandboxClient } from './types.js';

type Form = Record<string, string | string[] | undefined>;
const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
const ID = /^[A-Za-z0-9.-]{1,64}$/;

function send(reply: FastifyReply, status: number, html: string): FastifyReply {
  return reply.code(status).headers(PAGE_HEADERS).send(html);
}

/** HMAC of the interaction uid under the sandbox's cookie key (the provider was built with the stored keys). */
export function csrfToken(sp: SandboxProvider, uid: string): string {
  return crypto.createHmac('sha256', sp.keys.cookieKeys[0]).update(`csrf|${uid}`).digest('base64url');
}

function csrfValid(sp: SandboxProvider, uid: string, given: string | undefined): boolean {
  if (!given) return false;
  const a = Buffer.from(csrfToken(sp, uid));
  const b = Buffer.from(given);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

/** "Given Family" from a FHIR HumanName list. */
function humanName(r: unknown): string | undefined {
  const n = (r as { name?: { text?: string; given?: string[]; family?: string }[] })?.name?.[0];
  if (!n) return undefined;
  return n.text ?? ([...(n.given ?? []), n.family].filter(Boolean).join(' ') || undefined);
}

interface Flow {
  sp: SandboxProvider;
  deps: AuthDeps;
  request: FastifyRequest;
  reply: FastifyReply;
  uid: string;
  params: Record<string, unknown>;
  client: SandboxClient;
  launch?: StoredLaunch;
  form: Form;
  details: Awaited<ReturnType<SandboxProvider['provider']['interactionDetails']>>;
}

/**
 * Signing in as another persona than the browser session's: forget the old account on the session
 * (keeping its uid, which the interaction is bound to) instead of oidc-provider's script-driven
 * logout-confirm page (docs/architecture.md §6: no script on our pages).
 */
async function switchAccount(f: Flow, accountId: string): Promise<void> {
  const cookie = f.details.session?.cookie;
  if (!cookie || f.details.session?.accountId === undefined || f.details.session.accountId === accountId) return;
  const session = await f.sp.provider.Session.find(cookie);
  if (!session) return;
  session.accountId = undefined;
  session.loginTs = undefined;
  session.amr = undefined;
  session.authorizations = {};
  const now = Math.floor(Date.now() / 1000);
  await session.save(Math.max(session.exp - now, 60));
  // The interaction remembers the account it started with; oidc-provider refuses a changed principal.
  const interaction = await f.sp.provider.Interaction.find(f.uid);
  if (interaction?.session) {
    interaction.session.accountId = undefined as unknown as string;
    await interaction.save(Math.max(interaction.exp - now, 60));
  }
}

async function finish(f: Flow, result: InteractionResults, merge = true): Promise<FastifyReply> {
  if (result.login) await switchAccount(f, result.login.accountId);
  const to = await f.sp.provider.interactionResult(f.request.raw, f.reply.raw, result, { mergeWithLastSubmission: merge });
  return f.reply.redirect(to, 303);
}

const deny = (f: Flow, description: string) => finish(f, { error: 'access_denied', error_description: description }, false);

/** Creates the grant of this authorization and stores its SMART context (docs/auth-server.md §3). */
async function grantAndFinish(
  f: Flow,
  persona: Persona,
  requested: string[],
  chosen: { patient?: string; encounter?: string },
  passwordless: boolean,
): Promise<FastifyReply> {
  const { provider, urls, sandbox } = f.sp;
  const grant = new provider.Grant({ accountId: persona.username, clientId: f.client.clientId });
  const oidc = requested.filter(isOidcScope);
  if (oidc.length) grant.addOIDCScope(oidc.join(' '));
  if (oidc.includes('fhirUser')) grant.addOIDCClaims(['fhirUser']);
  if (oidc.includes('profile')) grant.addOIDCClaims(['name', 'profile']);
  const resource = requested.filter((s) => !isOidcScope(s));
  if (resource.length) grant.addResourceScope(urls.iss, resource.join(' '));
  const grantId = await grant.save();
  const lifetime = Math.max(f.client.refreshTokenTtl ?? 0, LIFETIMES.offlineRefreshToken) * 1000;
  await f.deps.contexts.set(
    sandbox.key,
    grantId,
    buildContext({
      launch: f.launch,
      patient: chosen.patient,
      encounter: chosen.encounter,
      fhirUser: `${urls.iss}/${persona.resource}`,
      defaultStyleUrl: urls.smartStyle,
    }),
    Date.now() + lifetime,
  );
  if (f.launch) f.deps.lifecycle.recordAuthorized(f.launch, f.client.clientId, persona.username, chosen.patient ?? (f.launch.parameters.patient as string | undefined), passwordless);
  const result: InteractionResults = passwordless
    ? { login: { accountId: persona.username, amr: [SSO_AMR], remember: false }, consent: { grantId } }
    : { consent: { grantId } };
  return finish(f, result);
}

/**
 * Patient → encounter → consent, each step shown only when needed. `preApproved`: the launch names
 * this persona, so its registrant chose the context (no pickers, no consent); `passwordless`: this
 * request is the launch's password-less sign-in.
 */
async function consentFlow(f: Flow, persona: Persona, preApproved: boolean, passwordless = false): Promise<FastifyReply> {
  const { sandbox } = f.sp;
  const fhir = f.deps.fhir;
  const isPost = f.request.method === 'POST';
  const step = first(f.form.step);
  const requested = allowedScopes(f.params.scope as string | undefined, f.client.scope);
  const launchParams = f.launch?.parameters ?? {};
  const personaType = persona.resource.split('/')[0];
  const base = {
    sandboxName: sandbox.name,
    clientName: f.client.name,
    action: `${f.sp.mountPath}/interaction/${f.uid}`,
    csrf: csrfToken(f.sp, f.uid),
  };

  // SMART 2.2 §"launch/patient" and §"patient/ scopes": a single-patient grant needs a patient.
  const wantsPatient =
    requested.includes('launch/patient') ||
    requested.some((s) => {
      const p = parseScope(s);
      return p?.kind === 'resource' && p.context === 'patient';
    });
  const wantsEncounter = requested.includes('launch/encounter');

  // Architecture §5: a persona that is not a Practitioner only ever gets a patient its resource gives
  // it, whoever registered the launch — also in the standalone picker.
  const visible = await f.deps.lifecycle.visiblePatients(sandbox.key, persona);
  const mayHave = (id: string) => visible === 'any' || visible.includes(id);
  let patient = typeof launchParams.patient === 'string' ? launchParams.patient : undefined;
  if (patient && !mayHave(patient)) {
    const why = `persona ${persona.username} (${persona.resource}) may not open patient ${patient}`;
    if (f.launch) f.deps.lifecycle.recordRefusal(f.launch, f.client.clientId, persona.username, why);
    return deny(f, why);
  }
  if (!patient && wantsPatient && visible !== 'any') {
    if (visible.length === 0) return deny(f, `persona ${persona.username} (${persona.resource}) has no patient to open`);
    if (visible.length === 1 || personaType === 'Patient') patient = visible[0];
  }
  if (!patient && wantsPatient) {
    if (preApproved) return deny(f, 'the launch names no patient and the app needs one');
    const picked = first(f.form.patient);
    if (picked && ID.test(picked) && mayHave(picked) && (await fhir.read(sandbox.key, 'Patient', picked))) patient = picked;
    else {
      const q = String((f.request.query as Record<string, unknown>)?.q ?? '').slice(0, 100);
      const search = new URLSearchParams({ _count: '50' });
      if (q) search.set('name', q);
      if (visible !== 'any') search.set('_id', visible.join(','));
      const patients: Choice[] = (await fhir.search(sandbox.key, 'Patient', search)).map((p) => ({
        id: String(p.id),
        label: humanName(p) ?? String(p.id),
        detail: [
          (p as { gender?: string }).gender,
          (p as { birthDate?: string }).birthDate && `born ${(p as { birthDate?: string }).birthDate}`,
          `id ${p.id}`,
        ]
          .filter(Boolean)
          .join(' · '),
      }));
      const error = isPost && step === 'patient' ? 'Choose a patient from the list.' : undefined;
      return send(f.reply, 200, patientPickerPage({ ...base, q, patients, error }));
    }
  }

  let encounter = typeof launchParams.encounter === 'string' ? launchParams.encounter : undefined;
  if (!encounter && wantsEncounter && patient && !preApproved) {
    const answered = isPost && (step === 'encounter' || step === 'consent') && f.form.encounter !== undefined;
    const picked = first(f.form.encounter) ?? '';
    const belongs = async (id: string) => {
      const e = ID.test(id) ? await fhir.read(sandbox.key, 'Encounter', id) : undefined;
      return (e as { subject?: { reference?: string } } | undefined)?.subject?.reference === `Patient/${patient}`;
    };
    if (answered && (picked === '' || (await belongs(picked)))) encounter = picked || undefined;
    else {
      const encounters: Choice[] = (await fhir.search(sandbox.key, 'Encounter', new URLSearchParams({ patient, _count: '50' }))).map((e) => {
        const enc = e as { id?: string; type?: { text?: string }[]; class?: { display?: string; code?: string }; period?: { start?: string }; status?: string };
        return {
          id: String(enc.id),
          label: enc.type?.[0]?.text ?? enc.class?.display ?? enc.class?.code ?? `Encounter ${enc.id}`,
          detail: [enc.period?.start, enc.status].filter(Boolean).join(' · '),
        };
      });
      const patientLabel = humanName(await fhir.read(sandbox.key, 'Patient', patient)) ?? patient;
      const error = answered ? 'That encounter does not belong to this patient.' : undefined;
      return send(f.reply, 200, encounterPickerPage({ ...base, patient, patientLabel, encounters, error }));
    }
  }

  if (preApproved || f.client.consent === 'skip') return grantAndFinish(f, persona, requested, { patient, encounter }, passwordless);
  if (isPost && step === 'consent') {
    const decision = first(f.form.decision);
    if (decision === 'approve') return grantAndFinish(f, persona, requested, { patient, encounter }, false);
    if (decision === 'deny') return deny(f, 'the user denied access');
  }
  return send(
    f.reply,
    200,
    consentPage({
      ...base,
      userLabel: `${persona.name} (${persona.username})`,
      scopes: requested.map((s) => ({ scope: s, text: describeScope(s) })),
      patient: typeof launchParams.patient === 'string' || personaType === 'Patient' ? undefined : patient,
      patientLabel: patient ? (humanName(await fhir.read(sandbox.key, 'Patient', patient)) ?? patient) : undefined,
      // "No encounter" is an answer too: the consent form carries it (empty), or the encounter
      // picker would count as unanswered and come back forever.
      encounter: typeof launchParams.encounter === 'string' ? undefined : wantsEncounter && patient ? (encounter ?? '') : encounter,
    }),
  );
}

/** GET and POST `/{sandbox}/auth/interaction/:uid`. */
export async function handleInteraction(sp: SandboxProvider, deps: AuthDeps, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const { sandbox } = sp;
  const uid = (request.params as { uid: string }).uid;
  const expired = () =>
    send(
      reply,
      400,
      renderErrorPage(sandbox.name, 'invalid_request', 'This sign-in page has expired or belongs to another browser window. Go back to the app and start again.'),
    );
  let details: Awaited<ReturnType<typeof sp.provider.interactionDetails>>;
  try {
    details = await sp.provider.interactionDetails(request.raw, reply.raw);
  } catch {
    return expired();
  }
  if (details.uid !== uid) return expired();
  const form = (request.method === 'POST' && request.body && typeof request.body === 'object' ? request.body : {}) as Form;
  if (request.method === 'POST' && !csrfValid(sp, uid, first(form.csrf)))
    return send(reply, 403, renderErrorPage(sandbox.name, 'invalid_request', 'The form was not sent from this page (CSRF check failed). Reload the page and try again.'));

  const params = details.params as Record<string, unknown>;
  const client = await deps.clients.getClient(sandbox.key, String(params.client_id));
  const f: Flow = { sp, deps, request, reply, uid, params, client: client as SandboxClient, form, details };
  if (!client) return deny(f, 'the app is no longer registered');
  if (typeof params.launch === 'string') {
    f.launch = await deps.lifecycle.find(sandbox.key, params.launch);
    if (!f.launch) return deny(f, 'the launch has expired');
  }
  const launchUser = f.launch?.username;

  if (details.prompt.name === 'login') return signIn(f, launchUser);

  if (details.prompt.name === 'consent') {
    const accountId = details.session?.accountId;
    const persona = accountId ? await deps.personas.getPersona(sandbox.key, accountId) : undefined;
    if (!persona) return deny(f, 'the signed-in persona no longer exists');
    return consentFlow(f, persona, launchUser !== undefined && launchUser === accountId);
  }
  return deny(f, `unsupported interaction ${details.prompt.name}`);
}


/**
 * The login step. A launch naming a persona either signs it in without a password (the lifecycle
 * allows that once, for orchestrators' launches, shortly after registration; replacing another
 * persona's session is asked first) or shows the login page with its username read-only: signing
 * in as anyone else is access_denied.
 */
async function signIn(f: Flow, launchUser: string | undefined): Promise<FastifyReply> {
  const { sp, deps, request, reply, form, uid, client } = f;
  const { sandbox } = sp;
  const launch = f.launch;
  const base = { sandboxName: sandbox.name, clientName: client.name, action: `${sp.mountPath}/interaction/${uid}`, csrf: csrfToken(sp, uid) };
  const step = request.method === 'POST' ? first(form.step) : undefined;
  if (launch && launchUser) {
    const persona = await deps.personas.getPersona(sandbox.key, launchUser);
    if (!persona) return deny(f, `the launch persona ${launchUser} no longer exists`);
    if (step !== 'login' && deps.lifecycle.signInMode(launch) === 'sso') {
      const current = f.details.session?.accountId;
      if (current && current !== launchUser) {
        if (step !== 'switch') return send(reply, 200, switchPersonaPage({ ...base, current, next: launchUser }));
        if (first(form.decision) !== 'switch') return deny(f, `the user kept the session of ${current}`);
      }
      if (await deps.lifecycle.spendSingleSignOn(launch)) return consentFlow(f, persona, true, true);
    }
    if (step === 'login') {
      const username = first(form.username) ?? '';
      if (username !== launchUser) {
        const why = `this launch is for ${launchUser}; signing in as ${username || 'someone else'} is refused`;
        deps.lifecycle.recordRefusal(launch, client.clientId, username || undefined, why);
        return deny(f, why);
      }
      const ok = await deps.personas.checkPassword(sandbox.key, username, first(form.password) ?? '');
      if (!ok) return send(reply, 401, loginPage({ ...base, username: launchUser, fixed: true, error: 'Wrong password.' }));
      return finish(f, { login: { accountId: ok.username } });
    }
    return send(reply, 200, loginPage({ ...base, username: launchUser, fixed: true }));
  }
  if (step === 'login') {
    const username = first(form.username) ?? '';
    const persona = await deps.personas.checkPassword(sandbox.key, username, first(form.password) ?? '');
    if (!persona) return send(reply, 401, loginPage({ ...base, username, error: 'Unknown username or wrong password.' }));
    return finish(f, { login: { accountId: persona.username } });
  }
  return send(reply, 200, loginPage(base));
}
