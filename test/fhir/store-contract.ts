/**
 * The ResourceStore contract suite (docs/architecture.md §7): one function that takes a store factory, so the
 * PostgreSQL implementation runs the very same checks. Every call is awaited, so an implementation
 * may return values or promises.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { emptyIndexRows, type ResourceStore, VersionConflict, type WriteRecord } from '../../src/fhir/store.js';

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

export interface StoreFixture {
  store: ResourceStore;
  close(): Promise<void> | void;
}

function record(type: string, id: string, version: number, extra: Partial<WriteRecord> = {}): WriteRecord {
  const content = JSON.stringify({ resourceType: type, id, meta: { versionId: String(version) } });
  return { type, id, content, version, lastUpdated: 1_700_000_000_000 + version, method: version === 1 ? 'POST' : 'PUT', index: emptyIndexRows(), compartments: [], ...extra };
}

export function resourceStoreContract(name: string, factory: () => Promise<StoreFixture> | StoreFixture, skip: string | false = false): void {
  describe(`ResourceStore contract: ${name}`, { skip }, () => {
    const withStore = (fn: (s: ResourceStore) => Promise<void> | void) => async () => {
      const f = await factory();
      try {
        await fn(f.store);
      } finally {
        await f.close();
      }
    };

    test(
      'put creates version 1, then new versions; read returns the current one',
      withStore(async (s) => {
        const a = await s.put(1, record('Patient', 'p1', 1));
        assert.equal(a.version, 1);
        const b = await s.put(1, record('Patient', 'p1', 2));
        assert.equal(b.rid, a.rid, 'the logical resource keeps its rid');
        const cur = await s.read(1, 'Patient', 'p1');
        assert.equal(cur?.version, 2);
        assert.equal(cur?.deleted, false);
        assert.equal(JSON.parse(cur!.content!).meta.versionId, '2');
        assert.equal((await s.readVersion(1, 'Patient', 'p1', 1))?.version, 1);
        assert.equal(await s.readVersion(1, 'Patient', 'p1', 3), undefined);
      }),
    );

    test(
      'tenants are isolated',
      withStore(async (s) => {
        await s.put(1, record('Patient', 'p1', 1));
        assert.equal(await s.read(2, 'Patient', 'p1'), undefined);
        assert.equal(await s.readVersion(2, 'Patient', 'p1', 1), undefined);
        assert.equal((await s.history(2, { limit: 10, offset: 0 })).length, 0);
        assert.deepEqual(await collect(s.exportAll(2)), []);
      }),
    );

    test(
      'remove marks deleted, keeps history and compartment, drops index rows',
      withStore(async (s) => {
        const rows = emptyIndexRows();
        rows.token.push(['gender', null, 'female']);
        const a = await s.put(1, record('Patient', 'p1', 1, { index: rows, compartments: ['p1'] }));
        assert.equal((await s.query('SELECT COUNT(*) AS n FROM ix_token WHERE rid = ?', [a.rid]))[0].n, 1);
        await s.remove(1, 'Patient', 'p1', 2, 1_700_000_000_100);
        const cur = await s.read(1, 'Patient', 'p1');
        assert.equal(cur?.deleted, true);
        assert.equal(cur?.content, null);
        assert.equal((await s.query('SELECT COUNT(*) AS n FROM ix_token WHERE rid = ?', [a.rid]))[0].n, 0);
        assert.deepEqual(await s.compartmentsOf(1, a.rid), ['p1']);
        const h = await s.history(1, { type: 'Patient', id: 'p1', limit: 10, offset: 0 });
        assert.deepEqual(
          h.map((x) => [x.version, x.method, x.deleted]),
          [
            [2, 'DELETE', true],
            [1, 'POST', false],
          ],
        );
      }),
    );

    test(
      'index rows are replaced on every write and carry the tenant',
      withStore(async (s) => {
        const r1 = emptyIndexRows();
        r1.string.push(['name', 'doe', 'Doe']);
        r1.ref.push(['link', 'Patient', 'p2', null]);
        const a = await s.put(7, record('Patient', 'p1', 1, { index: r1, compartments: ['p1', 'p2'] }));
        const r2 = emptyIndexRows();
        r2.string.push(['name', 'roe', 'Roe']);
        await s.put(7, record('Patient', 'p1', 2, { index: r2, compartments: ['p1'] }));
        const names = await s.query<{ norm: string; tenant: number }>('SELECT norm, tenant FROM ix_string WHERE rid = ?', [a.rid]);
        assert.deepEqual(names, [{ norm: 'roe', tenant: 7 }]);
        assert.equal((await s.query('SELECT COUNT(*) AS n FROM ix_ref WHERE rid = ?', [a.rid]))[0].n, 0);
        assert.deepEqual(await s.compartmentsOf(7, a.rid), ['p1']);
        assert.ok((await s.pid('Patient', 'name')) !== undefined);
        assert.equal(await s.pid('Patient', 'never-indexed'), undefined);
      }),
    );

    test(
      'history filters by type, since and paging, newest first',
      withStore(async (s) => {
        await s.put(1, record('Patient', 'a', 1, { lastUpdated: 1000 }));
        await s.put(1, record('Observation', 'b', 1, { lastUpdated: 2000 }));
        await s.put(1, record('Patient', 'a', 2, { lastUpdated: 3000 }));
        assert.deepEqual(
          (await s.history(1, { limit: 10, offset: 0 })).map((h) => `${h.type}/${h.id}/${h.version}`),
          ['Patient/a/2', 'Observation/b/1', 'Patient/a/1'],
        );
        assert.equal((await s.history(1, { type: 'Observation', limit: 10, offset: 0 })).length, 1);
        assert.equal((await s.history(1, { since: 2000, limit: 10, offset: 0 })).length, 2);
        assert.equal((await s.history(1, { types: ['Observation'], limit: 10, offset: 0 })).length, 1);
        assert.deepEqual(
          (await s.history(1, { limit: 1, offset: 1 })).map((h) => h.id),
          ['b'],
        );
      }),
    );

    test(
      'apply: a write set is atomic; expected versions are checked inside it; guards roll everything back',
      withStore(async (s) => {
        await s.apply(1, [
          { kind: 'put', rec: record('Patient', 'a', 1), expect: 0 },
          { kind: 'put', rec: record('Patient', 'b', 1), expect: 0 },
        ]);
        assert.equal((await s.read(1, 'Patient', 'a'))?.version, 1);
        // The second op expects a version that is not there: nothing of the set is written.
        await assert.rejects(
          s.apply(1, [
            { kind: 'put', rec: record('Patient', 'x', 1), expect: 0 },
            { kind: 'put', rec: record('Patient', 'a', 2), expect: 5 },
          ]),
          (e: unknown) => e instanceof VersionConflict && e.actual === 1,
        );
        assert.equal(await s.read(1, 'Patient', 'x'), undefined);
        assert.equal((await s.read(1, 'Patient', 'a'))?.version, 1);
        // Creating what exists is a conflict too (two writers planned the same create).
        await assert.rejects(s.apply(1, [{ kind: 'put', rec: record('Patient', 'b', 1), expect: 0 }]), VersionConflict);
        // The same resource twice in one set: the second op sees the first.
        const out = await s.apply(1, [
          { kind: 'put', rec: record('Patient', 'a', 2), expect: 1 },
          { kind: 'put', rec: record('Patient', 'a', 3), expect: 2 },
          { kind: 'remove', type: 'Patient', id: 'b', version: 2, lastUpdated: 1_700_000_000_500, expect: 1 },
        ]);
        assert.deepEqual(
          out.map((r) => [r.id, r.version, r.deleted]),
          [
            ['a', 2, false],
            ['a', 3, false],
            ['b', 2, true],
          ],
        );
        assert.equal(out[0].rid, out[1].rid);
        assert.equal((await s.history(1, { type: 'Patient', id: 'a', limit: 10, offset: 0 })).length, 3);
        // A guard that finds no row rolls the whole set back with its error.
        const rows = emptyIndexRows();
        rows.token.push(['gender', null, 'female']);
        const refuse = new Error('not allowed');
        await assert.rejects(
          s.apply(1, [
            { kind: 'put', rec: record('Patient', 'y', 1), expect: 0 },
            {
              kind: 'put',
              rec: record('Patient', 'g', 1, { index: rows }),
              expect: 0,
              guard: { sql: (rid) => ({ sql: 'SELECT 1 AS ok FROM ix_token WHERE rid = ? AND code = ?', params: [rid, 'male'] }), error: () => refuse },
            },
          ]),
          (e: unknown) => e === refuse,
        );
        assert.equal(await s.read(1, 'Patient', 'y'), undefined);
        assert.equal(await s.read(1, 'Patient', 'g'), undefined);
        const ok = await s.apply(1, [
          {
            kind: 'put',
            rec: record('Patient', 'g', 1, { index: rows }),
            expect: 0,
            guard: { sql: (rid) => ({ sql: 'SELECT 1 AS ok FROM ix_token WHERE rid = ? AND code = ?', params: [rid, 'female'] }), error: () => refuse },
          },
        ]);
        assert.ok(ok[0].rid > 0);
      }),
    );

    test(
      'concurrent write sets on one resource: exactly one wins, the other gets a VersionConflict',
      withStore(async (s) => {
        await s.put(1, record('Patient', 'c', 1));
        const results = await Promise.allSettled([
          s.apply(1, [{ kind: 'put', rec: record('Patient', 'c', 2), expect: 1 }]),
          s.apply(1, [{ kind: 'put', rec: record('Patient', 'c', 2), expect: 1 }]),
        ]);
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
        const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
        assert.ok(lost.reason instanceof VersionConflict, String(lost.reason));
        assert.equal((await s.read(1, 'Patient', 'c'))?.version, 2);
      }),
    );

    test(
      'exportAll streams current resources; purge removes every row of a tenant only',
      withStore(async (s) => {
        for (let i = 0; i < 1200; i++) await s.put(3, record('Patient', `p${i}`, 1));
        await s.put(4, record('Patient', 'other', 1));
        await s.remove(3, 'Patient', 'p0', 2, 5);
        const ids = (await collect(s.exportAll(3))).map((t) => JSON.parse(t).id);
        assert.equal(ids.length, 1199);
        assert.ok(!ids.includes('p0'));
        await s.purge(3);
        assert.equal(await s.read(3, 'Patient', 'p5'), undefined);
        assert.equal((await s.history(3, { limit: 5, offset: 0 })).length, 0);
        assert.ok(await s.read(4, 'Patient', 'other'));
      }),
    );
  });
}
