/**
 * Refresh requests of public clients that do not name themselves.
 *
 * RFC 6749 §6 asks a client to authenticate on refresh only when it is confidential; a public client
 * has nothing to authenticate with, and the refresh token itself says whose it is. fhirclient (the
 * reference SMART client library) sends exactly `grant_type=refresh_token&refresh_token=…` for public
 * apps. oidc-provider insists on a `client_id` in every token request, so for these requests — no
 * Authorization header, no client_id, no client_assertion, a refresh token issued to a PUBLIC client of
 * this sandbox — the `client_id` of the token's own client is added. Nothing else changes: the token
 * is still checked by oidc-provider (binding, rotation, reuse detection), and a confidential client's
 * token without authentication is still refused. An already consumed (rotated) token is named too:
 * its replay must reach oidc-provider's reuse detection, which answers invalid_grant and revokes the
 * whole token family (RFC 9700 §4.14.2), instead of an invalid_request that revokes nothing.
 */
import type { IncomingMessage } from 'node:http';

const LIMIT = 56 * 1024; // oidc-provider's own body limit

/**
 * Reads a small form body without losing it: the bytes are pushed back onto the request stream with
 * `unshift` in the same tick as the last read, before the stream can end ('end' is only emitted while
 * nothing is buffered), so that oidc-provider reads them as usual. The body may have arrived in full
 * before the peek (e.g. after an awaited database round trip): then the read that empties the buffer
 * schedules 'end', and a later unshift would come too late.
 */
async function peekBody(raw: IncomingMessage): Promise<Buffer | undefined> {
  const length = Number(raw.headers['content-length']);
  if (!Number.isInteger(length) || length <= 0 || length > LIMIT) return undefined;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const done = (value: Buffer | undefined) => {
      raw.off('readable', onReadable);
      raw.off('end', onEnd);
      raw.off('error', onEnd);
      resolve(value);
    };
    const onReadable = () => {
      let chunk: Buffer | null;
      while (got < length && (chunk = raw.read() as Buffer | null) !== null) {
        chunks.push(chunk);
        got += chunk.length;
      }
      if (got >= length) {
        const body = Buffer.concat(chunks, got);
        done(body);
        raw.unshift(body);
      }
    };
    // A body shorter than its Content-Length: give back what came; oidc-provider reports the mismatch.
    const onEnd = () => done(undefined);
    raw.on('readable', onReadable);
    raw.on('end', onEnd);
    raw.on('error', onEnd);
  });
}

/**
 * What the lookup knows of a refresh token: the public client it was issued to (a string), `null`
 * when no live token has this value (unknown, expired or revoked with its family), or undefined
 * when it belongs to a confidential client (left to oidc-provider, which demands authentication).
 */
export type RefreshClientLookup = (refreshToken: string) => Promise<string | null | undefined>;

/**
 * Adds the client_id of a public client's refresh request. Returns `unknown-token` when the request
 * names no client and its refresh token is not live: the caller answers invalid_grant (RFC 6749
 * §5.2) — e.g. the rotated token of a family revoked after a replay — instead of oidc-provider's
 * invalid_request about the missing client_id.
 */
export async function namePublicRefreshClient(raw: IncomingMessage, publicClientOf: RefreshClientLookup): Promise<'unknown-token' | undefined> {
  if (raw.headers.authorization !== undefined) return undefined;
  if (!String(raw.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) return undefined;
  const body = await peekBody(raw);
  if (!body) return undefined;
  const form = new URLSearchParams(body.toString('utf8'));
  const token = form.get('refresh_token');
  if (form.get('grant_type') !== 'refresh_token' || form.has('client_id') || form.has('client_assertion') || !token) return undefined;
  const clientId = await publicClientOf(token);
  if (clientId === null) return 'unknown-token';
  if (!clientId) return undefined;
  form.set('client_id', clientId);
  const rewritten = Buffer.from(form.toString(), 'utf8');
  // Take the original bytes back and push the rewritten ones in the same tick (see peekBody).
  raw.read();
  raw.headers['content-length'] = String(rewritten.length);
  raw.unshift(rewritten);
  return undefined;
}
