/**
 * Cache headers of the FHIR API (src/http/caching.ts, README "Caching"): a response made for one
 * token is never stored by a browser or proxy (Cache-Control: no-store) and says it varies with the
 * token and the origin; the open base may be stored but is revalidated on every use.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ALL, call, type Harness, harness, patient } from './helpers.js';

describe('FHIR cache headers', () => {
  let h: Harness;
  let t: string;
  before(async () => {
    h = await harness({ open: true });
    t = h.token(ALL);
    assert.equal((await call(h, { method: 'PUT', url: 'Patient/p1', token: t, body: patient('p1') })).statusCode, 201);
  });
  after(() => h.close());

  const varies = (v: string | undefined) => new Set(String(v ?? '').split(',').map((s) => s.trim().toLowerCase()));

  test('every /data response, errors included, is no-store and varies by Authorization and Origin', async () => {
    const origin = { origin: 'http://app.example' };
    const cases = [
      { url: 'Patient/p1', token: t },
      { url: 'Patient/p1', token: t, headers: origin },
      { url: 'Patient?_id=p1', token: t },
      { url: 'Patient/p1/_history', token: t },
      { url: 'Patient/p1/_history/1', token: t },
      { url: 'Patient/nope', token: t },
      { url: 'Patient/p1' },
      { url: 'Patient/p1', token: 'not-a-token' },
      { url: 'metadata' },
      { method: 'PUT' as const, url: 'Patient/p1', token: t, body: patient('p1', 'Roe') },
    ];
    for (const c of cases) {
      const r = await call(h, c);
      assert.equal(r.headers['cache-control'], 'no-store', `${c.method ?? 'GET'} ${c.url} (${r.statusCode})`);
      const v = varies(r.headers.vary as string);
      assert.ok(v.has('authorization') && v.has('origin'), `${c.url}: Vary ${r.headers.vary}`);
    }
    // A conditional read answered 304 carries the same headers.
    const first = await call(h, { url: 'Patient/p1', token: t });
    const again = await call(h, { url: 'Patient/p1', token: t, headers: { 'if-none-match': String(first.headers.etag) } });
    assert.equal(again.statusCode, 304);
    assert.equal(again.headers['cache-control'], 'no-store');
  });

  test('the open base may be stored but is revalidated (no-cache), varying by Origin', async () => {
    for (const url of ['/test/open/Patient/p1', '/test/open/Patient?_id=p1', '/test/open/metadata']) {
      const r = await call(h, { url, headers: { origin: 'http://app.example' } });
      assert.equal(r.statusCode, 200, url);
      assert.equal(r.headers['cache-control'], 'no-cache', url);
      assert.ok(varies(r.headers.vary as string).has('origin'), url);
    }
  });
});
