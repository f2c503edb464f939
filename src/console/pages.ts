/**
 * Server-rendered pages of the console (issue 6): sandboxes, patients, apps, personas, launch (new
 * tab or simulated EHR frame), scenarios and the launch inspector. Plain HTML forms: keyboard-usable,
 * labelled, no script. Writes are POST forms carrying the CSRF field; a refused form re-renders its
 * page with the reason in words. Patient narratives (`text.div`) are never rendered as HTML: the
 * summary shows structured fields, the raw JSON is escaped text.
 */
import type { Resource } from '@medplum/fhirtypes';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SandboxClient } from '../auth/types.js';
import type { Config } from '../config/config.js';
import { parseJsonWithinLimits } from '../config/limits.js';
import { badRequest, FhirError } from '../errors/errors.js';
import type { LaunchResponse } from '../launch/service.js';
import { SIMULATED_ERRORS } from '../launch/model.js';
import type { Services } from '../services.js';
import { type Html, html } from './html.js';
import { confirmForm, csrfField, jsonBlock, layout, type PageOptions, sandboxPath, sendPage, when } from './layout.js';
import { fetchManifest } from './manifest.js';
import { type ConsoleOps, humanName, type SandboxView } from './ops.js';
import { CONSOLE_CSP, securityHeaders } from './headers.js';

type Form = Record<string, string | string[] | undefined>;
type Ctx = { request: FastifyRequest; reply: FastifyReply; sandbox?: SandboxView };
type Outcome = { notice?: Html | string; error?: string; status?: number; form?: Form };

