/**
 * Hostile token requests over real HTTP: refresh-token replay by a public client that does not name
 * itself (as fhirclient refreshes), and launch parameters whose names are JavaScript object keys.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DOC, authorize, exchange, seedBasics } from './helpers/flows.js';
import { basic, type Harness, postForm, startHarness } from './helpers/harness.js';

describe('refresh token reuse and prototype-like context keys', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    await seedBasics(h);
  });
  after(() => h.close());

  test('RFC 9700 §4.14.2: a replayed refresh token without client_id revokes the whole family', async () => {
    const r = await authorize(h, { clientId: 'app', scope: 'launch/patient offline_access patient/*.rs', login: DOC, patient: 'BILIBABY' });
    const t = await exchange(h, r.url.searchParams.get('code') as string, r.verifier, { client_id: 'app' });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    const stolen = String(t.body.refresh_token);

    // The thief refreshes first, without client_id (public client, fhirclient style): rotated.
    const thief = await postForm(h.urls.token, { grant_type: 'refresh_token', refresh_token: stolen });
    assert.equal(thief.status, 200, JSON.stringify(thief.body));
    const thiefRefresh = String(thief.body.refresh_token);
    const thiefAccess = String(thief.body.access_token);
    assert.notEqual(thiefRefresh, stolen);
    assert.ok(await h.auth.verifier.verify(h.sandbox, thiefAccess));

    // The legitimate app replays the (now consumed) token, also without client_id.
    const replay = await postForm(h.urls.token, { grant_type: 'refresh_token', refresh_token: stolen });
    assert.equal(replay.status, 400);
    assert.equal(replay.body.error, 'invalid_grant');

    // The whole family is revoked: the thief's rotated refresh token and its access token are dead.
    const after1 = await postForm(h.urls.token, { grant_type: 'refresh_token', refresh_token: thiefRefresh });
    assert.equal(after1.status, 400, JSON.stringify(after1.body));
    assert.equal(after1.body.error, 'invalid_grant');
    assert.equal(await h.auth.verifier.verify(h.sandbox, thiefAccess), undefined);
  });

  test('launch parameters named constructor, toString, __proto__ are plain data in the token response', async () => {
    const parameters = JSON.parse('{"constructor":"c","toString":{"x":1},"__proto__":{"polluted":true},"hasOwnProperty":2,"valueOf":[1]}');
    const launch = await h.launch({ parameters, clientIds: ['app'] });
    const r = await authorize(h, { clientId: 'app', scope: 'launch patient/*.rs', launch, login: DOC, patient: 'BILIBABY' });
    const t = await exchange(h, r.url.searchParams.get('code') as string, r.verifier, { client_id: 'app' });
    assert.equal(t.status, 200, JSON.stringify(t.body));
    assert.equal(t.body.constructor, 'c');
    assert.deepEqual(t.body.toString, { x: 1 });
    assert.equal(t.body.hasOwnProperty, 2);
    assert.deepEqual(t.body.valueOf, [1]);
    assert.ok(Object.hasOwn(t.body, '__proto__'), '__proto__ travels as an own key');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    // The resource server and introspection see the same names.
    const grant = await h.auth.verifier.verify(h.sandbox, String(t.body.access_token));
    assert.equal(grant?.context.constructor, 'c');
    assert.deepEqual(grant?.context.toString, { x: 1 });
    const conf = await h.auth.clients.add(h.sandbox.key, { clientId: 'proto-introspector', redirectUris: ['http://127.0.0.1:9/cb'] });
    const i = await postForm(h.urls.introspect, { token: String(t.body.access_token) }, { authorization: basic('proto-introspector', String(conf.generatedSecret)) });
    assert.equal(i.status, 200);
    assert.equal(i.body.active, true);
    assert.equal(i.body.constructor, 'c');
    assert.equal(i.body.hasOwnProperty, 2);
    assert.ok(!Object.keys(i.body).some((k) => k.startsWith('smart_key:')), 'no escaped names leave the server');
  });
});
