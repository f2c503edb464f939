/**
 * Launch registrations (`POST {iss}/_services/smart/Launch`) and token requests (`POST {auth}/token`,
 * RFC 6749 §4 and §6, RFC 7523 assertions) for fuzzing: every field with wrong types, prototype-ish
 * keys, reserved context keys, nesting, and client authentication in every form, right or wrong.
 */
import fc from 'fast-check';
import { RESERVED_CONTEXT_KEYS } from '../../src/launch/model.js';
import { anyJson, depth, enc, type J, leaf, lit, nastyString, obj, PROTO_KEYS, protoKey, render } from './json.js';

const CONTEXT_KEYS = [
  'patient',
  'encounter',
  'need_patient_banner',
  'smartStyleUrl',
  'smart_style_url',
  'fhirContext',
  'intent',
  'tenant',
  'location',
  'resource',
  'appContext',
  'smart_messaging_origin',
  'custom',
  'x-y',
  // Token response and introspection members: the service must refuse them or never let them shadow.
  ...RESERVED_CONTEXT_KEYS,
  'error',
  'code',
];
export const contextKey = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...CONTEXT_KEYS) }, { weight: 2, arbitrary: protoKey }, { weight: 1, arbitrary: fc.string({ maxLength: 10 }) });

/** Values a launch context parameter may plausibly carry, in their JSON types. */
export const contextValue: fc.Arbitrary<J> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('BILIBABY', 'true', 'false', 'http://127.0.0.1/style.json', 'x').map((v) => lit(v)) },
  { weight: 2, arbitrary: fc.constantFrom(obj(['reference', lit('Patient/BILIBABY')]), { t: 'arr', items: [obj(['reference', lit('Patient/BILIBABY')])] } as J) },
  { weight: 3, arbitrary: anyJson(fc.constantFrom('reference', 'canonical', 'identifier', 'type', 'role'), 2) },
);

const SIMULATED = ['auth_invalid_scope', 'auth_access_denied', 'token_invalid_grant', 'token_expired_refresh_token', 'request_invalid_token', 'request_expired_token'];

/** A launch registration body (as a JSON tree; occasionally not an object at all). */
export const launchBody: fc.Arbitrary<J> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .record(
        {
          client_id: fc.oneof(fc.constantFrom('bilirubin_chart', 'fz-svc', 'nope', '').map((v) => lit(v)), leaf),
          username: fc.oneof(fc.constantFrom('practitioner', 'patient', 'nope').map((v) => lit(v)), leaf),
          parameters: fc.oneof(
            { weight: 6, arbitrary: fc.array(fc.tuple(contextKey, contextValue), { maxLength: 6 }).map((pairs) => obj(['patient', lit('BILIBABY')], ...pairs)) },
            { weight: 1, arbitrary: fc.record({ d: depth, k: contextKey }).map(({ d, k }): J => obj([k, { t: 'deep', depth: d, key: k, inner: lit(1) }])) },
            { weight: 1, arbitrary: leaf },
          ),
          expires_in: fc.oneof(fc.constantFrom(1, 60, 3600, 86400, 86401, 0, -1).map((v) => lit(v)), leaf),
          simulate_error: fc.oneof(fc.constantFrom(...SIMULATED).map((v) => lit(v)), leaf),
          launchUrl: fc.oneof(fc.constantFrom('http://127.0.0.1/apps/bilirubin-chart/launch.html', 'javascript:alert(1)', 'http://[::1').map((v) => lit(v)), leaf),
          extra: fc.tuple(fc.oneof(protoKey, fc.string({ maxLength: 8 })), leaf),
        },
        { requiredKeys: [] },
      )
      .map((r): J => {
        const pairs: [string, J][] = [];
        for (const [k, v] of Object.entries(r)) {
          if (k === 'extra') pairs.push(v as [string, J]);
          else pairs.push([k, v as J]);
        }
        return obj(...pairs);
      }),
  },
  { weight: 1, arbitrary: anyJson(fc.constantFrom('client_id', 'parameters', 'username'), 3) },
);

export interface SsoLaunch {
  parameters: [string, J][];
  expiresIn?: number;
}

/** An SSO launch of the demo app for BILIBABY with extra context: one that registers must also work. */
export const ssoLaunch: fc.Arbitrary<SsoLaunch> = fc.record({
  parameters: fc.array(fc.tuple(contextKey, contextValue), { maxLength: 5 }),
  expiresIn: fc.option(fc.constantFrom(60, 600), { nil: undefined }),
});

export function ssoLaunchBody(l: SsoLaunch, persona: string): string {
  const pairs: [string, J][] = [
    ['client_id', lit('bilirubin_chart')],
    ['username', lit(persona)],
    ['parameters', obj(['patient', lit('BILIBABY')], ...l.parameters)],
  ];
  if (l.expiresIn !== undefined) pairs.push(['expires_in', lit(l.expiresIn)]);
  return render(obj(...pairs));
}

const b64 = (s: string) => Buffer.from(s).toString('base64url');

