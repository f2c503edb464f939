/**
 * One SMART scope grammar (src/smart/scopes.ts), read the same by every side. For each scope string of
 * a corpus (valid and invalid, v1 and v2, restrictions, wildcards, odd whitespace and case, unknown
 * resource types) the test asserts what the grammar reads, then that
 * - the authorization server grants it (to a client registered with every scope) exactly when valid,
 *   and client registration accepts it exactly when valid;
 * - the FHIR access policy derives from a token granted that scope exactly the permissions, on exactly
 *   the types, with exactly the restriction the grammar read — and nothing from an invalid scope;
 * - launch registration sees `smart/orchestrate_launch` only when it is that exact scope.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { allowedScopes, describeScope } from '../../src/auth/scopes.js';
import { AccessPolicy } from '../../src/fhir/access/policy.js';
import type { TokenGrant } from '../../src/fhir/access/types.js';
import { hasScope, ORCHESTRATE_LAUNCH, PERMS, type Perm, parseScope, parseScopes } from '../../src/smart/scopes.js';
import { SqliteClientStore } from '../../src/storage/sqlite/client-store.js';
import { openMemorySqlite } from '../../src/storage/sqlite/open.js';

type Expected =
  | null
  | { kind: 'resource'; context: 'patient' | 'user' | 'system'; type: string; perms: string; query?: string; version: 'v1' | 'v2' }
  | { kind: 'launch'; type?: string; role?: string }
  | { kind: 'identity' | 'refresh' | 'restricted'; name: string };

const R = (context: 'patient' | 'user' | 'system', type: string, perms: string, version: 'v1' | 'v2', query?: string): Expected => ({
  kind: 'resource',
  context,
  type,
  perms,
  version,
  ...(query !== undefined ? { query } : {}),
});

/** [scope token, what it means (null: not a scope)]. */
const CORPUS: [string, Expected][] = [
  // v2 permission sets
  ['patient/Observation.rs', R('patient', 'Observation', 'rs', 'v2')],
  ['patient/Observation.cruds', R('patient', 'Observation', 'cruds', 'v2')],
  ['user/Patient.r', R('user', 'Patient', 'r', 'v2')],
  ['user/Encounter.cu', R('user', 'Encounter', 'cu', 'v2')],
  ['system/*.rs', R('system', '*', 'rs', 'v2')],
  ['patient/*.d', R('patient', '*', 'd', 'v2')],
  // v1 suffixes (read → rs, write → cud, * → cruds)
  ['patient/Observation.read', R('patient', 'Observation', 'rs', 'v1')],
  ['user/*.write', R('user', '*', 'cud', 'v1')],
  ['user/*.*', R('user', '*', 'cruds', 'v1')],
  ['system/Patient.read', R('system', 'Patient', 'rs', 'v1')],
  // restrictions (SMART 2.2 §"Finer-grained resource constraints using search parameters")
  ['patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory', R('patient', 'Observation', 'rs', 'v2', 'category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory')],
  ['user/Observation.rs?category=vital-signs&status=final', R('user', 'Observation', 'rs', 'v2', 'category=vital-signs&status=final')],
  ['patient/Observation.read?category=laboratory', R('patient', 'Observation', 'rs', 'v1', 'category=laboratory')],
  ['patient/Observation.rs?', null],
  ['patient/Observation.rs?category', null],
  ['patient/Observation.rs?category=', null],
  ['patient/Observation.rs?=laboratory', null],
  ['patient/Observation.rs?category=laboratory&', null],
  // unknown but well-formed resource types: valid scopes that grant nothing real (the two parsers disagreed on `A`)
  ['patient/A.rs', R('patient', 'A', 'rs', 'v2')],
  ['user/NotAResource.rs', R('user', 'NotAResource', 'rs', 'v2')],
  // malformed resource scopes
  ['patient/Observation.dus', null],
  ['patient/Observation.sr', null],
  ['patient/Observation.rr', null],
  ['patient/Observation.', null],
  ['patient/Observation', null],
  ['patient/Observation.x', null],
  ['patient/Observation.readwrite', null],
  ['patient/*', null],
  ['patient/.rs', null],
  ['patient/Obs3rvation.rs', null],
  ['patient/Observation.rs.rs', null],
  ['admin/*.rs', null],
  ['*/Observation.rs', null],
  [`patient/${'A'.repeat(65)}.rs`, null],
  // case matters
  ['Patient/Observation.rs', null],
  ['patient/observation.rs', null],
  ['patient/Observation.RS', null],
  ['patient/Observation.Read', null],
  ['OpenID', null],
  ['LAUNCH', null],
  // characters outside RFC 6749 §3.3 scope-token
  ['patient/Observation.rs\tpatient/Patient.rs', null],
  ['patient/Observation.rs\n', null],
  ['patient/Observation.rs?code="x"', null],
  ['patient/Observation.rs?code=é', null],
  // launch context
  ['launch', { kind: 'launch' }],
  ['launch/patient', { kind: 'launch', type: 'patient' }],
  ['launch/encounter', { kind: 'launch', type: 'encounter' }],
  ['launch/questionnaire?role=http://example.org/role', { kind: 'launch', type: 'questionnaire', role: 'http://example.org/role' }],
  ['launch?role=x', null],
  ['launch/Patient', null],
  ['launch/', null],
  // identity, refresh, restricted
  ['openid', { kind: 'identity', name: 'openid' }],
  ['fhirUser', { kind: 'identity', name: 'fhirUser' }],
  ['profile', { kind: 'identity', name: 'profile' }],
  ['offline_access', { kind: 'identity', name: 'offline_access' }],
  ['online_access', { kind: 'refresh', name: 'online_access' }],
  ['smart/orchestrate_launch', { kind: 'restricted', name: 'smart/orchestrate_launch' }],
  ['smart/orchestrate_launch?x=1', null],
  ['smart/other', null],
  ['fhiruser', null],
  ['email', null],
];

