/**
 * Fuzzing the FHIR API of a running server (issue 12 item 7): generated resources (valid-ish and
 * broken), search URLs and transaction Bundles, on the open base and with a backend token. Every
 * answer is below 500, arrives before the per-request deadline, and every error is an
 * OperationOutcome; `/healthz` answers at once after each property. See harness.ts for the knobs.
 */
import { after, before, describe } from 'node:test';
import { bundle } from './bundles.js';
import { checkFhir, property, send, type Target, startTarget } from './harness.js';
import { render } from './json.js';
import { write, writeBody, writeHeaders } from './resources.js';
import { searchRequest } from './search.js';

describe('fuzz: FHIR API', () => {
  let target: Target;
  before(async () => {
    target = await startTarget();
  });
  after(() => target?.stop());
  const t = () => target;

  const base = async (secured: boolean) => (secured ? { prefix: '/demo/data', token: await target.token() } : { prefix: '/demo/open', token: undefined });

  property(t, 'FHIR writes', 60, write, async (tg, w) => {
    const { prefix, token } = await base(w.secured);
    checkFhir(await send(tg.base, { method: w.method, path: `${prefix}${w.path}`, headers: writeHeaders(w, token), body: writeBody(w) }));
  });

  property(t, 'FHIR search', 120, searchRequest, async (tg, s) => {
    const { prefix, token } = await base(s.secured);
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    if (s.method === 'POST') headers['content-type'] = 'application/x-www-form-urlencoded';
    checkFhir(await send(tg.base, { method: s.method, path: `${prefix}${s.path}`, headers, body: s.body }));
  });

  property(t, 'FHIR batch and transaction', 40, bundle, async (tg, b) => {
    checkFhir(await send(tg.base, { method: 'POST', path: '/demo/open', headers: { 'content-type': 'application/fhir+json' }, body: render(b) }));
  });
});
