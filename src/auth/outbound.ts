/**
 * Outbound fetches of the authorization server (client `jwks_uri`), guarded against SSRF
 * (docs/architecture.md §6): loopback is allowed (local app development), link-local, private, unique-local,
 * multicast, unspecified and cloud-metadata addresses are refused. Redirects are not followed, so a
 * public URL cannot bounce the request to a refused address. (A DNS answer changing between our
 * check and the connection is a residual risk we accept for a sandbox.)
 */
import dns from 'node:dns/promises';
import net from 'node:net';

const blocked = new net.BlockList();
for (const [prefix, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['169.254.0.0', 16], // link-local, incl. 169.254.169.254 metadata
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['192.0.0.0', 24],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4],
] as const)
  blocked.addSubnet(prefix, bits, 'ipv4');
for (const [prefix, bits] of [
  ['::', 128],
  ['fc00::', 7], // unique local, incl. fd00:ec2::254 metadata
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const)
  blocked.addSubnet(prefix, bits, 'ipv6');

/** Why an address may not be fetched, or undefined when it may. */
export function addressProblem(address: string): string | undefined {
  const family = net.isIP(address);
  if (family === 0) return `${address} is not an IP address`;
  let v = address;
  let type: 'ipv4' | 'ipv6' = family === 4 ? 'ipv4' : 'ipv6';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) {
    v = mapped[1];
    type = 'ipv4';
  }
  if (blocked.check(v, type)) return `${address} is a private, link-local or reserved address`;
  return undefined;
}

export async function checkOutboundUrl(url: string): Promise<void> {
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('only http(s) URLs may be fetched');
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const addresses = net.isIP(host) ? [{ address: host }] : await dns.lookup(host, { all: true, verbatim: true });
  if (addresses.length === 0) throw new Error(`${host} does not resolve`);
  for (const a of addresses) {
    const problem = addressProblem(a.address);
    if (problem) throw new Error(`refusing to fetch ${u.origin}: ${problem}`);
  }
}

/** The `fetch` option of oidc-provider: same signature, guarded, no redirects. */
export async function guardedFetch(url: string | URL, options: RequestInit & { dispatcher?: unknown }): Promise<Response> {
  const href = String(url);
  await checkOutboundUrl(href);
  const { dispatcher: _ignored, ...rest } = options ?? {};
  return fetch(href, { ...rest, redirect: 'error' });
}
