/**
 * Security headers of every console page and API answer (docs/architecture.md §6): a strict CSP without
 * inline script or style, `frame-ancestors 'self'`, no referrer (URLs may carry launch ids), no
 * sniffing, no caching. No CORS header is ever set here or anywhere in the console.
 */
import type { FastifyReply } from 'fastify';

export const CONSOLE_CSP = "default-src 'self'; img-src 'self' data:; frame-ancestors 'self'; base-uri 'none'; object-src 'none'";

export function securityHeaders(reply: FastifyReply, csp = CONSOLE_CSP): FastifyReply {
  return reply
    .header('content-security-policy', csp)
    .header('referrer-policy', 'no-referrer')
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'SAMEORIGIN')
    .header('cache-control', 'no-store');
}
