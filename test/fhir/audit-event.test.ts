/**
 * The launch audit trail as FHIR R4 AuditEvent (issue #5): real services (launch registration,
 * SqliteAuditLog, FHIR store) over one SQLite file, the FHIR routes over app.inject with grants from a
 * Map-backed TokenVerifier. user/ and system/ grants see the trail; patient/ grants, patient personas
 * and the open base never do; every search parameter has a known answer; writes are refused.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { resolveConfig } from '../../src/config/config.js';
import { LAUNCH_HASH_SYSTEM } from '../../src/fhir/audit-events.js';
import { registerFhirRoutes } from '../../src/fhir/routes.js';
import { validateFull } from '../../src/fhir/validation.js';
import { installBodyParsers } from '../../src/http/body.js';
import { installErrorHandlers } from '../../src/http/errors.js';
import { createServices, type Services } from '../../src/services.js';
import type { Sandbox } from '../../src/storage/types.js';
import { MapVerifier, observation, patient } from './helpers.js';

const PUBLIC = 'http://audit.test';
const day = (d: number) => Date.UTC(2024, 0, d, 10, 0, 0);

describe('launch audit trail as AuditEvent', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-'));
  let services: Services;
  let app: FastifyInstance;
  let sb: Sandbox;
  let other: Sandbox;
  let launchId: string;
  const verifier = new MapVerifier();
  let n = 0;
  const token = (scope: string, extra: Record<string, unknown> = {}, s?: Sandbox) => {
    const t = `audit-tok-${++n}`;
    verifier.grants.set(t, { sandboxKey: (s ?? sb).key, clientId: 'c', scope, expiresAt: Math.floor(Date.now() / 1000) + 600, context: {}, ...extra });
    return t;
  };
  const get = async (url: string, t?: string, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' = 'GET', body?: unknown, contentType = 'application/fhir+json') => {
    const headers: Record<string, string> = {};
    if (t) headers.authorization = `Bearer ${t}`;
    if (body !== undefined) headers['content-type'] = contentType;
    const r = await app.inject({ method, url: url.startsWith('/') ? url : `/audit/data/${url}`, headers, payload: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
    return { status: r.statusCode, body: r.body, json: () => JSON.parse(r.body) };
  };
  let sys: string;
  /** Sequence ids (launch-N) of the matches, in the returned order. */
  const ids = async (query: string, t = sys) => {
    const r = await get(`AuditEvent${query}`, t);
    assert.equal(r.status, 200, r.body);
    return (r.json().entry ?? []).filter((e: any) => e.search.mode === 'match').map((e: any) => e.resource.id as string);
  };
  const seq: Record<string, string> = {};

  before(async () => {
    services = await createServices(resolveConfig({ dataDir: dir, publicUrl: PUBLIC, logLevel: 'silent', demo: false }));
    sb = (await services.tenants.create('audit', { openRead: true, openWrite: true }));
    other = (await services.tenants.create('other'));
    (await services.fhir.bulkLoad(sb.key, [patient('p1') as any, patient('p2') as any, observation('o1', 'p1') as any]));
    (await services.fhir.bulkLoad(other.key, [patient('p1') as any]));
    const rec = (r: Parameters<Services['audit']['record']>[0]) => services.audit.record(r);
    rec({ sandboxKey: sb.key, action: 'register', outcome: 'success', clientId: 'launcher', patient: 'p1', launchHash: 'h1', recordedAt: day(1) });
    rec({ sandboxKey: sb.key, action: 'authorize', outcome: 'failure', clientId: 'app-a', patient: 'p1', launchHash: 'h1', detail: 'launch expired', recordedAt: day(2) });
    rec({ sandboxKey: sb.key, action: 'token', outcome: 'success', clientId: 'app-a', username: 'dr-who', patient: 'p2', launchHash: 'h2', recordedAt: day(3) });
    rec({ sandboxKey: other.key, action: 'register', outcome: 'success', clientId: 'launcher', patient: 'p1', launchHash: 'hx', recordedAt: day(1) });
    // A real registration through the launch service (admin caller), audited with the hash of its id.
    launchId = (await services.launch.register(sb, { kind: 'admin', name: 'test-admin' }, { parameters: { patient: 'p2', need_patient_banner: false } })).launch_id;
    (await services.audit.flush());
    const all = (await services.audit.query(sb.key, { limit: 10 }));
    for (const r of all) seq[r.action === 'register' && r.clientId === 'test-admin' ? 'live' : `${r.action}`] = `launch-${r.seq}`;
    seq.foreign = `launch-${(await services.audit.query(other.key, {}))[0].seq}`;

    const config = resolveConfig({ dataDir: dir, publicUrl: PUBLIC, logLevel: 'silent' });
    app = Fastify({ logger: false });
    installBodyParsers(app);
    installErrorHandlers(app);
    await registerFhirRoutes(app, { config, tenants: services.tenants, fhir: services.fhir, verifier, auditEvents: services.audit });
    await app.ready();
    sys = token('system/AuditEvent.rs');
  });

  after(async () => {
    await app?.close();
    await services?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('system/ and user/ grants search and read valid R4 AuditEvents, newest first, hashed launch ids', async () => {
    const r = await get('AuditEvent', sys);
    assert.equal(r.status, 200, r.body);
    const b = r.json();
    assert.equal(b.resourceType, 'Bundle');
    assert.equal(b.total, 4);
    assert.deepEqual(
      b.entry.map((e: any) => e.resource.id),
      [seq.live, seq.token, seq.authorize, seq.register],
    );
    for (const e of b.entry) validateFull(e.resource);
    assert.ok(!r.body.includes(launchId), 'the launch id itself never appears');
    const live = b.entry[0].resource;
    assert.equal(live.type.code, '110100');
    assert.deepEqual(live.subtype[0], { system: 'urn:smart-sandbox:launch-event', code: 'register', display: 'Launch context registered' });
    assert.equal(live.outcome, '0');
    assert.deepEqual(live.agent[0].who.identifier, { system: `${PUBLIC}/audit/auth`, value: 'test-admin' });
    assert.equal(live.agent[0].requestor, true);
    assert.equal(live.source.observer.display, 'smart-sandbox');
    assert.deepEqual(live.entity[0].what, { reference: 'Patient/p2' });
    assert.equal(live.entity[1].what.identifier.system, LAUNCH_HASH_SYSTEM);
    assert.match(live.entity[1].what.identifier.value, /^[A-Za-z0-9_-]{43}$|^[0-9a-f]{64}$/);
    const failed = b.entry[2].resource;
    assert.equal(failed.outcome, '4');
    assert.equal(failed.outcomeDesc, 'launch expired');
    assert.equal(b.entry[1].resource.agent[1].name, 'dr-who');

    const read = await get(`AuditEvent/${seq.authorize}`, sys);
    assert.equal(read.status, 200);
    assert.equal(read.json().id, seq.authorize);
    assert.equal((await get('AuditEvent/launch-999999', sys)).status, 404);
    assert.equal((await get('AuditEvent/not-an-id', sys)).status, 404);
    assert.equal((await get(`AuditEvent/${seq.foreign}`, sys)).status, 404, "another sandbox's record");

    for (const scope of ['user/*.read', 'user/AuditEvent.rs', 'system/*.rs']) {
      assert.equal((await ids('', token(scope))).length, 4, scope);
      assert.equal((await get(`AuditEvent/${seq.token}`, token(scope))).status, 200, scope);
    }
  });

  test('patient/ grants, patient personas, restricted scopes and the open base never see them', async () => {
    const pat = token('launch/patient patient/*.rs', { patient: 'p1' });
    for (const t of [pat, token('patient/*.cruds', { patient: 'p1' }), token('user/*.read', { fhirUser: 'Patient/p1' }), token('user/Observation.rs'), token('system/AuditEvent.rs?outcome=0')]) {
      for (const url of ['AuditEvent', `AuditEvent/${seq.register}`, 'AuditEvent?patient=p1']) {
        const r = await get(url, t);
        assert.equal(r.status, 403, `${url}: ${r.body}`);
        assert.equal(r.json().resourceType, 'OperationOutcome');
      }
    }
    const everything = await get('Patient/p1/$everything', pat);
    assert.equal(everything.status, 200);
    assert.ok(!everything.body.includes('"AuditEvent"'));
    const rev = await get('Patient?_id=p1&_revinclude=AuditEvent:patient&_revinclude=AuditEvent:entity', pat);
    assert.equal(rev.status, 200, rev.body);
    assert.ok(!rev.body.includes('"AuditEvent"'));
    const compartment = await get('Patient/p1/AuditEvent', pat);
    assert.equal(compartment.status, 403);
    assert.equal((await get('AuditEvent')).status, 401, 'no token on /data');

    for (const url of ['/audit/open/AuditEvent', `/audit/open/AuditEvent/${seq.register}`]) {
      const r = await get(url);
      assert.equal(r.status, 403, r.body);
      assert.equal(r.json().resourceType, 'OperationOutcome');
    }
    const openCs = (await get('/audit/open/metadata')).json();
    assert.ok(!openCs.rest[0].resource.some((x: any) => x.type === 'AuditEvent'));
    const cs = (await get('/audit/data/metadata')).json();
    const ae = cs.rest[0].resource.find((x: any) => x.type === 'AuditEvent');
    assert.deepEqual(ae.interaction, [{ code: 'read' }, { code: 'search-type' }]);
    assert.deepEqual(
      ae.searchParam.map((p: any) => p.name),
      ['_id', 'date', 'agent', 'patient', 'entity', 'outcome'],
    );
  });

  test('search by date prefixes, agent, patient, entity, outcome, _id', async () => {
    assert.deepEqual(await ids('?date=2024-01-02'), [seq.authorize]);
    assert.deepEqual(await ids('?date=ge2024-01-02&date=le2024-01-03'), [seq.token, seq.authorize]);
    assert.deepEqual(await ids('?date=gt2024-01-02&date=lt2024-02'), [seq.token]);
    assert.deepEqual(await ids('?date=lt2024-01-02'), [seq.register]);
    assert.deepEqual(await ids('?date=2024-01'), [seq.token, seq.authorize, seq.register]);
    assert.deepEqual(await ids('?date=sa2024-01-02T10:00:00Z&date=eb2024-01-04'), [seq.token]);
    assert.deepEqual(await ids('?agent=app-a'), [seq.token, seq.authorize]);
    assert.deepEqual(await ids(`?agent:identifier=${encodeURIComponent(`${PUBLIC}/audit/auth|launcher`)}`), [seq.register]);
    assert.deepEqual(await ids('?agent:identifier=http://elsewhere|launcher'), []);
    assert.deepEqual(await ids('?patient=p1'), [seq.authorize, seq.register]);
    assert.deepEqual(await ids('?patient=Patient/p2&agent=app-a'), [seq.token]);
    assert.deepEqual(await ids(`?patient=${encodeURIComponent(`${PUBLIC}/audit/data/Patient/p2`)}`), [seq.live, seq.token]);
    assert.deepEqual(await ids('?entity=Patient/p1&outcome=0'), [seq.register]);
    assert.deepEqual(await ids('?entity=Practitioner/p1'), []);
    assert.deepEqual(await ids('?entity:identifier=h2'), [seq.token]);
    assert.deepEqual(await ids(`?entity:identifier=${encodeURIComponent(`${LAUNCH_HASH_SYSTEM}|h1`)}`), [seq.authorize, seq.register]);
    assert.deepEqual(await ids('?outcome=4'), [seq.authorize]);
    assert.deepEqual(await ids('?outcome=http://hl7.org/fhir/audit-event-outcome|4'), [seq.authorize]);
    assert.deepEqual(await ids('?outcome=8'), []);
    assert.equal((await ids('?outcome=0,4')).length, 4);
    assert.deepEqual(await ids(`?_id=${seq.register},${seq.token}`), [seq.token, seq.register]);
    assert.deepEqual(await ids(`?_id=${seq.register}&outcome=4`), []);
    assert.deepEqual(await ids('?patient=p1&patient=p2'), [], 'AND of two different patients');
    const post = await get('AuditEvent/_search', sys, 'POST', 'agent=app-a&outcome=0', 'application/x-www-form-urlencoded');
    assert.equal(post.status, 200, post.body);
    assert.deepEqual(
      post.json().entry.map((e: any) => e.resource.id),
      [seq.token],
    );
  });

  test('_count pages with next links; unknown parameters reported or refused; bad values 400', async () => {
    const seen: string[] = [];
    let url: string | undefined = 'AuditEvent?_count=1&outcome=0';
    let pages = 0;
    while (url && pages < 10) {
      const page: any = (await get(url, sys)).json();
      seen.push(...(page.entry ?? []).map((e: any) => e.resource.id));
      assert.equal(page.entry.length, 1);
      url = page.link.find((l: any) => l.relation === 'next')?.url?.replace(PUBLIC, '');
      pages++;
    }
    assert.deepEqual(seen, [seq.live, seq.token, seq.register]);
    const lenient = (await get('AuditEvent?foo=bar&agent=app-a', sys)).json();
    assert.equal(lenient.entry.filter((e: any) => e.search.mode === 'match').length, 2);
    assert.match(lenient.entry.find((e: any) => e.search.mode === 'outcome').resource.issue[0].diagnostics, /foo=bar/);
    const strict = await app.inject({ url: '/audit/data/AuditEvent?foo=bar', headers: { authorization: `Bearer ${sys}`, prefer: 'handling=strict' } });
    assert.equal(strict.statusCode, 400);
    for (const q of ['?date=2024-13', '?date=ne2024', '?outcome=3', '?_count=x', '?agent=a,b', '?entity=p1', '?agent:missing=true']) {
      const r = await get(`AuditEvent${q}`, sys);
      assert.equal(r.status, 400, `${q}: ${r.body}`);
      assert.equal(r.json().resourceType, 'OperationOutcome');
    }
  });

  test('writes are refused with 405 on every route, in bundles and in the bulk loader', async () => {
    const ae = { resourceType: 'AuditEvent', type: { code: '110100' }, recorded: '2024-01-01T00:00:00Z', agent: [{ requestor: true }], source: { observer: { display: 'x' } } };
    const all = token('system/*.cruds');
    for (const [method, url, body, ct] of [
      ['POST', 'AuditEvent', ae],
      ['PUT', `AuditEvent/${seq.register}`, { ...ae, id: seq.register }],
      ['PUT', 'AuditEvent?outcome=0', ae],
      ['DELETE', `AuditEvent/${seq.register}`],
      ['DELETE', 'AuditEvent?outcome=0'],
      ['PATCH', `AuditEvent/${seq.register}`, [{ op: 'remove', path: '/outcome' }], 'application/json-patch+json'],
      ['POST', '/audit/open/AuditEvent', ae],
    ] as const) {
      const r = await get(url, all, method, body, ct);
      assert.equal(r.status, 405, `${method} ${url}: ${r.body}`);
      assert.equal(r.json().resourceType, 'OperationOutcome');
    }
    const tx = await get('', all, 'POST', { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: ae, request: { method: 'POST', url: 'AuditEvent' } }] });
    assert.ok(tx.status >= 400 && tx.status < 500, tx.body);
    await assert.rejects(async () => ((await services.fhir.bulkLoad(sb.key, [{ ...ae, id: 'x' } as any]))), /read-only launch audit trail/);
    assert.equal((await ids('')).length, 4, 'nothing was added');
  });
});
