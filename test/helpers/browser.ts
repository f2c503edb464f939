/**
 * A small scripted "browser" for OAuth flows in Node: a cookie jar, manual redirects, and filling the
 * authorization server's HTML forms (login, patient picker, consent) the way a person would. Stops at
 * the first redirect to `stopAt` (the app's redirect URI) and returns that URL.
 */
export class CookieJar {
  private cookies = new Map<string, { value: string; path: string }>();

  store(url: string, headers: Headers): void {
    const list = (headers as Headers & { getSetCookie?: () => string[] }).getSetCookie?.() ?? [];
    for (const line of list) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const pathAttr = attrs.map((a) => a.trim()).find((a) => a.toLowerCase().startsWith('path='));
      const cookiePath = pathAttr ? pathAttr.slice(5) : new URL(url).pathname.replace(/\/[^/]*$/, '') || '/';
      const expired = attrs.some((a) => /^\s*max-age=0/i.test(a) || /^\s*expires=thu, 01 jan 1970/i.test(a));
      if (expired || value === '') this.cookies.delete(`${name};${cookiePath}`);
      else this.cookies.set(`${name};${cookiePath}`, { value, path: cookiePath });
    }
  }

  header(url: string): string | undefined {
    const p = new URL(url).pathname;
    const parts: string[] = [];
    for (const [key, c] of this.cookies) if (p.startsWith(c.path)) parts.push(`${key.split(';')[0]}=${c.value}`);
    return parts.length ? parts.join('; ') : undefined;
  }
}

export interface FormChoice {
  username?: string;
  password?: string;
  /** Patient id to pick in a patient picker (first one otherwise). */
  patient?: string;
  encounter?: string;
  /** Deny at the consent screen instead of approving. */
  deny?: boolean;
}

interface ParsedForm {
  action: string;
  method: string;
  fields: [string, string][];
  radios: Map<string, string[]>;
  buttons: { name?: string; value?: string; text: string }[];
  hasPassword: boolean;
}

const attr = (tag: string, name: string): string | undefined => {
  const m = new RegExp(`\\b${name}\\s*=\\s*"([^"]*)"`, 'i').exec(tag);
  return m ? decode(m[1]) : undefined;
};
const decode = (s: string) =>
  s.replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n))).replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>');

export function parseForms(html: string): ParsedForm[] {
  const forms: ParsedForm[] = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const f: ParsedForm = { action: attr(m[1], 'action') ?? '', method: (attr(m[1], 'method') ?? 'get').toLowerCase(), fields: [], radios: new Map(), buttons: [], hasPassword: false };
    for (const i of m[2].matchAll(/<input\b([^>]*)>/gi)) {
      const type = (attr(i[1], 'type') ?? 'text').toLowerCase();
      const name = attr(i[1], 'name');
      if (!name) continue;
      const value = attr(i[1], 'value') ?? '';
      if (type === 'password') f.hasPassword = true;
      if (type === 'radio') f.radios.set(name, [...(f.radios.get(name) ?? []), value]);
      else if (type === 'checkbox') {
        if (/\bchecked\b/i.test(i[1])) f.fields.push([name, value || 'on']);
      } else if (type !== 'submit') f.fields.push([name, value]);
    }
    for (const b of m[2].matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button>/gi)) f.buttons.push({ name: attr(b[1], 'name'), value: attr(b[1], 'value'), text: b[2].replace(/<[^>]+>/g, '').trim() });
    forms.push(f);
  }
  return forms;
}

export class ScriptedBrowser {
  readonly jar = new CookieJar();
  /** Every page URL visited, for assertions. */
  readonly visited: string[] = [];

  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const cookie = this.jar.header(url);
    if (cookie) headers.set('cookie', cookie);
    const r = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.jar.store(url, r.headers);
    return r;
  }

  /** Follows redirects and fills forms until a redirect to `stopAt`; returns that final URL. */
  async run(startUrl: string, stopAt: string, choice: FormChoice = {}, maxSteps = 20): Promise<string> {
    let url = startUrl;
    let init: RequestInit = {};
    for (let step = 0; step < maxSteps; step++) {
      if (url.startsWith(stopAt)) return url;
      this.visited.push(url);
      const r = await this.request(url, init);
      init = {};
      if (r.status >= 300 && r.status < 400) {
        url = new URL(r.headers.get('location')!, url).toString();
        await r.arrayBuffer();
        continue;
      }
      const html = await r.text();
      if (r.status !== 200) throw new Error(`HTTP ${r.status} at ${url}: ${html.slice(0, 500)}`);
      const form = parseForms(html).find((f) => f.method === 'post');
      if (!form) throw new Error(`no form to submit at ${url}: ${html.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').slice(0, 400)}`);
      const body = new URLSearchParams(form.fields);
      if (form.hasPassword) {
        body.set('username', choice.username ?? '');
        body.set('password', choice.password ?? '');
      }
      for (const [name, values] of form.radios) {
        const wanted = name === 'patient' ? choice.patient : name === 'encounter' ? choice.encounter : undefined;
        if (wanted !== undefined && !values.includes(wanted)) throw new Error(`${name} ${wanted} not offered at ${url} (offered: ${values.join(', ')})`);
        body.set(name, wanted ?? values[0]);
      }
      const button =
        form.buttons.find((b) => (choice.deny ? /deny|cancel|reject/i : /allow|approve|authori[sz]e|continue|sign in|accept/i).test(`${b.value ?? ''} ${b.text}`)) ??
        form.buttons[0];
      if (button?.name) body.set(button.name, button.value ?? '');
      url = new URL(form.action || url, url).toString();
      init = { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } };
    }
    throw new Error(`no redirect to ${stopAt} after ${maxSteps} steps; visited ${this.visited.join(' → ')}`);
  }
}
