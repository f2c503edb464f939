/**
 * Contract of the store methods main added while the stores became async (merge of main into the
 * PostgreSQL branch), on both backends: the key version stamp (`keys rotate` seen by running servers),
 * `clientOf` (public-client refresh without client_id), the launch's `simulate_error` column and the
 * bulk export job store (one active job per client).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { StorageBackend } from '../../src/storage/backend.js';
import { openPostgresBackend } from '../../src/storage/postgres/backend.js';
import { openSqliteBackend } from '../../src/storage/sqlite/backend.js';
import { hashLaunchId } from '../../src/launch/model.js';
import { createTestDatabase, postgresSkip } from '../helpers/postgres.js';

interface Fixture {
  backend: StorageBackend;
  close(): Promise<void>;
}

const backends: [string, () => Promise<Fixture>, string | false][] = [
  [
    'SQLite',
    async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-merged-'));
      const backend = openSqliteBackend(dir);
      return { backend, close: async () => { await backend.close(); fs.rmSync(dir, { recursive: true, force: true }); } };
    },
    false,
  ],
  [
    'PostgreSQL',
    async () => {
      const db = await createTestDatabase();
      const backend = await openPostgresBackend(db.url);
      return { backend, close: async () => { await backend.close(); await db.drop(); } };
    },
    await postgresSkip(),
  ],
];

for (const [name, open, skip] of backends) {
  describe(`stores added on main, on ${name}`, { skip }, () => {
    test('keys: the stamp is undefined when absent and strictly increases with every set', async () => {
      const f = await open();
      try {
        const { keys } = f.backend;
        assert.equal(await keys.stamp(1, 'jwks'), undefined);
        await keys.getOrCreate(1, 'jwks', () => 'a');
        const s1 = (await keys.stamp(1, 'jwks'))!;
        assert.equal(typeof s1, 'number');
        await keys.set(1, 'jwks', 'b');
        const s2 = (await keys.stamp(1, 'jwks'))!;
        await keys.set(1, 'jwks', 'c');
        const s3 = (await keys.stamp(1, 'jwks'))!;
        assert.ok(s2 > s1 && s3 > s2, `${s1} < ${s2} < ${s3}`);
        assert.equal(await keys.get(1, 'jwks'), 'c');
        assert.equal(await keys.stamp(2, 'jwks'), undefined, 'per tenant');
      } finally {
        await f.close();
      }
    });

    test('oidc: clientOf names the client of a live artifact, consumed ones included (reuse detection)', async () => {
      const f = await open();
      try {
        const { oidc } = f.backend;
        const row = (id: string, expires_at: number | null) => ({
          tenant: 1, model: 'RefreshToken', id, payload: '{}', grant_id: 'g', uid: null, user_code: null, client_id: 'app', account_id: null, expires_at,
        });
        const now = Date.now();
        await oidc.upsert(row('live', now + 60_000));
        await oidc.upsert(row('old', now - 1));
        await oidc.upsert(row('used', now + 60_000));
        await oidc.consume(1, 'RefreshToken', 'used', now);
        assert.equal(await oidc.clientOf(1, 'RefreshToken', 'live'), 'app');
        assert.equal(await oidc.clientOf(1, 'RefreshToken', 'old'), undefined, 'expired');
        assert.equal(await oidc.clientOf(1, 'RefreshToken', 'used'), 'app', 'consumed: reaches reuse detection (RFC 9700 §4.14.2)');
        assert.equal(await oidc.clientOf(2, 'RefreshToken', 'live'), undefined, 'other tenant');
        assert.equal(await oidc.clientOf(1, 'AccessToken', 'live'), undefined, 'other model');
      } finally {
        await f.close();
      }
    });

    test('launches: simulate_error round-trips', async () => {
      const f = await open();
      try {
        const now = Date.now();
        const base = { sandboxKey: 1, parameters: { patient: 'p' }, clientIds: [], authority: 'orchestrator' as const, createdAt: now, createdBy: 'test', expiresAt: now + 60_000 };
        await f.backend.launches.insert({ ...base, idHash: hashLaunchId('sim'), simulateError: 'auth_access_denied' });
        await f.backend.launches.insert({ ...base, idHash: hashLaunchId('plain') });
        assert.equal((await f.backend.launches.find(1, hashLaunchId('sim'), now))?.simulateError, 'auth_access_denied');
        assert.equal((await f.backend.launches.find(1, hashLaunchId('plain'), now))?.simulateError, undefined);
      } finally {
        await f.close();
      }
    });

    test('bulk jobs: one active job per client and owner; claim, finish, purge', async () => {
      const f = await open();
      try {
        const jobs = f.backend.bulkJobs;
        const grant = { sandboxKey: 1, clientId: 'c', scope: 'system/*.rs', expiresAt: 0 } as never;
        const job = (id: string, clientId = 'c', owner = 'client') => ({ id, tenant: 1, clientId, owner, requestUrl: 'u', request: {} as never, grant, transactionTime: 1 });
        const results = await Promise.all([jobs.createUnlessActive(job('job-a-0123456789abcdef')), jobs.createUnlessActive(job('job-b-0123456789abcdef'))]);
        assert.equal(results.filter((r) => r.created).length, 1, 'concurrent kick-offs: exactly one wins');
        const refused = results.find((r) => !r.created) as { activeId: string };
        const winner = refused.activeId;
        assert.deepEqual(await jobs.createUnlessActive(job('job-d-0123456789abcdef', 'other')), { created: true }, 'another client is not blocked');
        // Two users of one (public) client each have their own one-job allowance.
        assert.deepEqual(await jobs.createUnlessActive(job('job-u1-0123456789abcdef', 'app', 'user:alice')), { created: true });
        assert.deepEqual(await jobs.createUnlessActive(job('job-u2-0123456789abcdef', 'app', 'user:bob')), { created: true }, 'another user of the same client is not blocked');
        assert.equal((await jobs.createUnlessActive(job('job-u3-0123456789abcdef', 'app', 'user:alice'))).created, false, 'the same user is');
        assert.equal((await jobs.get(1, 'job-u2-0123456789abcdef'))?.owner, 'user:bob');
        assert.equal(await jobs.claim(winner), true);
        assert.equal(await jobs.claim(winner), false);
        assert.equal((await jobs.get(1, winner))?.status, 'running');
        assert.equal(await jobs.finish(winner, { files: [], errors: [] }, 1000), true);
        assert.deepEqual(await jobs.createUnlessActive(job('job-c-0123456789abcdef')), { created: true }, 'free again once done');
        assert.equal((await jobs.unfinished()).length, 4);
        await jobs.purge(1);
        assert.deepEqual(await jobs.tenantJobs(1), []);
      } finally {
        await f.close();
      }
    });
  });
}