/** A client registered with every kind of scope: the auth server grants whatever the grammar reads as valid. */
const EVERYTHING = [
  'patient/*.cruds',
  'user/*.cruds',
  'system/*.cruds',
  'launch',
  'launch/patient',
  'launch/encounter',
  'launch/questionnaire',
  'openid',
  'fhirUser',
  'profile',
  'offline_access',
  'online_access',
  'smart/orchestrate_launch',
].join(' ');

const PROBE_TYPES = ['Observation', 'Patient', 'Encounter', 'A', 'NotAResource'];

function grantOf(scope: string): TokenGrant {
  return { sandboxKey: 1, clientId: 'app', scope, sub: 'doc', fhirUser: 'Practitioner/doc', patient: 'p1', expiresAt: 2e9, context: {} };
}

/** What the FHIR access policy lets a token with `scope` do: type → op → restriction (or 'all'). */
function fhirReading(scope: string, types: string[]): Map<string, Map<Perm, string>> {
  const policy = new AccessPolicy({ kind: 'token', grant: grantOf(scope) });
  const out = new Map<string, Map<Perm, string>>();
  for (const type of types) {
    const ops = new Map<Perm, string>();
    for (const op of PERMS) {
      const c = policy.tryConstraint(type, op);
      if (c === undefined) continue;
      ops.set(op, c === 'all' ? 'all' : c.map((a) => a.query?.toString() ?? '').join(' | '));
    }
    if (ops.size) out.set(type, ops);
  }
  return out;
}

function grammarReading(scope: string): Expected {
  const p = parseScope(scope);
  if (!p) return null;
  if (p.kind === 'resource') {
    return R(p.context, p.type, PERMS.filter((x) => p.perms.has(x)).join(''), p.version, p.query);
  }
  if (p.kind === 'launch') return { kind: 'launch', ...(p.type !== undefined ? { type: p.type } : {}), ...(p.role !== undefined ? { role: p.role } : {}) };
  return { kind: p.kind, name: p.name };
}

