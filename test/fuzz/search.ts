/**
 * FHIR search URLs for fuzzing (R4 §3.1.1): real and unknown parameters with modifiers, prefixes,
 * OR-lists, chains, `_has`, `_sort`, `_include`/`_revinclude`, `_count`/`_offset` extremes, result
 * parameters, and bad percent-encoding — sent as GET, as `POST _search` forms, on history and
 * `$everything`.
 */
import fc from 'fast-check';
import { enc, nastyString, PROTO_KEYS } from './json.js';

const PARAMS: Record<string, string[]> = {
  Patient: ['name', 'family', 'given', 'birthdate', 'gender', 'identifier', 'address', 'address-city', 'telecom', 'general-practitioner', 'organization', 'active', 'death-date', 'link'],
  Observation: ['code', 'patient', 'subject', 'date', 'value-quantity', 'category', 'status', 'encounter', 'component-code', 'code-value-quantity', 'value-string', 'performer', 'combo-code'],
  Condition: ['code', 'patient', 'subject', 'onset-date', 'clinical-status'],
  Encounter: ['patient', 'subject', 'date', 'class', 'status', 'practitioner'],
  Group: ['member', 'type', 'characteristic', 'actual'],
  Practitioner: ['name', 'identifier'],
};
const COMMON = ['_id', '_lastUpdated', '_tag', '_profile', '_security', '_text', '_content', '_list', '_filter', '_query', '_source', '_type'];
const TYPES = Object.keys(PARAMS);
const ALL_PARAMS = [...new Set(Object.values(PARAMS).flat())];
const REF_PARAMS = ['patient', 'subject', 'encounter', 'general-practitioner', 'organization', 'performer', 'member', 'link', 'practitioner'];

const MODIFIERS = ['exact', 'contains', 'missing', 'not', 'text', 'in', 'not-in', 'below', 'above', 'of-type', 'identifier', 'Patient', 'Practitioner', 'iterate', 'recurse', '', 'EXACT'];
const PREFIXES = ['', 'eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap', 'xx', 'EQ'];

/** Something that does not decode cleanly as UTF-8 percent-encoding. */
const BAD_PERCENT = ['%', '%zz', '%E0%A4%A', '%C0%AF', '%00', '%FF%FE', '%%', '%2', '%ED%A0%80'];

const type = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...TYPES) }, { weight: 1, arbitrary: fc.constantFrom('Nope', 'patient', 'Resource', 'DomainResource', '$export', '_history', ...PROTO_KEYS) });
const name = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...ALL_PARAMS, ...COMMON) },
  { weight: 1, arbitrary: fc.constantFrom(...PROTO_KEYS) },
  { weight: 1, arbitrary: fc.string({ maxLength: 10 }).map(enc) },
);

const rawValue = fc.oneof(
  fc.constantFrom(
    'BILIBABY',
    'Patient/BILIBABY',
    'http://127.0.0.1/x/Patient/BILIBABY',
    'Patient/',
    '2018',
    '2018-03',
    '2018-03-04',
    '2018-03-04T10:00:00Z',
    '2018-03-04T10:00:00+25:00',
    '0',
    '0.8',
    '-0',
    '1e400',
    '9007199254740993',
    '5.4|http://unitsofmeasure.org|mg',
    '||',
    '|||',
    'http://loinc.org|58941-6',
    '|58941-6',
    'http://loinc.org|',
    '|',
    'true',
    'false',
    'female',
    'final',
    '',
  ),
  nastyString,
);

/** One value: prefix, raw value (percent-encoded or deliberately broken), maybe an OR-list of many. */
const value = fc
  .record({
    prefix: fc.constantFrom(...PREFIXES),
    first: rawValue,
    more: fc.array(rawValue, { maxLength: 3 }),
    orCount: fc.oneof({ weight: 9, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(100, 1000, 5000) }),
    broken: fc.option(fc.constantFrom(...BAD_PERCENT), { nil: undefined, freq: 8 }),
  })
  .map(({ prefix, first, more, orCount, broken }) => {
    const values = [first, ...more, ...Array.from({ length: orCount }, (_, i) => `v${i}`)];
    const text = values.map((v, i) => (i === 0 ? prefix : '') + enc(v)).join(',');
    return broken === undefined ? text : `${text}${broken}`;
  });

/** `name[:modifier]=value`, a chain `ref.ref.name`, or a reverse chain `_has:T:ref:…`. */
const param = fc.oneof(
  { weight: 6, arbitrary: fc.record({ n: name, m: fc.option(fc.constantFrom(...MODIFIERS), { nil: undefined, freq: 3 }), v: value }).map(({ n, m, v }) => `${n}${m === undefined ? '' : `:${m}`}=${v}`) },
  {
    weight: 2,
    arbitrary: fc
      .record({ hops: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: fc.constantFrom(20, 200, 1500) }), ref: fc.constantFrom(...REF_PARAMS), typed: fc.boolean(), end: name, v: value })
      .map(({ hops, ref, typed, end, v }) => `${Array.from({ length: hops }, () => (typed ? `${ref}:Patient` : ref)).join('.')}.${end}=${v}`),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({ nest: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 1, max: 3 }) }, { weight: 1, arbitrary: fc.constantFrom(20, 200) }), t: type, ref: fc.constantFrom(...REF_PARAMS), end: name, v: value })
      .map(({ nest, t, ref, end, v }) => `${Array.from({ length: nest }, () => `_has:${t}:${ref}:`).join('')}${end}=${v}`),
  },
);