export function errorPage(reply: FastifyReply, status: number, title: string, message: string): FastifyReply {
  securityHeaders(reply);
  const page = html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · smart-sandbox</title><link rel="stylesheet" href="/console/assets/console.css"></head>
<body><header class="top"><a class="brand" href="/">smart-sandbox</a></header>
<main id="main"><h1>${title}</h1><p class="error" role="alert">${message}</p><p><a href="/">Back to the console</a></p></main></body></html>`;
  return reply.code(status).type('text/html; charset=utf-8').send(page.text);
}

function field(f: Form | undefined, name: string): string | undefined {
  const v = f?.[name];
  const s = Array.isArray(v) ? v[0] : v;
  const t = s?.trim();
  return t ? t : undefined;
}
const lines = (f: Form | undefined, name: string) =>
  (field(f, name) ?? '')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
const checked = (f: Form | undefined, name: string) => field(f, name) !== undefined;
/** The value a text input shows after a refused submit (so nothing typed is lost). */
const val = (f: Form | undefined, name: string, dflt = '') => field(f, name) ?? dflt;

function parseJsonField(f: Form, name: string, what: string): unknown {
  const text = field(f, name);
  if (text === undefined) return undefined;
  try {
    return parseJsonWithinLimits(text);
  } catch (e) {
    if (e instanceof FhirError) throw e;
    throw badRequest(`${what} is not valid JSON: ${(e as Error).message}`, [name]);
  }
}

const errorText = (e: FhirError) => e.issues.map((i) => i.diagnostics ?? i.code).join('; ');

/** Turns the launch form into a launch registration body (docs/architecture.md §5). */
export function launchBodyFromForm(f: Form): { client_id: string; username?: string; simulate_error?: string; parameters: Record<string, unknown> } {
  const client = field(f, 'client_id');
  if (!client) throw badRequest('choose an app to launch', ['client_id']);
  const p: Record<string, unknown> = {};
  for (const k of ['patient', 'encounter', 'intent', 'smart_style_url'] as const) {
    const v = field(f, k);
    if (v !== undefined) p[k] = v;
  }
  p.need_patient_banner = checked(f, 'need_patient_banner');
  const fhirContext = parseJsonField(f, 'fhirContext', 'fhirContext');
  if (fhirContext !== undefined) p.fhirContext = fhirContext;
  for (const line of lines(f, 'custom')) {
    const i = line.indexOf('=');
    if (i <= 0) throw badRequest(`custom parameter "${line}" must look like name=value`, ['custom']);
    const key = line.slice(0, i).trim();
    const raw = line.slice(i + 1).trim();
    let value: unknown = raw;
    try {
      value = parseJsonWithinLimits(raw);
    } catch (e) {
      if (e instanceof FhirError) throw e;
      // not JSON: keep the text
    }
    if (Object.hasOwn(p, key)) throw badRequest(`custom parameter ${key} repeats a field of the form`, ['custom']);
    // Defined, not assigned: a parameter named __proto__ is data (as in the launch API).
    Object.defineProperty(p, key, { value, enumerable: true, writable: true, configurable: true });
  }
  const username = field(f, 'username');
  const simulate = field(f, 'simulate_error');
  return { client_id: client, ...(username ? { username } : {}), ...(simulate ? { simulate_error: simulate } : {}), parameters: p };
}

/** Client form fields → `client add` options (JSON shape of ConsoleOps.addClient). */
function clientBodyFromForm(f: Form, clientId?: string): Record<string, unknown> {
  const kind = field(f, 'kind') ?? 'public';
  const b: Record<string, unknown> = {
    clientId: clientId ?? field(f, 'clientId') ?? '',
    name: field(f, 'name'),
    redirectUris: lines(f, 'redirectUris'),
    launchUri: field(f, 'launchUri'),
    scope: field(f, 'scope'),
    pkce: field(f, 'pkce'),
    consent: field(f, 'consent'),
    mayRegisterLaunches: checked(f, 'mayRegisterLaunches'),
  };
  const grants = lines(f, 'grantTypes').flatMap((l) => l.split(/[\s,]+/)).filter(Boolean);
  if (grants.length) b.grantTypes = grants;
  if (kind === 'public') b.public = true;
  else if (kind === 'symmetric') {
    b.secret = field(f, 'secret');
  } else if (kind === 'asymmetric') {
    b.jwksUrl = field(f, 'jwksUrl');
    b.jwks = parseJsonField(f, 'jwks', 'the inline JWKS');
    if (b.jwksUrl === undefined && b.jwks === undefined) throw badRequest('an asymmetric client needs a JWKS URL or an inline JWKS', ['jwksUrl']);
  } else throw badRequest('client type must be public, symmetric or asymmetric', ['kind']);
  return b;
}

const clientKind = (c: SandboxClient) => (c.authMethod === 'none' ? 'public' : c.authMethod === 'private_key_jwt' ? 'asymmetric' : 'symmetric');
const KIND_LABEL: Record<string, string> = { public: 'public', symmetric: 'confidential (secret)', asymmetric: 'confidential (JWKS)' };

function coding(cc: unknown): string {
  const c = cc as { text?: string; coding?: { display?: string; code?: string }[] } | undefined;
  return c?.text ?? c?.coding?.find((x) => x.display)?.display ?? c?.coding?.[0]?.code ?? '';
}

function obsValue(o: Record<string, any>): string {
  const q = o.valueQuantity;
  if (q) return `${q.value ?? ''} ${q.unit ?? q.code ?? ''}`.trim();
  if (o.valueCodeableConcept) return coding(o.valueCodeableConcept);
  for (const k of ['valueString', 'valueBoolean', 'valueInteger', 'valueDateTime']) if (o[k] !== undefined) return String(o[k]);
  if (Array.isArray(o.component)) return o.component.map((c: Record<string, any>) => `${coding(c.code)}: ${obsValue(c)}`).join('; ');
  return '';
}

export async function registerPages(app: FastifyInstance, deps: { ops: ConsoleOps; config: Config; services: Services }): Promise<void> {
  const { ops } = deps;
  const csrf = (ctx: Ctx) => ctx.request.consoleCsrf;
  const page = async (ctx: Ctx, o: Omit<PageOptions, 'sandboxes'>, status = 200) =>
    sendPage(ctx.reply, layout({ ...o, sandbox: o.sandbox ?? ctx.sandbox, sandboxes: (await ops.listSandboxes()) }), status);
  const ctxOf = async (request: FastifyRequest, reply: FastifyReply): Promise<Ctx> => {
    const id = (request.params as { id?: string }).id;
    return { request, reply, sandbox: id === undefined ? undefined : ops.view((await ops.sandbox(id))) };
  };
  const body = (request: FastifyRequest): Form => {
    const b = request.body;
    return b && typeof b === 'object' && !Array.isArray(b) ? (b as Form) : {};
  };
  /** Runs a form action; a refusal (4xx) re-renders the page with the reason and the typed values. */
  const action = async (ctx: Ctx, run: () => Promise<Outcome | FastifyReply> | Outcome | FastifyReply, render: (ctx: Ctx, o: Outcome) => Promise<FastifyReply> | FastifyReply) => {
    try {
      const out = await run();
      if ('send' in out) return out;
      return render(ctx, out);
    } catch (e) {
      if (e instanceof FhirError && e.status < 500) return render(ctx, { error: errorText(e), status: e.status, form: body(ctx.request) });
      throw e;
    }
  };
  const see = (reply: FastifyReply, to: string) => reply.redirect(to, 303);

  // ---------------------------------------------------------------- sandboxes
  const home = async (ctx: Ctx, o: Outcome = {}) => {
    const list = (await ops.listSandboxes());
    const f = o.form;
    return page(
      ctx,
      {
        title: 'Sandboxes',
        notice: o.notice,
        error: o.error,
        body: html`
<table>
<caption>Each sandbox is a separate FHIR server with its own authorization server, apps and personas.</caption>
<thead><tr><th scope="col">Sandbox</th><th scope="col">FHIR base (iss)</th><th scope="col">Access</th><th scope="col">Created</th></tr></thead>
<tbody>${
          list.length
            ? list.map(
                (s) => html`<tr><td><a href="${sandboxPath(s.id)}">${s.name}</a> <code>${s.id}</code></td><td><code>${s.iss}</code></td>
<td>${s.open ? (s.openWrite ? 'open read-write + secured' : 'open read-only + secured') : 'secured'}</td><td>${when(s.createdAt)}</td></tr>`,
              )
            : html`<tr><td colspan="4">No sandbox yet: create one below.</td></tr>`
        }</tbody></table>
<h2>Create a sandbox</h2>
<form method="post" action="/console/sandboxes" class="grid">
${csrfField(csrf(ctx))}
<label for="sb-id">Id</label><input id="sb-id" name="id" required pattern="[a-z0-9][a-z0-9\\-]{1,62}" value="${val(f, 'id')}" aria-describedby="sb-id-help">
<small id="sb-id-help">lowercase letters, digits and dashes; it becomes part of every URL</small>
<label for="sb-name">Name</label><input id="sb-name" name="name" value="${val(f, 'name')}">
<label for="sb-data">Data</label>
<select id="sb-data" name="data">
  <option value="demo">sample data (BILIBABY, bilirubin chart app, demo personas)</option>
  <option value="empty"${val(f, 'data') === 'empty' ? html` selected` : ''}>empty</option>
  <option value="synthetic:100"${val(f, 'data') === 'synthetic:100' ? html` selected` : ''}>100 synthetic patients</option>
</select>
<span class="checks"><input type="checkbox" id="sb-open" name="open" value="yes"${checked(f, 'open') ? html` checked` : ''}><label for="sb-open">open access (<code>/{id}/open</code> without a token)</label>
<input type="checkbox" id="sb-open-write" name="openWrite" value="yes"${checked(f, 'openWrite') ? html` checked` : ''}><label for="sb-open-write">open access may write</label></span>
<button type="submit">Create sandbox</button>
</form>`,
      },
      o.status,
    );
  };

  app.get('/', async (request, reply) => home({ request, reply }));
  app.get('/console', async (_request, reply) => see(reply, '/'));
  app.get('/console/', async (_request, reply) => see(reply, '/'));
  app.get('/console/go', async (request, reply) => {
    const id = (request.query as { sandbox?: unknown }).sandbox;
    if (typeof id !== 'string') return see(reply, '/');
    return see(reply, sandboxPath((await ops.sandbox(id)).id));
  });

  app.post('/console/sandboxes', async (request, reply) => {
    const ctx = { request, reply };
    return action(
      ctx,
      async () => {
        const f = body(request);
        const created = (await ops.createSandbox({
          id: field(f, 'id'),
          name: field(f, 'name'),
          data: field(f, 'data') ?? 'empty',
          open: checked(f, 'open'),
          openWrite: checked(f, 'openWrite'),
        }));
        return see(reply, `${sandboxPath(created.sandbox.id)}?created=${created.resources}`);
      },
      home,
    );
  });

  const overview = (ctx: Ctx, o: Outcome = {}) => {
    const s = ctx.sandbox!;
    const created = (ctx.request.query as { created?: string }).created;
    const notice = o.notice ?? (created && /^\d+$/.test(created) ? `Sandbox ready with ${created} resources.` : undefined);
    return page(
      ctx,
      {
        title: 'Overview',
        active: 'overview',
        notice,
        error: o.error,
        body: html`
<h2>Endpoints</h2>
<dl class="urls">
<dt>FHIR base (<code>iss</code>)</dt><dd><code>${s.iss}</code></dd>
<dt>Authorization server (issuer)</dt><dd><code>${s.issuer}</code></dd>
<dt>SMART discovery</dt><dd><a href="${s.smartConfiguration}">${s.smartConfiguration}</a></dd>
<dt>OpenID configuration</dt><dd><a href="${s.openidConfiguration}">${s.openidConfiguration}</a></dd>
<dt>CapabilityStatement</dt><dd><a href="${s.metadata}">${s.metadata}</a></dd>
${s.openBase ? html`<dt>Open FHIR base (no token)</dt><dd><a href="${s.openBase}/metadata">${s.openBase}</a></dd>` : ''}
</dl>
<h2>Settings</h2>
<form method="post" action="${sandboxPath(s.id, '/update')}" class="grid">
${csrfField(csrf(ctx))}
<label for="ov-name">Name</label><input id="ov-name" name="name" value="${s.name}" required>
<span class="checks">
<input type="checkbox" id="ov-open" name="open" value="yes"${s.open ? html` checked` : ''}><label for="ov-open">open access (read without a token)</label>
<input type="checkbox" id="ov-open-write" name="openWrite" value="yes"${s.openWrite ? html` checked` : ''}><label for="ov-open-write">open access may write</label>
<input type="checkbox" id="ov-open-reg" name="openRegistration" value="yes"${s.openRegistration ? html` checked` : ''}><label for="ov-open-reg">legacy tokenless launch registration (HSPC)</label>
</span>
<button type="submit">Save settings</button>
</form>
<h2>Data</h2>
<p><a href="${`/api/sandboxes/${encodeURIComponent(s.id)}/export`}" download>Export all resources</a> as a FHIR transaction Bundle (import it with <code>smart-sandbox import</code>).</p>
${confirmForm(
  sandboxPath(s.id, '/reset'),
  csrf(ctx),
  'Reset sandbox',
  'reset (all data, apps, personas, tokens, launches and scenarios are replaced)',
  html`<label for="reset-data">with</label><select id="reset-data" name="data"><option value="demo"${s.id === 'demo' ? html` selected` : ''}>sample data</option><option value="empty"${s.id === 'demo' ? '' : html` selected`}>no data</option></select>`,
)}
${confirmForm(sandboxPath(s.id, '/delete'), csrf(ctx), 'Delete sandbox', 'deletion (cannot be undone)')}`,
      },
      o.status,
    );
  };

  app.get('/console/s/:id', async (request, reply) => overview((await ctxOf(request, reply))));
  app.post('/console/s/:id/update', async (request, reply) => {
    const ctx = (await ctxOf(request, reply));
    return action(
      ctx,
      async () => {
        const f = body(request);
        ctx.sandbox = (await ops.updateSandbox(ctx.sandbox!.id, { name: field(f, 'name'), open: checked(f, 'open'), openWrite: checked(f, 'openWrite'), openRegistration: checked(f, 'openRegistration') }));
        return { notice: 'Settings saved.' };
      },
      overview,
    );
  });
  app.post('/console/s/:id/reset', async (request, reply) => {
    const ctx = (await ctxOf(request, reply));
    return action(
      ctx,
      async () => {
        const out = (await ops.resetSandbox(ctx.sandbox!.id, { data: field(body(request), 'data') }));
        ctx.sandbox = out.sandbox;
        return { notice: `Sandbox reset: ${out.resources} resources loaded; earlier tokens and launches no longer work.` };
      },
      overview,
    );
  });
  app.post('/console/s/:id/delete', async (request, reply) => {
    const ctx = (await ctxOf(request, reply));
    (await ops.deleteSandbox(ctx.sandbox!.id));
    return home({ request, reply }, { notice: `Sandbox ${ctx.sandbox!.id} deleted.` });
  });

  // ---------------------------------------------------------------- patients
  app.get('/console/s/:id/patients', async (request, reply) => {
    const ctx = (await ctxOf(request, reply));
    const q = request.query as { name?: unknown; page?: unknown };
    const name = typeof q.name === 'string' ? q.name : '';
    const pageNo = typeof q.page === 'string' && /^\d{1,4}$/.test(q.page) ? Number(q.page) : 1;
    const r = (await ops.searchPatients(ctx.sandbox!.id, { name, page: pageNo, count: 20 }));
    const link = (p: number) => `${sandboxPath(ctx.sandbox!.id, '/patients')}?${new URLSearchParams({ ...(name ? { name } : {}), page: String(p) })}`;
    return page(ctx, {
      title: 'Patients',
      active: 'patients',
      body: html`
<form method="get" action="${sandboxPath(ctx.sandbox!.id, '/patients')}" class="search" role="search">
<label for="pt-name">Name contains</label><input id="pt-name" name="name" value="${name}" type="search">
<button type="submit">Search</button>
</form>
<table>
<thead><tr><th scope="col">Name</th><th scope="col">Sex</th><th scope="col">Birth date</th><th scope="col">Id</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
<tbody>${
        r.patients.length
          ? r.patients.map(
              (p) => html`<tr><td><a href="${sandboxPath(ctx.sandbox!.id, `/patients/${encodeURIComponent(p.id)}`)}">${p.name}</a></td>
<td>${p.gender ?? ''}</td><td>${p.birthDate ?? ''}</td><td><code>${p.id}</code></td>
<td><a href="${`${sandboxPath(ctx.sandbox!.id, '/launch')}?patient=${encodeURIComponent(p.id)}`}">Launch an app…</a></td></tr>`,
            )
          : html`<tr><td colspan="5">No patient${name ? ' matches this name' : ' in this sandbox'}.</td></tr>`
      }</tbody></table>
<nav class="pager" aria-label="Pages">
${r.page > 1 ? html`<a href="${link(r.page - 1)}" rel="prev">Previous page</a>` : ''}
<span>Page ${r.page}</span>
${r.hasNext ? html`<a href="${link(r.page + 1)}" rel="next">Next page</a>` : ''}
</nav>`,
    });
  });

  app.get('/console/s/:id/patients/:patient', async (request, reply) => {
    const ctx = (await ctxOf(request, reply));
    const { patient } = request.params as { patient: string };
    const s = (await ops.patientSummary(ctx.sandbox!.id, patient));
    const p = s.patient as Resource & Record<string, any>;
    const list = (items: Resource[], empty: string, row: (r: Record<string, any>) => Html) =>
      items.length ? html`<ul>${items.map((i) => html`<li>${row(i as Record<string, any>)}</li>`)}</ul>` : html`<p>${empty}</p>`;
    return page(ctx, {
      title: humanName(p) || `Patient ${patient}`,
      active: 'patients',
      body: html`
<dl class="facts">
<dt>Id</dt><dd><code>${p.id}</code></dd>
<dt>Sex</dt><dd>${p.gender ?? 'unknown'}</dd>
<dt>Birth date</dt><dd>${p.birthDate ?? 'unknown'}</dd>
</dl>
<p><a class="button" href="${`${sandboxPath(ctx.sandbox!.id, '/launch')}?patient=${encodeURIComponent(patient)}`}">Launch an app for this patient…</a></p>
<h2>Conditions</h2>
${list(s.conditions, 'No conditions.', (c) => html`${coding(c.code)} ${c.clinicalStatus ? html`<small>(${coding(c.clinicalStatus)})</small>` : ''} ${c.onsetDateTime ? html`<small>since ${c.onsetDateTime}</small>` : ''}`)}
<h2>Observations</h2>
${
  s.observations.length
    ? html`<table><thead><tr><th scope="col">When</th><th scope="col">What</th><th scope="col">Value</th></tr></thead><tbody>${s.observations.map((o) => {
        const r = o as Record<string, any>;
        return html`<tr><td>${r.effectiveDateTime ?? r.issued ?? ''}</td><td>${coding(r.code)}</td><td>${obsValue(r)}</td></tr>`;
      })}</tbody></table>`
    : html`<p>No observations.</p>`
}
<h2>Medications</h2>
${list(s.medications, 'No medication requests.', (m) => html`${coding(m.medicationCodeableConcept) || m.medicationReference?.display || m.medicationReference?.reference || ''} <small>${m.status ?? ''} ${m.authoredOn ?? ''}</small>`)}
<h2>Encounters</h2>
${list(s.encounters, 'No encounters.', (e) => html`${e.period?.start ?? ''} ${e.class?.display ?? e.class?.code ?? ''} ${coding(e.type?.[0])} <small>${e.status ?? ''}</small> <code>${e.id}</code>`)}
<h2>Raw JSON</h2>
<details><summary>Patient resource</summary>${jsonBlock(p)}</details>`,
    });
  });

  // ---------------------------------------------------------------- apps
  const clientFields = (f: Form | undefined, c?: SandboxClient) => {
    const kind = val(f, 'kind', c ? clientKind(c) : 'public');
    const opt = (v: string, label: string, cur: string) => html`<option value="${v}"${v === cur ? html` selected` : ''}>${label}</option>`;
    return html`
<label for="app-name">Name</label><input id="app-name" name="name" value="${val(f, 'name', c?.name ?? '')}">
<label for="app-kind">Client type</label><select id="app-kind" name="kind">${opt('public', 'public (PKCE, no secret)', kind)}${opt('symmetric', 'confidential with a client secret', kind)}${opt('asymmetric', 'confidential with a JWKS (private_key_jwt)', kind)}</select>
<label for="app-secret">Client secret</label><input id="app-secret" name="secret" type="password" autocomplete="new-password" aria-describedby="app-secret-help">
<small id="app-secret-help">confidential (secret) only; leave empty to have one generated and shown once</small>
<label for="app-jwks-url">JWKS URL</label><input id="app-jwks-url" name="jwksUrl" type="url" value="${val(f, 'jwksUrl', c?.jwksUri ?? '')}">
<label for="app-jwks">Inline JWKS (JSON)</label><textarea id="app-jwks" name="jwks" rows="3">${val(f, 'jwks', c?.jwks ? JSON.stringify(c.jwks) : '')}</textarea>
<label for="app-redirects">Redirect URIs (one per line)</label><textarea id="app-redirects" name="redirectUris" rows="2">${val(f, 'redirectUris', c?.redirectUris.join('\n') ?? '')}</textarea>
<label for="app-launch">Launch URI</label><input id="app-launch" name="launchUri" type="url" value="${val(f, 'launchUri', c?.launchUri ?? '')}">
<label for="app-scope">Scopes</label><input id="app-scope" name="scope" value="${val(f, 'scope', c?.scope ?? '')}" aria-describedby="app-scope-help">
<small id="app-scope-help">space-separated; empty means every patient/ and user/ scope plus launch, openid, fhirUser, offline_access</small>
<label for="app-grants">Grant types</label><input id="app-grants" name="grantTypes" value="${val(f, 'grantTypes', c?.grantTypes.join(' ') ?? '')}" aria-describedby="app-grants-help">
<small id="app-grants-help">authorization_code, refresh_token, client_credentials; empty picks the usual ones</small>
<label for="app-pkce">PKCE</label><select id="app-pkce" name="pkce" aria-describedby="app-pkce-help">${opt('required', 'required (SMART 2.2)', val(f, 'pkce', c?.pkce ?? 'required'))}${opt('if-sent', 'checked if sent (legacy apps)', val(f, 'pkce', c?.pkce ?? 'required'))}</select>
<small id="app-pkce-help">apps built on older SMART clients (HSPC-era, the CDS Hooks sandbox) send no PKCE code_challenge and are refused with "required"; choose "checked if sent" for them</small>
<label for="app-consent">Consent</label><select id="app-consent" name="consent">${opt('prompt', 'ask the user', val(f, 'consent', c?.consent ?? 'prompt'))}${opt('skip', 'skip (pre-approved)', val(f, 'consent', c?.consent ?? 'prompt'))}</select>
<span class="checks"><input type="checkbox" id="app-mrl" name="mayRegisterLaunches" value="yes"${(f ? checked(f, 'mayRegisterLaunches') : c?.mayRegisterLaunches) ? html` checked` : ''}><label for="app-mrl">its user tokens may register launches (HSPC-era clients such as the CDS Hooks sandbox)</label></span>`;
  };

  const secretNotice = (clientId: string, secret?: string) =>
    secret
      ? html`App <code>${clientId}</code> saved. Its client secret, shown only this once: <code class="secret">${secret}</code>`
      : html`App <code>${clientId}</code> saved.`;

  const appsPage = async (ctx: Ctx, o: Outcome = {}) => {
    const s = ctx.sandbox!;
    const apps = (await ops.listClients(s.id));
    const f = o.form;
    return page(
      ctx,
      {
        title: 'Apps',
        active: 'apps',
        notice: o.notice,
        error: o.error,
        body: html`
<table>
<thead><tr><th scope="col">App</th><th scope="col">Type</th><th scope="col">Launch URI</th><th scope="col">Scopes</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
<tbody>${
          apps.length
            ? apps.map(
                (c) => html`<tr><td>${c.name} <code>${c.clientId}</code></td><td>${KIND_LABEL[clientKind(c)]}</td>
<td>${c.launchUri ? html`<code>${c.launchUri}</code>` : html`<em>none (cannot be EHR-launched)</em>`}</td><td><small>${c.scope}</small></td>
<td class="actions"><a href="${`${sandboxPath(s.id, '/launch')}?client=${encodeURIComponent(c.clientId)}`}">Launch…</a>
<a href="${sandboxPath(s.id, `/apps/${encodeURIComponent(c.clientId)}`)}">Edit</a>
${confirmForm(sandboxPath(s.id, `/apps/${encodeURIComponent(c.clientId)}/delete`), csrf(ctx), 'Delete', `deleting ${c.clientId}`)}</td></tr>`,
              )
            : html`<tr><td colspan="5">No apps registered.</td></tr>`
        }</tbody></table>
<h2>Register from a SMART app manifest</h2>
<form method="post" action="${sandboxPath(s.id, '/apps/manifest')}" class="grid">
${csrfField(csrf(ctx))}
<label for="mf-url">Manifest URL</label><input id="mf-url" name="manifest_url" type="url" value="${val(f, 'manifest_url')}" aria-describedby="mf-help">
<label for="mf-json">or the manifest JSON</label><textarea id="mf-json" name="manifest" rows="6" aria-describedby="mf-help">${val(f, 'manifest')}</textarea>
<small id="mf-help">RFC 7591 client metadata plus SMART's launch_url: client_name, redirect_uris, launch_url or initiate_login_uri, scope, token_endpoint_auth_method, grant_types, jwks_uri or jwks</small>
<label for="mf-id">Client id (optional)</label><input id="mf-id" name="clientId" value="${val(f, 'clientId')}">
<label for="mf-consent">Consent</label><select id="mf-consent" name="consent"><option value="prompt">ask the user</option><option value="skip">skip (pre-approved)</option></select>
<button type="submit">Register from manifest</button>
</form>
<h2>Register manually</h2>
<form method="post" action="${sandboxPath(s.id, '/apps')}" class="grid">
${csrfField(csrf(ctx))}
<label for="app-id">Client id</label><input id="app-id" name="clientId" required value="${val(f, 'clientId')}">
${clientFields(f)}
<button type="submit">Register app</button>
</form>`,
      },
      o.status,
    );
  };

  app.get('/console/s/:id/apps', async (request, reply) => appsPage((await ctxOf(request, reply))));
  app.post('/console/s/:id/apps', async (request, reply) => {
    const ctx = (await ctxOf(request, reply));
    return action(
      ctx,
      async () => {
        const out = (await ops.addClient(ctx.sandbox!.id, clientBodyFromForm(body(request))));
        return { notice: secretNotice(out.client.clientId, out.generatedSecret) };
      },
      appsPage,
    );
  });
  app.post('/console/s/:id/apps/manifest', async (request, reply) => {
    const ctx = (await ctxOf(request, reply));
    return action(
      ctx,
      async () => {
        const f = body(request);
        const url = field(f, 'manifest_url');
        const manifest = parseJsonField(f, 'manifest', 'the manifest') ?? (url ? await fetchManifest(url) : undefined);
        if (manifest === undefined) throw badRequest('give a manifest URL or paste the manifest JSON', ['manifest']);
        const out = (await ops.addClientFromManifest(ctx.sandbox!.id, manifest, { clientId: field(f, 'clientId'), consent: field(f, 'consent') }));
        return { notice: secretNotice(out.client.clientId, out.generatedSecret) };
      },
      appsPage,
    );
  });

  const editApp = async (ctx: Ctx, o: Outcome = {}) => {
    const s = ctx.sandbox!;
    const { client } = ctx.request.params as { client: string };
    const c = (await ops.listClients(s.id)).find((x) => x.clientId === client);
    if (!c) throw new FhirError(404, [{ severity: 'error', code: 'not-found', diagnostics: `app ${client} does not exist in sandbox ${s.id}` }]);
    return page(
      ctx,
      {
        title: `Edit app ${c.clientId}`,
        active: 'apps',
        notice: o.notice,
        error: o.error,
        body: html`
<p>Saving re-registers the app: every token issued to it is revoked, and a confidential app gets the secret you type or a new generated one.</p>
<form method="post" action="${sandboxPath(s.id, `/apps/${encodeURIComponent(c.clientId)}`)}" class="grid">
${csrfField(csrf(ctx))}
${clientFields(o.form, c)}
<button type="submit">Save app</button>
</form>
<p><a href="${sandboxPath(s.id, '/apps')}">Back to apps</a></p>`,
      },
      o.status,
    );
  };
  app.get('/console/s/:id/apps/:client', async (request, reply) => editApp((await ctxOf(request, reply))));
  app.post('/console/s/:id/apps/:client', async (request, reply) => {
    const ctx = (await ctxOf(request, reply));
    const { client } = request.params as { client: string };
    return action(
      ctx,
      async () => {
        const out = (await ops.updateClient(ctx.sandbox!.id, client, clientBodyFromForm(body(request), client)));
        return { notice: secretNotice(out.client.clientId, out.generatedSecret) };
      },
      editApp,
    );
  });
  app.post('/console/s/:id/apps/:client/delete', async (request, reply) => {
    const ctx = (await ctxOf(request, reply));
    const { client } = request.params as { client: string };
    return action(
      ctx,
      async () => {
        (await ops.removeClient(ctx.sandbox!.id, client));
        return { notice: html`App <code>${client}</code> deleted; its tokens are revoked.` };
      },
      appsPage,
    );
  });

  // ---------------------------------------------------------------- personas
  const personasPage = async (ctx: Ctx, o: Outcome = {}) => {
    const s = ctx.sandbox!;
    const list = (await ops.listPersonas(s.id));
    const f = o.form;
    return page(
      ctx,
      {
        title: 'Personas',
        active: 'personas',
        notice: o.notice,
        error: o.error,
        body: html`
<p>A persona is a user of this sandbox linked to a Practitioner or Patient resource. Launches that name a persona need no login.</p>
<table>
<thead><tr><th scope="col">Username</th><th scope="col">Name</th><th scope="col">Resource</th><th scope="col">Demo password</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
<tbody>${
          list.length
            ? list.map((p) => {
                const pt = /^Patient\/(.+)$/.exec(p.resource);
                return html`<tr><td><code>${p.username}</code></td><td>${p.name}</td>
<td>${pt ? html`<a href="${sandboxPath(s.id, `/patients/${encodeURIComponent(pt[1])}`)}">${p.resource}</a>` : html`<code>${p.resource}</code>`}</td>
<td>${p.demoPassword ? html`<code>${p.demoPassword}</code>` : ''}</td>
<td>${confirmForm(sandboxPath(s.id, `/personas/${encodeURIComponent(p.username)}/delete`), csrf(ctx), 'Delete', `deleting ${p.username}`)}</td></tr>`;
              })
            : html`<tr><td colspan="5">No personas.</td></tr>`
        }</tbody></table>
<h2>Add a persona</h2>
<form method="post" action="${sandboxPath(s.id, '/personas')}" class="grid">
${csrfField(csrf(ctx))}
<label for="ps-user">Username</label><input id="ps-user" name="username" required value="${val(f, 'username')}">
<label for="ps-res">Resource</label><input id="ps-res" name="resource" required placeholder="Practitioner/123 or Patient/BILIBABY" value="${val(f, 'resource')}">
<label for="ps-name">Display name (optional)</label><input id="ps-name" name="name" value="${val(f, 'name')}">
<label for="ps-pw">Password (optional)</label><input id="ps-pw" name="password" type="password" autocomplete="new-password" aria-describedby="ps-pw-help">
<small id="ps-pw-help">used for standalone login; leave empty to have one generated and shown once</small>
<button type="submit">Add persona</button>
</form>`,
      },
      o.status,
    );
  };
  app.get('/console/s/:id/personas', async (request, reply) => personasPage((await ctxOf(request, reply))));
  app.post('/console/s/:id/personas', async (request, reply) => {
    const ctx = (await ctxOf(request, reply));
    return action(
      ctx,
      async () => {
        const f = body(request);
        const out = (await ops.addPersona(ctx.sandbox!.id, { username: field(f, 'username'), resource: field(f, 'resource'), name: field(f, 'name'), password: field(f, 'password') }));
        return {
          notice: out.generatedPassword
            ? html`Persona <code>${out.persona.username}</code> added. Its password, shown only this once: <code class="secret">${out.generatedPassword}</code>`
            : html`Persona <code>${out.persona.username}</code> added.`,
        };
      },
      personasPage,
    );
  });
  app.post('/console/s/:id/personas/:username/delete', async (request, reply) => {
    const ctx = (await ctxOf(request, reply));
    const { username } = request.params as { username: string };
    return action(
      ctx,
      async () => {
        (await ops.removePersona(ctx.sandbox!.id, username));
        return { notice: html`Persona <code>${username}</code> deleted; its sessions and tokens are revoked.` };
      },
      personasPage,
    );
  });

  // ---------------------------------------------------------------- launch + scenarios
  const launchPage = async (ctx: Ctx, o: Outcome = {}) => {
    const s = ctx.sandbox!;
    const q = ctx.request.query as { patient?: unknown; client?: unknown; persona?: unknown };
    const f: Form = o.form ?? {
      patient: typeof q.patient === 'string' ? q.patient : undefined,
      client_id: typeof q.client === 'string' ? q.client : undefined,
      username: typeof q.persona === 'string' ? q.persona : undefined,
      need_patient_banner: 'yes',
    };
    const apps = (await ops.listClients(s.id)).filter((c) => c.launchUri);
    const personas = (await ops.listPersonas(s.id));
    const scenarios = (await ops.listScenarios(s.id));
    const patients = (await ops.searchPatients(s.id, { count: 50 })).patients;
    const chosenApp = val(f, 'client_id', apps[0]?.clientId ?? '');
    const chosenPersona = val(f, 'username');
    return page(
      ctx,
      {
        title: 'Launch an app',
        active: 'launch',
        notice: o.notice,
        error: o.error,
        body: html`
${
  apps.length === 0
    ? html`<p class="error" role="alert">No app of this sandbox has a launch URI. <a href="${sandboxPath(s.id, '/apps')}">Register one</a> first.</p>`
    : html`
<form method="post" action="${sandboxPath(s.id, '/launch')}" class="grid">
${csrfField(csrf(ctx))}
<label for="ln-app">App</label>
<select id="ln-app" name="client_id" required>${apps.map((c) => html`<option value="${c.clientId}"${c.clientId === chosenApp ? html` selected` : ''}>${c.name} (${c.clientId})</option>`)}</select>
<label for="ln-persona">Persona</label>
<select id="ln-persona" name="username" aria-describedby="ln-persona-help">
<option value="">none: the app shows the login page</option>
${personas.map((p) => html`<option value="${p.username}"${p.username === chosenPersona ? html` selected` : ''}>${p.name} (${p.username}, ${p.resource})</option>`)}
</select>
<small id="ln-persona-help">with a persona the launch signs in as that user (single sign-on, valid 2 minutes, usable once)</small>
<label for="ln-patient">Patient id</label><input id="ln-patient" name="patient" list="ln-patients" value="${val(f, 'patient')}">
<datalist id="ln-patients">${patients.map((p) => html`<option value="${p.id}">${p.name}</option>`)}</datalist>
<label for="ln-encounter">Encounter id</label><input id="ln-encounter" name="encounter" value="${val(f, 'encounter')}">
<span class="checks"><input type="checkbox" id="ln-banner" name="need_patient_banner" value="yes"${checked(f, 'need_patient_banner') ? html` checked` : ''}>
<label for="ln-banner">the app shows its own patient banner (<code>need_patient_banner</code>; in the EHR frame, unticked means the frame shows it)</label></span>
<label for="ln-intent">Intent</label><input id="ln-intent" name="intent" value="${val(f, 'intent')}">
<label for="ln-style">Style URL</label><input id="ln-style" name="smart_style_url" type="url" value="${val(f, 'smart_style_url')}" aria-describedby="ln-style-help">
<small id="ln-style-help">empty: the server's /smart-style.json</small>
<label for="ln-ctx">fhirContext (JSON array)</label><textarea id="ln-ctx" name="fhirContext" rows="2" placeholder='[{"reference":"Observation/123"}]'>${val(f, 'fhirContext')}</textarea>
<label for="ln-custom">Custom parameters</label><textarea id="ln-custom" name="custom" rows="2" aria-describedby="ln-custom-help">${val(f, 'custom')}</textarea>
<small id="ln-custom-help">one name=value per line; values that parse as JSON keep their type</small>
<label for="ln-sim">Simulate an error</label>
<select id="ln-sim" name="simulate_error" aria-describedby="ln-sim-help">
<option value="">none: the launch works</option>
${SIMULATED_ERRORS.map((e) => html`<option value="${e}"${val(f, 'simulate_error') === e ? html` selected` : ''}>${e}</option>`)}
</select>
<small id="ln-sim-help">make this launch fail for real at /authorize, /token or the FHIR API, to test the app's error handling</small>
<div class="buttons">
<button type="submit" name="mode" value="frame">Launch in the EHR frame</button>
<button type="submit" name="mode" value="tab" formtarget="_blank">Launch in a new tab</button>
</div>
<fieldset><legend>Save as a scenario</legend>
<label for="ln-name">Scenario name</label><input id="ln-name" name="name" value="${val(f, 'name')}">
<label for="ln-desc">Description</label><input id="ln-desc" name="description" value="${val(f, 'description')}">
<button type="submit" name="mode" value="save">Save scenario</button>
</fieldset>
</form>`
}
<h2>Saved scenarios</h2>
${
  scenarios.length
    ? html`<table><thead><tr><th scope="col">Scenario</th><th scope="col">App</th><th scope="col">Persona</th><th scope="col">Context</th><th scope="col">Last launched</th><th scope="col"><span class="sr">Actions</span></th></tr></thead><tbody>${scenarios.map(
        (sc) => html`<tr><td>${sc.name}${sc.description ? html`<br><small>${sc.description}</small>` : ''}</td><td><code>${sc.clientId}</code></td><td>${sc.username ?? 'none'}</td>
<td><small>${Object.entries(sc.parameters)
          .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
          .join(', ')}</small></td><td>${sc.lastLaunchedAt ? when(new Date(sc.lastLaunchedAt).toISOString()) : 'never'}</td>
<td class="actions"><form method="post" action="${sandboxPath(s.id, `/scenarios/${sc.id}/launch`)}" class="inline">${csrfField(csrf(ctx))}
<button type="submit" name="mode" value="frame">Launch in EHR frame</button><button type="submit" name="mode" value="tab" formtarget="_blank">New tab</button></form>
${confirmForm(sandboxPath(s.id, `/scenarios/${sc.id}/delete`), csrf(ctx), 'Delete', `deleting ${sc.name}`)}</td></tr>`,
      )}</tbody></table>`
    : html`<p>No saved scenarios yet.</p>`
}`,
      },
      o.status,
    );
  };

  /** Opens a registered launch: redirect (new tab) or the simulated EHR frame. */
  const open = (ctx: Ctx, launch: LaunchResponse, mode: string | undefined, clientId: string) => {
    if (!launch.launch_url) throw badRequest('the app has no launch URI, so it cannot be launched from the EHR');
    if (mode !== 'frame') return see(ctx.reply, launch.launch_url);
    return ehrFrame(ctx, launch, clientId);
  };

  const ehrFrame = async (ctx: Ctx, launch: LaunchResponse, clientId: string) => {
    const s = ctx.sandbox!;
    const params = launch.parameters;
    const app = (await ops.listClients(s.id)).find((c) => c.clientId === clientId);
    const persona = launch.username !== 'none' ? (await ops.listPersonas(s.id)).find((p) => p.username === launch.username) : undefined;
    const patientId = typeof params.patient === 'string' ? params.patient : undefined;
    const patient = patientId ? ((await deps.services.fhir.read((await ops.sandbox(s.id)).key, 'Patient', patientId)) as (Resource & Record<string, any>) | undefined) : undefined;
    const showBanner = params.need_patient_banner === false;
    const appOrigin = new URL(launch.launch_url!).origin;
    const self = new URL(deps.config.publicUrl).origin;
    securityHeaders(ctx.reply, `${CONSOLE_CSP}; frame-src 'self'${appOrigin === self ? '' : ` ${appOrigin}`}`);
    const doc = html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>EHR · ${app?.name ?? 'app'} · smart-sandbox</title><link rel="stylesheet" href="/console/assets/console.css"></head>
<body class="ehr">
<header class="ehr-bar">
  <a class="brand" href="${sandboxPath(s.id, '/launch')}">‹ Back to the console</a>
  <span>Simulated EHR · ${s.name}</span>
  <span>${persona ? html`Signed in as ${persona.name} <small>(${persona.username})</small>` : 'No persona: the app asks for login'}</span>
</header>
${
  showBanner && patientId
    ? html`<section class="patient-banner" aria-label="Patient banner" data-testid="ehr-patient-banner">
<strong>${patient ? humanName(patient) || patientId : patientId}</strong>
<span>${patient?.gender ?? ''}</span><span>born ${patient?.birthDate ?? 'unknown'}</span><span>id <code>${patientId}</code></span>
${typeof params.encounter === 'string' ? html`<span>encounter <code>${params.encounter}</code></span>` : ''}
</section>`
    : ''
}
<iframe class="ehr-app" title="${app?.name ?? 'SMART app'}" src="${launch.launch_url}"></iframe>
</body></html>`;
    return sendPage(ctx.reply, doc);
  };

  app.get('/console/s/:id/launch', async (request, reply) => launchPage((await ctxOf(request, reply))));
  app.post('/console/s/:id/launch', async (request, reply) => {
    const ctx = (await ctxOf(request, reply));
    return action(
      ctx,
      async () => {
        const f = body(request);
        const reg = launchBodyFromForm(f);
        const mode = field(f, 'mode');
        if (mode === 'save') {
          const sc = (await ops.createScenario(ctx.sandbox!.id, { name: field(f, 'name'), description: field(f, 'description'), ...reg }));
          return { notice: html`Scenario <strong>${sc.name}</strong> saved.`, form: f };
        }
        return open(ctx, (await ops.launch(ctx.sandbox!.id, reg)), mode, reg.client_id);
      },
      launchPage,
    );
  });
  app.post('/console/s/:id/scenarios/:scenario/launch', async (request, reply) => {
    const ctx = (await ctxOf(request, reply));
    const sid = (request.params as { scenario: string }).scenario;
    return action(
      ctx,
      async () => {
        if (!/^\d{1,12}$/.test(sid)) throw badRequest('scenario id must be a number');
        const { scenario, launch } = (await ops.launchScenario(ctx.sandbox!.id, Number(sid)));
        return open(ctx, launch, field(body(request), 'mode'), scenario.clientId);
      },
      launchPage,
    );
  });
  app.post('/console/s/:id/scenarios/:scenario/delete', async (request, reply) => {
    const ctx = (await ctxOf(request, reply));
    const sid = (request.params as { scenario: string }).scenario;
    return action(
      ctx,
      async () => {
        if (!/^\d{1,12}$/.test(sid)) throw badRequest('scenario id must be a number');
        (await ops.deleteScenario(ctx.sandbox!.id, Number(sid)));
        return { notice: 'Scenario deleted.' };
      },
      launchPage,
    );
  });

  // ---------------------------------------------------------------- inspector
  app.get('/console/s/:id/inspector', async (request, reply) => {
    const ctx = (await ctxOf(request, reply));
    const launches = (await ops.inspect(ctx.sandbox!.id, 50));
    const refused = await ops.refusedRegistrations(ctx.sandbox!.id);
    return page(ctx, {
      title: 'Launch inspector',
      active: 'inspector',
      body: html`
<p>The 50 most recent launches of this sandbox that have not expired long ago, with their use as recorded in the audit trail. Launch ids are stored hashed; the first characters of the hash identify a launch.</p>
${
  launches.length
    ? html`<table><thead><tr><th scope="col">Registered</th><th scope="col">By</th><th scope="col">App</th><th scope="col">Persona</th><th scope="col">Context</th><th scope="col">Expires</th><th scope="col">Use</th></tr></thead><tbody>${launches.map(
        (l) => html`<tr><td>${when(l.createdAt)}<br><small><code title="SHA-256 of the launch id">${l.launchHash.slice(0, 10)}</code></small></td><td>${l.createdBy}</td><td><code>${l.clientId ?? 'any'}</code></td><td>${l.username ?? 'none'}</td>
<td><details><summary>${typeof l.parameters.patient === 'string' ? `patient ${l.parameters.patient}` : 'parameters'}</summary>${jsonBlock(l.parameters)}</details></td>
<td>${when(l.expiresAt)}${l.expired ? html` <strong>expired</strong>` : ''}${l.consumedAt ? html`<br><small>password-less sign-in used at ${when(l.consumedAt)}</small>` : ''}</td>
<td>${l.uses.length ? html`<ol class="uses">${l.uses.map((u) => html`<li><span class="${u.outcome === 'success' ? 'ok' : 'fail'}">${u.action} ${u.outcome}</span> ${when(u.at)}${u.clientId ? html` <code>${u.clientId}</code>` : ''}${u.detail ? html` <small>${u.detail}</small>` : ''}</li>`)}</ol>` : 'not used yet'}</td></tr>`,
      )}</tbody></table>`
    : html`<p>No launches yet.</p>`
}
${
  refused.length
    ? html`<h2>Refused registrations</h2><p>Launches that were never created, and why (for example a CDS Hooks card link whose URL matches no app's launch URI).</p>
<table><thead><tr><th scope="col">When</th><th scope="col">By</th><th scope="col">Persona</th><th scope="col">Why</th></tr></thead><tbody>${refused.map(
        (r) => html`<tr><td>${when(r.at)}</td><td>${r.clientId ?? ''}</td><td>${r.username ?? ''}</td><td>${r.detail ?? ''}</td></tr>`,
      )}</tbody></table>`
    : ''
}`,
    });
  });
}
