/**
 * Console admin API requests for fuzzing (src/console/api.ts, docs/console.md): every route with
 * random ids and JSON bodies whose members are the ones the API reads, in the wrong types, plus
 * prototype-ish keys. Sandbox ids never name `demo`: the launch properties of the same server need it.
 */
import fc from 'fast-check';
import { anyJson, enc, type J, lit, nastyString, obj, render } from './json.js';

const KEYS = [
  'id',
  'name',
  'data',
  'open',
  'openWrite',
  'openRegistration',
  'clientId',
  'client_id',
  'public',
  'secret',
  'secretMethod',
  'redirectUris',
  'launchUri',
  'scope',
  'grantTypes',
  'pkce',
  'consent',
  'mayRegisterLaunches',
  'jwksUrl',
  'jwks',
  'username',
  'password',
  'resource',
  'description',
  'parameters',
  'manifest',
  'manifest_url',
];
const MANIFEST_KEYS = ['client_name', 'redirect_uris', 'scope', 'initiate_login_uri', 'launch_url', 'token_endpoint_auth_method', 'grant_types', 'jwks', 'jwks_uri', 'software_id', 'client_id'];

const sandboxId = fc.oneof(
  { weight: 6, arbitrary: fc.constant('fz') },
  { weight: 2, arbitrary: fc.constantFrom('nope', 'FZ', 'api', 'console', '..', '%2e%2e', '%zz', 'a'.repeat(300), '__proto__', 'constructor') },
  { weight: 1, arbitrary: nastyString.filter((s) => s !== 'demo').map(enc) },
);
const part = fc.oneof(fc.constantFrom('bilirubin_chart', 'practitioner', 'BILIBABY', '1', '0', '99999999999999', '-1', 'x', '%zz', 'constructor'), nastyString.map(enc));

const value = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .constantFrom(
        'demo',
        'empty',
        'synthetic:3',
        'synthetic:5001',
        'synthetic:-1',
        'synthetic:1e9',
        'fz2',
        'http://127.0.0.1:1/cb',
        'http://127.0.0.1:1/manifest.json',
        'file:///etc/passwd',
        'required',
        'if-sent',
        'prompt',
        'skip',
        'client_credentials',
        'Practitioner/demo-practitioner-01',
        'Patient/BILIBABY',
        'system/*.rs',
      )
      .map((v) => lit(v)),
  },
  { weight: 2, arbitrary: anyJson(fc.constantFrom(...KEYS, ...MANIFEST_KEYS), 3) },
);

const body = fc.array(fc.tuple(fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...KEYS) }, { weight: 1, arbitrary: fc.string({ maxLength: 8 }) }), value), { maxLength: 6 }).map((pairs) => obj(...pairs));

export interface ConsoleReq {
  method: string;
  path: string;
  body?: J;
  /** Sent with the admin bearer token (else: none, or a wrong one). */
  auth: 'admin' | 'none' | 'wrong';
}

const route = fc.oneof(
  fc.constant({ method: 'POST', path: () => '/api/sandboxes', body: true }),
  fc.constant({ method: 'PATCH', path: (id: string) => `/api/sandboxes/${id}`, body: true }),
  fc.constant({ method: 'POST', path: (id: string) => `/api/sandboxes/${id}/reset`, body: true }),
  fc.constant({ method: 'DELETE', path: (id: string) => `/api/sandboxes/${id}`, body: false }),
  fc.constant({ method: 'GET', path: (id: string) => `/api/sandboxes/${id}`, body: false }),
  fc.constant({ method: 'GET', path: (id: string, p: string) => `/api/sandboxes/${id}/patients?name=${p}&page=${p}&count=${p}`, body: false }),
  fc.constant({ method: 'GET', path: (id: string, p: string) => `/api/sandboxes/${id}/patients/${p}`, body: false }),
  fc.constant({ method: 'GET', path: (id: string) => `/api/sandboxes/${id}/export`, body: false }),
  fc.constant({ method: 'POST', path: (id: string) => `/api/sandboxes/${id}/apps`, body: true }),
  fc.constant({ method: 'POST', path: (id: string) => `/api/sandboxes/${id}/apps/manifest`, body: true }),
  fc.constant({ method: 'PUT', path: (id: string, p: string) => `/api/sandboxes/${id}/apps/${p}`, body: true }),
  fc.constant({ method: 'DELETE', path: (id: string, p: string) => `/api/sandboxes/${id}/apps/${p}`, body: false }),
  fc.constant({ method: 'POST', path: (id: string) => `/api/sandboxes/${id}/personas`, body: true }),
  fc.constant({ method: 'DELETE', path: (id: string, p: string) => `/api/sandboxes/${id}/personas/${p}`, body: false }),
  fc.constant({ method: 'POST', path: (id: string) => `/api/sandboxes/${id}/launches`, body: true }),
  fc.constant({ method: 'GET', path: (id: string, p: string) => `/api/sandboxes/${id}/launches?limit=${p}`, body: false }),
  fc.constant({ method: 'POST', path: (id: string) => `/api/sandboxes/${id}/scenarios`, body: true }),
  fc.constant({ method: 'DELETE', path: (id: string, p: string) => `/api/sandboxes/${id}/scenarios/${p}`, body: false }),
  fc.constant({ method: 'POST', path: (id: string, p: string) => `/api/sandboxes/${id}/scenarios/${p}/launch`, body: false }),
);

export const consoleRequest: fc.Arbitrary<ConsoleReq> = fc
  .record({
    route,
    id: sandboxId,
    p: part,
    body: fc.oneof({ weight: 5, arbitrary: body }, { weight: 1, arbitrary: anyJson(fc.constantFrom(...KEYS), 3) }),
    manifest: fc.array(fc.tuple(fc.constantFrom(...MANIFEST_KEYS), value), { maxLength: 6 }).map((pairs) => obj(...pairs)),
    auth: fc.constantFrom<ConsoleReq['auth']>('admin', 'admin', 'admin', 'admin', 'admin', 'none', 'wrong'),
  })
  .map(({ route, id, p, body, manifest, auth }): ConsoleReq => {
    const path = route.path(id, p);
    // The manifest route reads {manifest:{…}}: give it a fuzzed manifest most of the time.
    const b = path.endsWith('/apps/manifest') && body.t === 'obj' ? obj(['manifest', manifest], ...body.pairs) : body;
    return { method: route.method, path, body: route.body ? b : undefined, auth };
  });

export const consoleBodyText = (r: ConsoleReq): string | undefined => (r.body === undefined ? undefined : render(r.body));
