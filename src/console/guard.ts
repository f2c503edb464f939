/**
 * Admin access to the console and its JSON API (issue 6 "Admin access", docs/architecture.md §6).
 *
 * There is no password on localhost, but other web pages must not be able to drive the console:
 * - the link `serve` prints carries a random admin token; the first visit with `?token=` stores it in
 *   an HttpOnly, SameSite=Strict cookie and redirects to the same URL without the token (so it does
 *   not stay in the address bar or history); scripts may send `Authorization: Bearer <token>`;
 * - Host must be the public host or a loopback name with our port (defeats DNS rebinding), Origin,
 *   when sent, must be our own origin (`null`, which our no-referrer pages make browsers send on
 *   form posts, only with `Sec-Fetch-Site: same-origin`), and `Sec-Fetch-Site: cross-site` is
 *   refused on the API;
 * - no CORS headers are ever sent, so other origins cannot read answers or send custom headers;
 * - every write authenticated by the cookie needs a CSRF token (double submit: the `ss_csrf` cookie
 *   equals the `X-CSRF-Token` header or the `_csrf` form field). Bearer requests are exempt: a
 *   browser never attaches that header on its own.
 * Bound to another interface the same token is the admin credential, taken from configuration.
 */
import crypto from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/config.js';

export const ADMIN_COOKIE = 'ss_console';
export const CSRF_COOKIE = 'ss_csrf';
export const CSRF_HEADER = 'x-csrf-token';
export const CSRF_FIELD = '_csrf';
/** Shortest admin token accepted: a configured credential must not be guessable. */
export const MIN_TOKEN_LENGTH = 16;

export type Refusal = { status: 401 | 403; message: string };

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header) return out;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    const k = part.slice(0, i).trim();
    if (!k || k in out) continue;
    try {
      out[k] = decodeURIComponent(part.slice(i + 1).trim());
    } catch {
      // a malformed cookie value is simply ignored
    }
  }
  return out;
}

/** Constant-time comparison of two secrets of any length (hashing equalises the lengths). */
export function sameSecret(a: string, b: string): boolean {
  const ha = crypto.createHash('sha256').update(a).digest();
  const hb = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(ha, hb) && a.length === b.length;
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

export class ConsoleGuard {
  private readonly publicOrigin: string;
  private readonly publicHost: string;
  private readonly secure: boolean;

  constructor(
    private readonly config: Config,
    private readonly adminToken: string,
    /** The port the server actually listens on (differs from config.port when it is 0). */
    private readonly listeningPort: () => number | undefined,
  ) {
    if (typeof adminToken !== 'string' || adminToken.length < MIN_TOKEN_LENGTH)
      throw new Error(`the console admin token must have at least ${MIN_TOKEN_LENGTH} characters (there is no default password)`);
    const u = new URL(config.publicUrl);
    this.publicOrigin = u.origin;
    this.publicHost = u.host.toLowerCase();
    this.secure = u.protocol === 'https:';
  }

  /** Host header check (DNS rebinding): the public host, or a loopback name with our port. */
  hostAllowed(request: FastifyRequest): boolean {
    const host = normaliseHost(request.host ?? '', this.secure);
    if (!host) return false;
    if (host === this.publicHost) return true;
    const ports = new Set([String(this.config.port), String(this.listeningPort() ?? this.config.port)]);
    for (const name of LOOPBACK_NAMES) for (const p of ports) if (host === normaliseHost(`${name}:${p}`, this.secure)) return true;
    return false;
  }

  /** Origin, when present, must be the public origin or this very (allowed) host's origin. */
  originAllowed(request: FastifyRequest): boolean {
    const origin = request.headers.origin;
    if (origin === undefined) return true;
    // Our pages send `Referrer-Policy: no-referrer`, so browsers submit their forms with
    // `Origin: null`; accept that only when the browser itself vouches the request is same-origin.
    if (origin === 'null') return request.headers['sec-fetch-site'] === 'same-origin';
    if (origin === this.publicOrigin) return true;
    const own = `${request.protocol}://${normaliseHost(request.host ?? '', request.protocol === 'https')}`;
    return this.hostAllowed(request) && origin === own;
  }

  /** How the request is authenticated, or undefined. */
  authenticate(request: FastifyRequest): 'cookie' | 'bearer' | undefined {
    const auth = request.headers.authorization;
    if (auth !== undefined) {
      const m = /^Bearer\s+(\S+)$/i.exec(auth);
      return m && sameSecret(m[1], this.adminToken) ? 'bearer' : undefined;
    }
    const cookie = parseCookies(request.headers.cookie)[ADMIN_COOKIE];
    return cookie !== undefined && sameSecret(cookie, this.adminToken) ? 'cookie' : undefined;
  }

  tokenMatches(candidate: string): boolean {
    return sameSecret(candidate, this.adminToken);
  }

  /** The request's CSRF cookie value, if any. */
  csrfCookie(request: FastifyRequest): string | undefined {
    const v = parseCookies(request.headers.cookie)[CSRF_COOKIE];
    return v && /^[A-Za-z0-9_-]{32,64}$/.test(v) ? v : undefined;
  }

  /** Double-submit check for cookie-authenticated writes. */
  csrfValid(request: FastifyRequest, submitted: unknown): boolean {
    const cookie = this.csrfCookie(request);
    return cookie !== undefined && typeof submitted === 'string' && sameSecret(submitted, cookie);
  }

  /** Sets the admin cookie (bootstrap) and a fresh CSRF cookie. */
  setSessionCookies(reply: FastifyReply): string {
    const csrf = crypto.randomBytes(24).toString('base64url');
    reply.header('set-cookie', [this.cookie(ADMIN_COOKIE, this.adminToken, true), this.cookie(CSRF_COOKIE, csrf, false)]);
    return csrf;
  }

  /** Ensures a CSRF cookie exists (e.g. after it was cleared); returns its value. */
  ensureCsrf(request: FastifyRequest, reply: FastifyReply): string {
    const existing = this.csrfCookie(request);
    if (existing) return existing;
    const csrf = crypto.randomBytes(24).toString('base64url');
    reply.header('set-cookie', this.cookie(CSRF_COOKIE, csrf, false));
    return csrf;
  }

  /**
   * The CSRF cookie is readable by our own scripts (double submit needs that); the admin cookie is
   * HttpOnly. Both SameSite=Strict (never sent on cross-site requests), path `/`, Secure over HTTPS.
   */
  private cookie(name: string, value: string, httpOnly: boolean): string {
    return `${name}=${encodeURIComponent(value)}; Path=/; SameSite=Strict${httpOnly ? '; HttpOnly' : ''}${this.secure ? '; Secure' : ''}`;
  }

  /** Common checks of every console and API request, before authentication. */
  precheck(request: FastifyRequest, api: boolean): Refusal | undefined {
    if (!this.hostAllowed(request)) return { status: 403, message: `the Host header ${JSON.stringify(request.host ?? '')} is not this console's host` };
    if (!this.originAllowed(request)) return { status: 403, message: 'requests from other web origins are refused' };
    if (api && request.headers['sec-fetch-site'] === 'cross-site') return { status: 403, message: 'cross-site requests are refused' };
    return undefined;
  }
}

/** Lower-cases a Host value and drops the scheme's default port, as browsers do. */
export function normaliseHost(host: string, https: boolean): string {
  const h = host.trim().toLowerCase();
  if (!/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?$/.test(h)) return '';
  return h.replace(https ? /:443$/ : /:80$/, '');
}

export const isWrite = (method: string) => !['GET', 'HEAD', 'OPTIONS'].includes(method);