const bigNumbers = ['-1', '0', '1', '10', '1000', '1001', '1.5', 'abc', '', '9007199254740991', '9007199254740992', '9007199254740993', '9223372036854775807', '9223372036854775808', '18446744073709551616', '1e400', '0x10', '+5', ' 5', '%zz'];

const result = fc.oneof(
  fc.constantFrom(...bigNumbers).map((n) => `_count=${n}`),
  fc.constantFrom(...bigNumbers).map((n) => `_offset=${n}`),
  fc
    .record({ keys: fc.array(fc.record({ desc: fc.boolean(), k: name }), { minLength: 1, maxLength: 4 }), many: fc.oneof({ weight: 9, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(50, 300, 2000) }) })
    .map(({ keys, many }) => `_sort=${[...keys.map(({ desc, k }) => `${desc ? '-' : ''}${k}`), ...Array.from({ length: many }, (_, i) => (i % 2 ? '-date' : '_id'))].join(',')}`),
  fc.constantFrom('Observation:patient', 'Observation:subject:Patient', '*', 'Patient:general-practitioner', 'Nope:x', 'Observation', ':', 'Observation:patient:Nope').chain((v) =>
    fc.record({ which: fc.constantFrom('_include', '_revinclude', '_include:iterate', '_revinclude:iterate', '_include:recurse'), times: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.constantFrom(50, 500)) }).map(({ which, times }) => Array.from({ length: times }, () => `${which}=${enc(v)}`).join('&')),
  ),
  fc.constantFrom('true', 'false', 'text', 'data', 'count', 'nope').map((v) => `_summary=${v}`),
  fc.array(name, { maxLength: 5 }).map((ns) => `_elements=${ns.join(',')}`),
  fc.constantFrom('none', 'estimate', 'accurate', 'nope').map((v) => `_total=${v}`),
  fc.constantFrom('json', 'xml', 'application/fhir+json', 'text/html').map((v) => `_format=${enc(v)}`),
  fc.constantFrom(...BAD_PERCENT).map((b) => `${b}=${b}`),
  fc.constantFrom(...PROTO_KEYS).map((k) => `${k}=1`),
);

export interface SearchReq {
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  secured: boolean;
}

/** A search at type level, system level, `_search`, history or `$everything`, open or with a token. */
export const searchRequest: fc.Arbitrary<SearchReq> = fc
  .record({
    where: fc.constantFrom('type', 'type', 'type', 'system', 'post', 'history-type', 'history-system', 'history-instance', 'everything'),
    t: type,
    params: fc.array(fc.oneof({ weight: 3, arbitrary: param }, { weight: 2, arbitrary: result }), { maxLength: 6 }),
    split: fc.nat(),
    secured: fc.boolean(),
  })
  .map(({ where, t, params, split, secured }): SearchReq => shortPrint(build(where, t, params, split, secured)));

/** fast-check prints counterexamples with this: long URLs (OR-lists, chains) cut in the middle. */
function shortPrint(r: SearchReq): SearchReq {
  const cut = (s: string | undefined) => (s !== undefined && s.length > 600 ? `${s.slice(0, 400)}…(${s.length} chars)…${s.slice(-150)}` : s);
  return Object.defineProperty(r, fc.toStringMethod, { value: () => JSON.stringify({ ...r, path: cut(r.path), body: cut(r.body) }), enumerable: false });
}

function build(where: string, t: string, params: string[], split: number, secured: boolean): SearchReq {
    const q = params.join('&');
    switch (where) {
      case 'system':
        return { method: 'GET', path: `?${q}`, secured };
      case 'post': {
        // Part of the query in the URL, the rest in the form body (R4 §3.1.1.0 allows both).
        const cut = params.length === 0 ? 0 : split % (params.length + 1);
        return { method: 'POST', path: `/${t}/_search?${params.slice(0, cut).join('&')}`, body: params.slice(cut).join('&'), secured };
      }
      case 'history-type':
        return { method: 'GET', path: `/${t}/_history?${q}`, secured };
      case 'history-system':
        return { method: 'GET', path: `/_history?${q}`, secured };
      case 'history-instance':
        return { method: 'GET', path: `/Patient/BILIBABY/_history?${q}`, secured };
      case 'everything':
        return { method: 'GET', path: `/Patient/BILIBABY/$everything?${q}`, secured };
      default:
        return { method: 'GET', path: `/${t}?${q}`, secured };
    }
}
