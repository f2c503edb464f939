/**
 * Page frame and small rendering helpers of the console. Everything goes through `html`, which
 * escapes every interpolated value.
 */
import type { FastifyReply } from 'fastify';
import { CSRF_FIELD } from './guard.js';
import { type Html, html } from './html.js';
import type { SandboxView } from './ops.js';

export const NAV = [
  ['overview', 'Overview', ''],
  ['patients', 'Patients', '/patients'],
  ['apps', 'Apps', '/apps'],
  ['personas', 'Personas', '/personas'],
  ['launch', 'Launch', '/launch'],
  ['inspector', 'Launch inspector', '/inspector'],
] as const;

export type Section = (typeof NAV)[number][0];

export const sandboxPath = (id: string, rest = '') => `/console/s/${encodeURIComponent(id)}${rest}`;

export interface PageOptions {
  title: string;
  sandbox?: SandboxView;
  sandboxes?: SandboxView[];
  active?: Section;
  notice?: Html | string;
  error?: string;
  body: Html;
}

export function layout(o: PageOptions): Html {
  const switcher =
    o.sandboxes && o.sandboxes.length > 0
      ? html`<form class="switch" method="get" action="/console/go">
          <label for="switch-sandbox">Sandbox</label>
          <select id="switch-sandbox" name="sandbox">${o.sandboxes.map(
            (s) => html`<option value="${s.id}"${s.id === o.sandbox?.id ? html` selected` : ''}>${s.id}</option>`,
          )}</select>
          <button type="submit">Open</button>
        </form>`
      : '';
  const nav = o.sandbox
    ? html`<nav aria-label="Sandbox sections"><ul>${NAV.map(
        ([key, label, rest]) =>
          html`<li><a href="${sandboxPath(o.sandbox!.id, rest)}"${key === o.active ? html` aria-current="page"` : ''}>${label}</a></li>`,
      )}</ul></nav>`
    : '';
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} · smart-sandbox</title>
<link rel="stylesheet" href="/console/assets/console.css">
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <a class="brand" href="/">smart-sandbox</a>
  ${o.sandbox ? html`<span class="current">${o.sandbox.name} <code>${o.sandbox.id}</code></span>` : ''}
  ${switcher}
</header>
${nav}
<main id="main">
<h1>${o.title}</h1>
${o.error ? html`<p class="error" role="alert">${o.error}</p>` : ''}
${o.notice ? html`<div class="notice" role="status">${o.notice}</div>` : ''}
${o.body}
</main>
</body>
</html>`;
}

export function csrfField(token: string | undefined): Html {
  return html`<input type="hidden" name="${CSRF_FIELD}" value="${token ?? ''}">`;
}

export function sendPage(reply: FastifyReply, page: Html, status = 200): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(page.text);
}

export const when = (iso?: string) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : '');

export function jsonBlock(value: unknown): Html {
  return html`<pre class="json">${JSON.stringify(value, null, 2)}</pre>`;
}

/** A delete/reset form that needs an explicit confirmation tick (no script needed). */
export function confirmForm(action: string, csrf: string | undefined, label: string, what: string, extra: Html | string = ''): Html {
  const id = `confirm-${action.replace(/[^a-z0-9]+/gi, '-')}`;
  return html`<form method="post" action="${action}" class="inline danger">
    ${csrfField(csrf)}${extra}
    <input type="checkbox" id="${id}" name="confirm" value="yes" required>
    <label for="${id}">confirm ${what}</label>
    <button type="submit">${label}</button>
  </form>`;
}