/** Something shaped like a JWT: random header and payload JSON, random or empty signature. */
const jwtish = fc
  .record({
    header: anyJson(fc.constantFrom('alg', 'kid', 'typ', 'jku', 'x5u', 'crit'), 2),
    payload: anyJson(fc.constantFrom('iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'nbf'), 2),
    sig: fc.constantFrom('', 'AAAA', '!!!'),
  })
  .map(({ header, payload, sig }) => `${b64(render(header))}.${b64(render(payload))}.${sig}`);

const GRANTS = [
  'authorization_code',
  'refresh_token',
  'client_credentials',
  'password',
  'implicit',
  'urn:ietf:params:oauth:grant-type:jwt-bearer',
  'urn:ietf:params:oauth:grant-type:token-exchange',
  'urn:ietf:params:oauth:grant-type:device_code',
  'urn:openid:params:grant-type:ciba',
  'AUTHORIZATION_CODE',
  '',
];
const SCOPES = ['system/*.rs', 'system/*.*', 'smart/orchestrate_launch', 'launch', 'openid', 'fhirUser', 'offline_access', 'patient/*.read', 'user/Patient.cruds?category=x', 'patient/Observation.rs?code=http://loinc.org|1', 'system/*.*?x=%zz', '*', '', 'a b'];

const field = (name: string, values: fc.Arbitrary<string>) => fc.tuple(fc.constant(name), values);

const formField = fc.oneof(
  field('grant_type', fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...GRANTS) }, { weight: 1, arbitrary: nastyString })),
  field('code', fc.oneof(fc.constantFrom('x', 'a'.repeat(43), 'a'.repeat(5000)), nastyString)),
  field('refresh_token', fc.oneof(fc.constantFrom('x', 'a'.repeat(43), 'a'.repeat(5000)), nastyString)),
  field('redirect_uri', fc.oneof(fc.constantFrom('http://127.0.0.1/apps/bilirubin-chart/index.html', 'javascript:x', ''), nastyString)),
  field('code_verifier', fc.oneof(fc.constantFrom('a'.repeat(43), 'short', 'a'.repeat(200)), nastyString)),
  field('scope', fc.array(fc.constantFrom(...SCOPES), { maxLength: 4 }).map((s) => s.join(' '))),
  field('client_id', fc.oneof(fc.constantFrom('bilirubin_chart', 'fz-svc', 'nope', ''), nastyString)),
  field('client_secret', nastyString),
  field('client_assertion_type', fc.constantFrom('urn:ietf:params:oauth:client-assertion-type:jwt-bearer', 'x', '')),
  field('client_assertion', fc.oneof(jwtish, nastyString)),
  field('assertion', jwtish),
  field(
    'resource',
    fc.constantFrom('http://127.0.0.1/demo/data', 'urn:x', '%zz'),
  ),
  field('launch', nastyString),
  field('aud', nastyString),
  fc.tuple(fc.constantFrom(...PROTO_KEYS), nastyString),
  fc.tuple(fc.string({ maxLength: 8 }), nastyString),
);

export type ClientAuth = 'none' | 'basic' | 'basic-wrong' | 'basic-garbage' | 'post' | 'bearer';

export interface TokenReq {
  endpoint: 'token' | 'introspect' | 'revoke';
  fields: [string, string][];
  auth: ClientAuth;
  garbage: string;
  encoding: 'form' | 'json' | 'none' | 'raw-broken';
}

export const tokenRequest: fc.Arbitrary<TokenReq> = fc.record({
  endpoint: fc.constantFrom<TokenReq['endpoint']>('token', 'token', 'token', 'token', 'introspect', 'revoke'),
  fields: fc.array(formField, { maxLength: 7 }),
  auth: fc.constantFrom<ClientAuth>('none', 'basic', 'basic-wrong', 'basic-garbage', 'post', 'bearer'),
  garbage: fc.constantFrom('Basic', 'Basic ', 'Basic ###', `Basic ${b64('nocolon')}`, `Basic ${Buffer.from('%zz:%zz').toString('base64')}`, `Basic ${Buffer.from(':').toString('base64')}`, 'Basic a b c', 'Digest x'),
  encoding: fc.constantFrom<TokenReq['encoding']>('form', 'form', 'form', 'form', 'json', 'none', 'raw-broken'),
});

/** The request text: form pairs encoded one by one (repeated and prototype-ish names survive). */
export function tokenBody(r: TokenReq, svc: { id: string; secret: string }): { headers: Record<string, string>; body: string } {
  const fields = [...r.fields];
  const headers: Record<string, string> = {};
  if (r.auth === 'basic') headers.authorization = `Basic ${Buffer.from(`${svc.id}:${svc.secret}`).toString('base64')}`;
  else if (r.auth === 'basic-wrong') headers.authorization = `Basic ${Buffer.from(`${svc.id}:wrong-secret`).toString('base64')}`;
  else if (r.auth === 'basic-garbage') headers.authorization = r.garbage;
  else if (r.auth === 'bearer') headers.authorization = 'Bearer x';
  else if (r.auth === 'post') fields.push(['client_id', svc.id], ['client_secret', svc.secret]);
  const form = fields.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&');
  switch (r.encoding) {
    case 'json':
      headers['content-type'] = 'application/json';
      return { headers, body: `{${fields.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}` };
    case 'none':
      return { headers, body: form };
    case 'raw-broken':
      headers['content-type'] = 'application/x-www-form-urlencoded';
      return { headers, body: `${form}&%zz=%E0%A4%A&=&&grant_type` };
    default:
      headers['content-type'] = 'application/x-www-form-urlencoded';
      return { headers, body: form };
  }
}
