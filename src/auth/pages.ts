/**
 * Server-rendered pages of the authorization server: login, patient and encounter pickers, consent,
 * errors. Every interpolated value goes through `esc` (docs/architecture.md §6); there is no script at all,
 * and the only style block is allowed by its hash in the Content-Security-Policy.
 */
import crypto from 'node:crypto';

export function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"'`=]/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f6f8;color:#1d2733;margin:0}
main{max-width:34rem;margin:3rem auto;background:#fff;border:1px solid #d5dbe1;border-radius:8px;padding:1.5rem 2rem}
h1{font-size:1.35rem;margin:0 0 .25rem}p.sub{color:#5b6875;margin:0 0 1.25rem}
label{display:block;font-weight:600;margin:.75rem 0 .25rem}
input[type=text],input[type=password],input[type=search]{width:100%;box-sizing:border-box;padding:.5rem;border:1px solid #aab4be;border-radius:4px;font-size:1rem}
button{margin-top:1rem;padding:.55rem 1.1rem;border-radius:4px;border:1px solid #1f5fa8;background:#1f6fc5;color:#fff;font-size:1rem;cursor:pointer}
button.secondary{background:#fff;color:#1f5fa8}
.error{background:#fdecea;border:1px solid #e5a39b;color:#8a1c12;padding:.6rem .8rem;border-radius:4px;margin:.75rem 0}
ul.scopes{padding-left:1.2rem}ul.scopes li{margin:.3rem 0}code{font-size:.85em;color:#5b6875}
table{width:100%;border-collapse:collapse;margin-top:.5rem}td,th{text-align:left;padding:.4rem;border-bottom:1px solid #e3e7eb}
.row{display:flex;gap:.5rem;align-items:flex-end}.row>div{flex:1}
footer{color:#7a8692;font-size:.8rem;margin-top:1.5rem}
`;

const STYLE_HASH = crypto.createHash('sha256').update(STYLE).digest('base64');

/** Headers for every page (docs/architecture.md §6): strict CSP without script, no referrer, framing by self only. */
export const PAGE_HEADERS: Record<string, string> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': `default-src 'self'; script-src 'none'; style-src 'sha256-${STYLE_HASH}'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'self'`,
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
};

function layout(title: string, sandboxName: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)} · ${esc(sandboxName)}</title><style>${STYLE}</style></head>
<body><main>${body}<footer>smart-sandbox · sandbox ${esc(sandboxName)}</footer></main></body></html>`;
}

/** `back`: the app's redirect URI carrying the error (RFC 6749 §4.1.2.1), offered as a link instead of an automatic redirect. */
export function renderErrorPage(sandboxName: string, error: string, description: string, back?: string): string {
  const sub = back ? 'The app sent a request this server cannot accept.' : 'The app sent a request this server cannot accept, so you are not sent back to it.';
  return layout(
    'Authorization error',
    sandboxName,
    `<h1>The authorization request cannot be processed</h1><p class="sub">${sub}</p>
<div class="error" role="alert"><strong>${esc(error)}</strong>: ${esc(description)}</div>${back ? `<p><a href="${esc(back)}">Return to the app with this error</a></p>` : ''}`,
  );
}

const hidden = (fields: Record<string, string | undefined>) =>
  Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`)
    .join('');

export interface FormBase {
  sandboxName: string;
  clientName: string;
  action: string;
  csrf: string;
  error?: string;
}

/** `fixed`: the launch names its persona, so the username is shown read-only (docs/architecture.md §5). */
export function loginPage(f: FormBase & { username?: string; fixed?: boolean }): string {
  const who = f.fixed
    ? `This launch is for <strong>${esc(f.username)}</strong>: sign in as that persona to open <strong>${esc(f.clientName)}</strong>.`
    : `<strong>${esc(f.clientName)}</strong> asks you to sign in as a sandbox persona.`;
  return layout(
    'Sign in',
    f.sandboxName,
    `<h1>Sign in to ${esc(f.sandboxName)}</h1><p class="sub">${who}</p>
${f.error ? `<div class="error" role="alert">${esc(f.error)}</div>` : ''}
<form method="post" action="${esc(f.action)}" autocomplete="off">${hidden({ csrf: f.csrf, step: 'login' })}
<label for="username">Username</label><input type="text" id="username" name="username" required${f.fixed ? ' readonly' : ''} value="${esc(f.username ?? '')}">
<label for="password">Password</label><input type="password" id="password" name="password" required>
<button type="submit">Sign in</button></form>`,
  );
}

/** Asked before a launch's password-less sign-in replaces another persona's session (docs/architecture.md §5). */
export function switchPersonaPage(f: FormBase & { current: string; next: string }): string {
  return layout(
    'Switch persona',
    f.sandboxName,
    `<h1>Switch persona?</h1><p class="sub">You are signed in as <strong>${esc(f.current)}</strong>. This launch of <strong>${esc(f.clientName)}</strong> is for <strong>${esc(f.next)}</strong>.</p>
<form method="post" action="${esc(f.action)}">${hidden({ csrf: f.csrf, step: 'switch' })}
<button type="submit" name="decision" value="switch">Continue as ${esc(f.next)}</button>
<button type="submit" name="decision" value="cancel" class="secondary">Cancel</button></form>`,
  );
}

export interface Choice {
  id: string;
  label: string;
  detail?: string;
}

export function patientPickerPage(f: FormBase & { q: string; patients: Choice[] }): string {
  const rows = f.patients
    .map(
      (p, i) =>
        `<tr><td><input type="radio" name="patient" id="p${i}" value="${esc(p.id)}" required${i === 0 ? ' checked' : ''}></td>
<td><label for="p${i}">${esc(p.label)}</label></td><td>${esc(p.detail ?? '')}</td></tr>`,
    )
    .join('');
  return layout(
    'Choose a patient',
    f.sandboxName,
    `<h1>Choose a patient</h1><p class="sub"><strong>${esc(f.clientName)}</strong> will open with the patient you choose.</p>
${f.error ? `<div class="error" role="alert">${esc(f.error)}</div>` : ''}
<form method="get" action="${esc(f.action)}" class="row"><div><label for="q">Search by name</label>
<input type="search" id="q" name="q" value="${esc(f.q)}"></div><button type="submit" class="secondary">Search</button></form>
${
  f.patients.length
    ? `<form method="post" action="${esc(f.action)}">${hidden({ csrf: f.csrf, step: 'patient' })}
<table><thead><tr><th></th><th>Patient</th><th>Details</th></tr></thead><tbody>${rows}</tbody></table>
<button type="submit">Continue</button></form>`
    : '<p>No patient matches.</p>'
}`,
  );
}

export function encounterPickerPage(f: FormBase & { patient: string; patientLabel: string; encounters: Choice[] }): string {
  const rows = f.encounters
    .map(
      (e, i) =>
        `<tr><td><input type="radio" name="encounter" id="e${i}" value="${esc(e.id)}"${i === 0 ? ' checked' : ''}></td>
<td><label for="e${i}">${esc(e.label)}</label></td><td>${esc(e.detail ?? '')}</td></tr>`,
    )
    .join('');
  return layout(
    'Choose an encounter',
    f.sandboxName,
    `<h1>Choose an encounter</h1><p class="sub">Patient: <strong>${esc(f.patientLabel)}</strong></p>
${f.error ? `<div class="error" role="alert">${esc(f.error)}</div>` : ''}
<form method="post" action="${esc(f.action)}">${hidden({ csrf: f.csrf, step: 'encounter', patient: f.patient })}
${
  f.encounters.length
    ? `<table><thead><tr><th></th><th>Encounter</th><th>Details</th></tr></thead><tbody>${rows}
<tr><td><input type="radio" name="encounter" id="enone" value=""></td><td><label for="enone">No encounter</label></td><td></td></tr></tbody></table>`
    : `<p>This patient has no encounters.</p>${hidden({ encounter: '' })}`
}
<button type="submit">Continue</button></form>`,
  );
}

export function consentPage(
  f: FormBase & { scopes: { scope: string; text: string }[]; patient?: string; patientLabel?: string; encounter?: string; userLabel: string },
): string {
  const items = f.scopes.map((s) => `<li>${esc(s.text)} <code>${esc(s.scope)}</code></li>`).join('');
  return layout(
    'Allow access',
    f.sandboxName,
    `<h1>Allow ${esc(f.clientName)}?</h1><p class="sub">Signed in as <strong>${esc(f.userLabel)}</strong>${
      f.patientLabel ? ` · patient <strong>${esc(f.patientLabel)}</strong>` : ''
    }${f.encounter ? ` · encounter <strong>${esc(f.encounter)}</strong>` : ''}</p>
<p>The app asks to:</p><ul class="scopes">${items || '<li>no specific permission</li>'}</ul>
<form method="post" action="${esc(f.action)}">${hidden({ csrf: f.csrf, step: 'consent', patient: f.patient, encounter: f.encounter })}
<button type="submit" name="decision" value="approve">Allow</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button></form>`,
  );
}
