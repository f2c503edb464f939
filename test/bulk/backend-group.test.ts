/**
 * Issue 8 "done when": a backend-services client authenticated with an ES384 private_key_jwt
 * (SMART Backend Services) performs a full Group export end to end — token, kick-off, poll, download,
 * verify — against the demo sandbox's Group of all 25 demo patients.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { type BulkServer, download, kickOff, type Manifest, poll, startBulkServer } from './helpers.js';

let s: BulkServer;
before(async () => {
  s = await startBulkServer();
});
after(() => s.close());

test('ES384 private_key_jwt backend client: full Group/demo-patients export', async () => {
  const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid: 'bulk-es384', alg: 'ES384' };
  await s.services.auth.clients.add(s.sandbox.key, { clientId: 'bulk-backend', jwks: { keys: [publicJwk] }, grantTypes: ['client_credentials'], scope: 'system/*.rs' });

  // Discovery names the token endpoint and the operations.
  const smart = await (await fetch(`${s.urls.iss}/.well-known/smart-configuration`)).json();
  assert.ok(smart.bulk_data_export_endpoints.includes(`${s.urls.iss}/Group/{id}/$export`));
  const cs = await (await fetch(`${s.urls.iss}/metadata`)).json();
  assert.deepEqual(cs.rest[0].operation, [{ name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export' }]);
  const groupOps = cs.rest[0].resource.find((r: any) => r.type === 'Group').operation;
  assert.ok(groupOps.some((o: any) => o.name === 'export' && o.definition === 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export'));
  const assertion = await new SignJWT({ jti: crypto.randomBytes(16).toString('hex') })
    .setProtectedHeader({ alg: 'ES384', kid: 'bulk-es384', typ: 'JWT' })
    .setIssuer('bulk-backend')
    .setSubject('bulk-backend')
    .setAudience(smart.token_endpoint)
    .setExpirationTime(Math.floor(Date.now() / 1000) + 120)
    .sign(privateKey);
  const tr = await fetch(smart.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      scope: 'system/*.rs',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    }),
  });
  const tokenBody = await tr.json();
  assert.equal(tr.status, 200, JSON.stringify(tokenBody));
  const token = tokenBody.access_token as string;

  const k = await kickOff(`${s.urls.iss}/Group/demo-patients/$export`, token);
  assert.equal(k.status, 202);
  const statusUrl = k.headers.get('content-location')!;
  assert.ok(statusUrl.startsWith(`${s.urls.iss}/$export-status/`));
  const done = await poll(statusUrl, token);
  assert.equal(done.status, 200, JSON.stringify(done.body));
  const manifest = done.body as Manifest;
  assert.equal(manifest.requiresAccessToken, true);
  assert.equal(manifest.request, `${s.urls.iss}/Group/demo-patients/$export`);

  const files = await download(manifest, token);
  // Expected: every resource in the members' compartments, from the store itself.
  const all: any[] = [];
  for await (const r of s.services.fhir.exportAll(s.sandbox.key)) all.push(r);
  const group = all.find((r) => r.resourceType === 'Group' && r.id === 'demo-patients');
  const members = new Set<string>(group.member.map((m: any) => m.entity.reference));
  assert.equal(members.size, 25);
  assert.deepEqual(
    files
      .get('Patient')!
      .map((p) => `Patient/${p.id}`)
      .sort(),
    [...members].sort(),
  );
  for (const type of ['Observation', 'Condition', 'Encounter', 'Immunization', 'MedicationRequest']) {
    const expected = all
      .filter((r) => r.resourceType === type && members.has((r.subject ?? r.patient)?.reference))
      .map((r) => r.id)
      .sort();
    assert.ok(expected.length > 0, type);
    assert.deepEqual((files.get(type) ?? []).map((r) => r.id).sort(), expected, type);
    assert.equal(manifest.output.find((o) => o.type === type)?.count, expected.length);
  }
  // Outside the compartment (Practitioner, Organization, Medication) is not part of a Group export.
  assert.equal(files.has('Practitioner'), false);
});