describe('the SMART scope grammar, read the same by the authorization server, the FHIR server and launch registration', () => {
  const db = openMemorySqlite();
  db.prepare('INSERT INTO sandbox (id, name, created_at) VALUES (?, ?, ?)').run('s', 's', Date.now());
  const clients = new SqliteClientStore(db);
  let n = 0;

  for (const [scope, expected] of CORPUS) {
    test(`${JSON.stringify(scope)} is ${expected === null ? 'not a scope' : `${expected.kind}`}`, async () => {
      assert.deepEqual(grammarReading(scope), expected, 'the grammar');

      // Authorization server: granted (to a client registered with everything) exactly when valid.
      assert.deepEqual(allowedScopes(scope, EVERYTHING), expected === null ? [] : [scope], 'authorization server grant');
      // Client registration accepts exactly the valid scopes.
      const registered = await clients.add(1, { clientId: `c${n++}`, public: true, redirectUris: ['https://app.example/cb'], scope }).then(
        () => true,
        () => false,
      );
      assert.equal(registered, expected !== null, 'client registration');

      // FHIR server: what a token granted this scope may do.
      const types = expected?.kind === 'resource' && expected.type !== '*' ? [expected.type] : PROBE_TYPES;
      const fhir = fhirReading(scope, expected?.kind === 'resource' ? types : PROBE_TYPES);
      if (expected?.kind !== 'resource') {
        assert.equal(fhir.size, 0, 'no FHIR right from a scope that is not a valid resource scope');
      } else {
        const e = expected;
        for (const type of types) {
          const ops = fhir.get(type) ?? new Map();
          // Under patient/ scopes, types outside the Patient compartment are readable, never writable (policy rule).
          const writable: boolean = e.context !== 'patient' || ['Observation', 'Patient', 'Encounter'].includes(type);
          const want: string = [...e.perms].filter((p) => writable || p === 'r' || p === 's').join('');
          assert.equal(PERMS.filter((p) => ops.has(p)).join(''), want, `FHIR permissions on ${type}`);
          const restriction: string | undefined = e.query === undefined ? undefined : new URLSearchParams(e.query).toString();
          for (const [op, r] of ops) {
            if (restriction !== undefined) assert.equal(r, restriction, `FHIR restriction of ${op} on ${type}`);
            else if (e.context !== 'patient') assert.equal(r, 'all', `${op} on ${type} unrestricted`);
          }
        }
      }

      // Launch registration: orchestration only for that exact scope.
      assert.equal(hasScope(scope, ORCHESTRATE_LAUNCH), expected?.kind === 'restricted', 'launch registration');
      // The consent page describes valid scopes in words, and shows invalid ones as written.
      if (expected === null) assert.equal(describeScope(scope), scope);
      else assert.notEqual(describeScope(scope), scope);
    });
  }

  test('a scope string: space-separated tokens (RFC 6749 §3.3), extra spaces ignored, other whitespace never splits', () => {
    const s = '  patient/Observation.rs   openid\tpatient/Patient.rs  launch ';
    assert.deepEqual(
      parseScopes(s).map((p) => p.raw),
      ['patient/Observation.rs', 'launch'],
      '`openid\\tpatient/Patient.rs` is one invalid token',
    );
    assert.deepEqual(allowedScopes(s, EVERYTHING), ['patient/Observation.rs', 'launch']);
    const fhir = fhirReading(s, ['Observation', 'Patient']);
    assert.deepEqual([...fhir.keys()], ['Observation'], 'the FHIR server reads the same tokens');
    assert.equal(hasScope('openid smart/orchestrate_launch', ORCHESTRATE_LAUNCH), true);
    assert.equal(hasScope('openid\tsmart/orchestrate_launch', ORCHESTRATE_LAUNCH), false);
  });

  test('the auth server only grants within the registration; the FHIR server ANDs restrictions with the compartment', () => {
    assert.deepEqual(allowedScopes('patient/Observation.rs user/Observation.rs system/*.rs', 'patient/*.rs'), ['patient/Observation.rs']);
    const policy = new AccessPolicy({ kind: 'token', grant: grantOf('patient/Observation.rs?category=laboratory') });
    const c = policy.constraint('Observation', 's');
    assert.notEqual(c, 'all');
    assert.deepEqual(
      (c as { patient?: string; query?: URLSearchParams }[]).map((a) => ({ patient: a.patient, query: a.query?.toString() })),
      [{ patient: 'p1', query: 'category=laboratory' }],
    );
  });
});
