/** Unit tests: SMART scopes, the oidc-provider adapter, client and persona stores, the SSRF guard. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { errors } from '../../src/auth/oidc-provider.js';
import { addressProblem } from '../../src/auth/outbound.js';
import { allowedScopes, describeScope, parseScope, scopeAllowed } from '../../src/auth/scopes.js';
import { hashSecret, verifySecret } from '../../src/auth/secrets.js';
import { AuthInputError } from '../../src/auth/types.js';
import { SqliteClientStore } from '../../src/storage/sqlite/client-store.js';
import { oidcAdapter } from '../../src/auth/adapter.js';
import { OidcPayloadTable } from '../../src/storage/sqlite/oidc-adapter.js';
import { SqliteResourceStore } from '../../src/storage/sqlite/fhir/resource-store.js';
import { openMemorySqlite } from '../../src/storage/sqlite/open.js';
import { SqlitePersonaStore } from '../../src/storage/sqlite/persona-store.js';
import { resolveConfig } from '../../src/config/config.js';
import { FhirService } from '../../src/fhir/service.js';
import { demoResources } from './helpers/demo-resources.js';

describe('SMART scopes', () => {
  test('v1 and v2 syntax, granular restrictions, launch scopes with roles', () => {
    assert.deepEqual([...(parseScope('patient/Observation.read') as { perms: ReadonlySet<string> }).perms], ['r', 's']);
    assert.deepEqual([...(parseScope('user/*.write') as { perms: ReadonlySet<string> }).perms], ['c', 'u', 'd']);
    assert.equal((parseScope('patient/Observation.rs?category=http://x|laboratory') as { query: string }).query, 'category=http://x|laboratory');
    assert.equal(parseScope('patient/Observation.dus'), undefined, 'letters out of order');
    assert.equal(parseScope('patient/observation.rs'), undefined);
    assert.equal(parseScope('admin/*.rs'), undefined);
    assert.deepEqual(parseScope('launch/questionnaire?role=http://example.org/role'), { kind: 'launch', type: 'questionnaire', role: 'http://example.org/role', raw: 'launch/questionnaire?role=http://example.org/role' });
    assert.equal(parseScope('launch?role=x'), undefined);
  });

  test('allow-list: wildcards, permission subsets, restrictions, restricted scopes', () => {
    const allow = ['patient/*.*', 'user/Observation.rs', 'launch/patient', 'launch/questionnaire', 'openid'];
    assert.ok(scopeAllowed('patient/Observation.rs?category=laboratory', allow));
    assert.ok(scopeAllowed('patient/Patient.read', allow));
    assert.ok(scopeAllowed('user/Observation.r', allow));
    assert.ok(!scopeAllowed('user/Observation.c', allow));
    assert.ok(!scopeAllowed('user/Patient.rs', allow));
    assert.ok(!scopeAllowed('system/*.rs', allow), 'system only when registered');
    assert.ok(!scopeAllowed('smart/orchestrate_launch', allow), 'restricted only when registered');
    assert.ok(scopeAllowed('launch/questionnaire?role=http://x', allow));
    assert.ok(!scopeAllowed('fhirUser', allow));
    assert.ok(!scopeAllowed('patient/Observation.rs', ['patient/Observation.rs?category=laboratory']));
    assert.deepEqual(allowedScopes('openid fhirUser patient/Patient.rs bogus patient/Patient.rs', allow.join(' ')), ['openid', 'patient/Patient.rs']);
  });

  test('plain-language descriptions', () => {
    assert.equal(describeScope('patient/Observation.rs'), 'read, search Observation records of the patient in context');
    assert.match(describeScope('offline_access'), /refresh token/);
  });
});

describe('secrets', () => {
  test('scrypt hash verifies the right secret only; malformed hashes fail closed', async () => {
    const h = hashSecret('s3cret!');
    assert.ok(await verifySecret(h, 's3cret!'));
    assert.ok(!(await verifySecret(h, 's3cret')));
    assert.ok(!(await verifySecret('plain', 'plain')));
    assert.ok(!(await verifySecret(h, undefined)));
  });
});

describe('oidc adapter', () => {
  test('tenant isolation, TTL, atomic consume with grant revocation, jti replay', async () => {
    const db = openMemorySqlite();
    const table = new OidcPayloadTable(db);
    const A = oidcAdapter(table, 1, { find: async () => undefined });
    const B = oidcAdapter(table, 2, { find: async () => undefined });
    const codeA = new A('AuthorizationCode');
    await codeA.upsert('c1', { grantId: 'g1', clientId: 'app', accountId: 'doc' }, 60);
    await new A('AccessToken').upsert('t1', { grantId: 'g1', clientId: 'app' }, 60);
    assert.equal(await new B('AuthorizationCode').find('c1'), undefined, 'other tenant sees nothing');
    assert.equal((await codeA.find('c1'))?.grantId, 'g1');
    await codeA.consume('c1');
    assert.ok((await codeA.find('c1'))?.consumed);
    await assert.rejects(codeA.consume('c1'), errors.InvalidGrant);
    assert.equal(await new A('AccessToken').find('t1'), undefined, 'a second consume revokes the grant');

    await codeA.upsert('short', { clientId: 'app' }, 1);
    db.prepare('UPDATE oidc_payload SET expires_at = 1 WHERE id = ?').run('short');
    assert.equal(await codeA.find('short'), undefined, 'expired rows are invisible');
    assert.equal(await table.purgeExpired(), 1);

    const replay = new A('ReplayDetection');
    await replay.upsert('jti1', { iss: 'svc' }, 60);
    await assert.rejects(replay.upsert('jti1', { iss: 'svc' }, 60), errors.InvalidClientAuth);
    await new B('ReplayDetection').upsert('jti1', { iss: 'svc' }, 60);
    db.close();
  });
});

describe('client and persona stores', () => {
  const setup = async () => {
    const db = openMemorySqlite();
    const fhir = new FhirService({ store: new SqliteResourceStore(db), config: resolveConfig({ logLevel: 'silent' }) });
    const key = (id: string) => (db.prepare('INSERT INTO sandbox (id, name, created_at) VALUES (?, ?, ?)').run(id, id, Date.now()).lastInsertRowid as number);
    assert.equal(key('one'), 1);
    assert.equal(key('two'), 2);
    (await fhir.bulkLoad(1, demoResources()));
    return { db, clients: new SqliteClientStore(db), personas: new SqlitePersonaStore(db, fhir) };
  };

  test('client add: kinds, generated secret shown once and stored hashed, validation, remove', async () => {
    const { db, clients } = await setup();
    const r = (await clients.add(1, { clientId: 'conf', redirectUris: ['https://app.example/cb'] }));
    assert.equal(r.client.authMethod, 'client_secret_basic');
    assert.ok(r.generatedSecret && r.generatedSecret.length >= 40);
    const stored = db.prepare('SELECT secret_hash FROM auth_client WHERE client_id = ?').get('conf') as { secret_hash: string };
    assert.match(stored.secret_hash, /^scrypt\$/);
    assert.ok(!stored.secret_hash.includes(r.generatedSecret as string));
    assert.equal((await clients.add(1, { clientId: 'given', secret: 'my-secret-1', redirectUris: ['https://a.example/cb'] })).generatedSecret, undefined);
    const bad: [string, object][] = [
      ['bad id', { clientId: 'a b', public: true, redirectUris: ['https://a/cb'] }],
      ['two kinds', { clientId: 'x', public: true, secret: 'abcdefgh', redirectUris: ['https://a/cb'] }],
      ['no redirect', { clientId: 'x', public: true }],
      ['fragment', { clientId: 'x', public: true, redirectUris: ['https://a/cb#f'] }],
      ['public cc', { clientId: 'x', public: true, grantTypes: ['client_credentials'] }],
      ['bad scope', { clientId: 'x', public: true, redirectUris: ['https://a/cb'], scope: 'everything' }],
      ['private jwk', { clientId: 'x', jwks: { keys: [{ kty: 'EC', kid: 'k', d: 'secret' }] } }],
    ];
    for (const [why, o] of bad) await assert.rejects(async () => ((await clients.add(1, o as never))), AuthInputError, why);
    await assert.rejects(async () => ((await clients.add(1, { clientId: 'conf', public: true, redirectUris: ['https://a/cb'] }))), /already exists/);
    assert.equal((await clients.list(1)).length, 2);
    assert.equal((await clients.list(2)).length, 0);
    assert.equal((await clients.remove(1, 'conf')), true);
    assert.equal((await clients.remove(1, 'conf')), false);
    db.close();
  });

  test('persona add: refuses "none", unknown resources; checks passwords; demo passwords only when flagged', async () => {
    const { db, personas } = await setup();
    await assert.rejects(async () => ((await personas.add(1, { username: 'none', password: 'abcd', resource: 'Practitioner/DOC1' }))), /none/);
    await assert.rejects(async () => ((await personas.add(1, { username: 'NONE', password: 'abcd', resource: 'Practitioner/DOC1' }))), /none/);
    await assert.rejects(async () => ((await personas.add(1, { username: 'ghost', password: 'abcd', resource: 'Practitioner/NOPE' }))), /does not exist/);
    await assert.rejects(async () => ((await personas.add(2, { username: 'x', password: 'abcd', resource: 'Practitioner/DOC1' }))), /does not exist/, 'other sandbox');
    await assert.rejects(async () => ((await personas.add(1, { username: 'x', password: 'abcd', resource: 'Observation/1' }))), AuthInputError);
    const { persona } = (await personas.add(1, { username: 'doc', password: 'pw-1234', resource: 'Practitioner/DOC1' }));
    assert.equal(persona.name, 'Dana Doctor');
    assert.equal((await personas.checkPassword(1, 'doc', 'pw-1234'))?.username, 'doc');
    assert.equal(await personas.checkPassword(1, 'doc', 'wrong'), undefined);
    assert.equal(await personas.checkPassword(1, 'nobody', 'pw-1234'), undefined);
    const gen = (await personas.add(1, { username: 'gen', resource: 'Patient/BILIBABY' }));
    assert.ok(gen.generatedPassword);
    assert.equal((await personas.list(1)).find((p) => p.username === 'gen')?.demoPassword, undefined, 'not a demo persona');
    const demo = (await personas.add(1, { username: 'demo', resource: 'Patient/BILIBABY' }, { demo: true }));
    assert.equal((await personas.list(1)).find((p) => p.username === 'demo')?.demoPassword, demo.generatedPassword);
    db.close();
  });
});

describe('outbound SSRF guard', () => {
  test('loopback allowed; private, link-local, metadata and unique-local refused', () => {
    for (const ok of ['127.0.0.1', '::1', '8.8.8.8', '2606:4700::1111']) assert.equal(addressProblem(ok), undefined, ok);
    for (const bad of ['10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '0.0.0.0', 'fd00:ec2::254', 'fe80::1', '::ffff:10.0.0.1', '::'])
      assert.ok(addressProblem(bad), bad);
  });
});
