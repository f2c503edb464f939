/**
 * Cache headers of the FHIR API (README "Caching"). A response made for one access token must never
 * be replayed from a browser or proxy cache to another request — e.g. a patient served from disk cache
 * to a launch whose token had expired (RFC 9111 §5.2.2.5 `no-store`). `Vary: Authorization, Origin`
 * tells any cache that still keys responses (RFC 9110 §12.5.5) that they depend on the token and,
 * through the echoed Access-Control-Allow-Origin, on the calling origin.
 *
 * The `/open` base serves without a token: its responses may be stored but must be revalidated on
 * every use (`no-cache`; reads carry an ETag), since open-write sandboxes change under any client.
 */
import type { FastifyReply } from 'fastify';

/** Every response of the SMART-secured `/data` base and of bulk export, errors included. */
export function authenticatedCacheHeaders(reply: FastifyReply): void {
  reply.header('cache-control', 'no-store').header('vary', 'Authorization, Origin');
}

/** Responses of the open `/open` base. */
export function openCacheHeaders(reply: FastifyReply): void {
  reply.header('cache-control', 'no-cache').header('vary', 'Origin');
}
