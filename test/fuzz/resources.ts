/**
 * FHIR resources for fuzzing: valid-ish templates of common R4 types with members replaced by wrong
 * types, dropped, duplicated or joined by prototype-ish and unknown keys; plus deep nesting and huge
 * arrays; and the write requests that carry them (create, update, conditional writes, JSON Patch).
 */
import fc from 'fast-check';
import { anyJson, arr, count, depth, enc, type J, leaf, lit, nastyString, obj, protoKey, render } from './json.js';

const coding = (system: string, code: string) => obj(['coding', arr(obj(['system', lit(system)], ['code', lit(code)]))]);
const ref = (r: string) => obj(['reference', lit(r)]);
const div = lit('<div xmlns="http://www.w3.org/1999/xhtml">fuzz</div>');

/** Members of a plausible resource per type (R4 core), the starting point of every mutation. */
const TEMPLATES: Record<string, [string, J][]> = {
  Patient: [
    ['active', lit(true)],
    ['name', arr(obj(['family', lit('Fuzz')], ['given', arr(lit('Fay'))]))],
    ['gender', lit('female')],
    ['birthDate', lit('1990-05-17')],
    ['identifier', arr(obj(['system', lit('http://example.org/mrn')], ['value', lit('F-1')]))],
    ['address', arr(obj(['line', arr(lit('1 Main St'))], ['city', lit('Boston')]))],
    ['telecom', arr(obj(['system', lit('phone')], ['value', lit('555')]))],
    ['extension', arr(obj(['url', lit('http://example.org/x')], ['valueString', lit('x')]))],
    ['meta', obj(['tag', arr(obj(['code', lit('t')]))])],
    ['text', obj(['status', lit('generated')], ['div', div])],
    ['link', arr(obj(['other', ref('Patient/BILIBABY')], ['type', lit('seealso')]))],
  ],
  Observation: [
    ['status', lit('final')],
    ['category', arr(coding('http://terminology.hl7.org/CodeSystem/observation-category', 'laboratory'))],
    ['code', coding('http://loinc.org', '58941-6')],
    ['subject', ref('Patient/BILIBABY')],
    ['effectiveDateTime', lit('2018-03-06T10:00:00Z')],
    ['valueQuantity', obj(['value', lit(10.2)], ['unit', lit('mg/dL')], ['system', lit('http://unitsofmeasure.org')], ['code', lit('mg/dL')])],
    ['component', arr(obj(['code', coding('http://loinc.org', '8480-6')], ['valueQuantity', obj(['value', lit(120)])]))],
  ],
  Condition: [
    ['clinicalStatus', coding('http://terminology.hl7.org/CodeSystem/condition-clinical', 'active')],
    ['code', coding('http://snomed.info/sct', '44054006')],
    ['subject', ref('Patient/BILIBABY')],
    ['onsetDateTime', lit('2018-03-05')],
  ],
  Encounter: [
    ['status', lit('finished')],
    ['class', obj(['system', lit('http://terminology.hl7.org/CodeSystem/v3-ActCode')], ['code', lit('AMB')])],
    ['subject', ref('Patient/BILIBABY')],
    ['period', obj(['start', lit('2018-03-04')], ['end', lit('2018-03-05')])],
  ],
  Group: [
    ['type', lit('person')],
    ['actual', lit(true)],
    ['member', arr(obj(['entity', ref('Patient/BILIBABY')]))],
  ],
  Binary: [
    ['contentType', lit('text/plain')],
    ['data', lit('aGVsbG8=')],
  ],
  DocumentReference: [
    ['status', lit('current')],
    ['subject', ref('Patient/BILIBABY')],
    ['content', arr(obj(['attachment', obj(['contentType', lit('text/plain')], ['data', lit('aGVsbG8=')])]))],
  ],
  Parameters: [['parameter', arr(obj(['name', lit('x')], ['valueString', lit('y')]))]],
  Bundle: [
    ['type', lit('collection')],
    ['entry', arr(obj(['resource', obj(['resourceType', lit('Patient')])]))],
  ],
};

export const RESOURCE_TYPES = Object.keys(TEMPLATES);
const MEMBER_NAMES = [...new Set(Object.values(TEMPLATES).flatMap((ps) => ps.map(([k]) => k))), 'id', 'meta', 'contained', 'resourceType', 'implicitRules', 'modifierExtension'];

export const resourceType = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...RESOURCE_TYPES) }, { weight: 1, arbitrary: nastyString }, { weight: 1, arbitrary: protoKey });
export const memberName = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...MEMBER_NAMES) }, { weight: 1, arbitrary: protoKey }, { weight: 1, arbitrary: fc.string({ maxLength: 10 }) });

/** A resource id as a client might send it: valid, absent, or anything else. */
export const resourceId = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^[A-Za-z0-9\-.]{1,64}$/) },
  { weight: 2, arbitrary: fc.constantFrom('BILIBABY', 'x', 'does-not-exist', 'a'.repeat(65), '..', '.', '%2e%2e', '%00', '%E0%A4%A', '%zz', '_history', '$everything', '_search') },
  { weight: 1, arbitrary: nastyString.map(enc) },
  { weight: 1, arbitrary: protoKey },
);

type Mutation = { kind: 'keep' } | { kind: 'drop' } | { kind: 'replace'; value: J } | { kind: 'dup'; value: J };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Mutation>({ kind: 'keep' }) },
  { weight: 1, arbitrary: fc.constant<Mutation>({ kind: 'drop' }) },
  { weight: 2, arbitrary: anyJson(memberName, 2).map((value): Mutation => ({ kind: 'replace', value })) },
  { weight: 1, arbitrary: leaf.map((value): Mutation => ({ kind: 'dup', value })) },
);

/** A resource: a template's members mutated one by one, extra members, an optional id. */
export const resource: fc.Arbitrary<J> = fc
  .record({
    type: resourceType,
    template: fc.constantFrom(...RESOURCE_TYPES),
    mutations: fc.array(mutation, { minLength: 12, maxLength: 12 }),
    extra: fc.array(fc.tuple(memberName, anyJson(memberName, 2)), { maxLength: 3 }),
    id: fc.option(resourceId, { nil: undefined }),
    typeLast: fc.boolean(),
  })
  .map(({ type, template, mutations, extra, id, typeLast }): J => {
    const pairs: [string, J][] = [];
    TEMPLATES[template].forEach(([k, v], i) => {
      const m = mutations[i] ?? { kind: 'keep' };
      if (m.kind === 'keep') pairs.push([k, v]);
      else if (m.kind === 'replace') pairs.push([k, m.value]);
      else if (m.kind === 'dup') pairs.push([k, v], [k, m.value]);
    });
    pairs.push(...extra);
    if (id !== undefined) pairs.unshift(['id', lit(id)]);
    const rt: [string, J] = ['resourceType', lit(type)];
    return obj(...(typeLast ? [...pairs, rt] : [rt, ...pairs]));
  });

/** Shapes that must be refused cheaply: deep nesting and huge arrays inside an otherwise fine resource. */
export const monster: fc.Arbitrary<J> = fc.oneof(
  fc.record({ type: fc.constantFrom('Patient', 'Observation', 'Basic'), d: depth }).map(({ type, d }) =>
    obj(['resourceType', lit(type)], ['extension', arr({ t: 'deep', depth: d, key: 'extension', inner: arr(obj(['url', lit('http://x')])) })]),
  ),
  fc.record({ d: depth }).map(({ d }) => obj(['resourceType', lit('Patient')], ['name', { t: 'deep', depth: d, key: null, inner: obj(['family', lit('x')]) }])),
  fc.record({ n: count }).map(({ n }) => obj(['resourceType', lit('Patient')], ['name', { t: 'many', count: n, item: obj(['family', lit('x')], ['given', arr(lit('y'))]) }])),
  fc.record({ n: count }).map(({ n }) => obj(['resourceType', lit('Observation')], ['status', lit('final')], ['code', coding('http://loinc.org', '1')], ['component', { t: 'many', count: n, item: obj(['code', coding('http://loinc.org', '2')]) }])),
  fc.record({ n: count }).map(({ n }) => obj(['resourceType', lit('Group')], ['type', lit('person')], ['actual', lit(true)], ['member', { t: 'many', count: n, item: obj(['entity', ref('Patient/BILIBABY')]) }])),
);

export const contentType = fc.oneof(
  { weight: 8, arbitrary: fc.constant('application/fhir+json') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'application/json',
      'application/fhir+json; charset=utf-8',
      'application/fhir+json; fhirVersion=4.0',
      'application/json-patch+json',
      'application/x-www-form-urlencoded',
      'text/plain',
      'application/fhir+xml',
      'multipart/form-data; boundary=x',
      '',
      ';;;',
      'application/fhir+json; charset=latin1',
    ),
  },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

/** The text actually sent: the rendering, or a broken variant of it. */
export const bodyVariant = fc.oneof(
  { weight: 8, arbitrary: fc.constant<'whole'>('whole') },
  { weight: 1, arbitrary: fc.constantFrom<'empty' | 'bom' | 'truncated' | 'trailing'>('empty', 'bom', 'truncated', 'trailing') },
);

export function applyVariant(text: string, v: 'whole' | 'empty' | 'bom' | 'truncated' | 'trailing'): string {
  if (v === 'empty') return '';
  if (v === 'bom') return `\uFEFF${text}`;
  if (v === 'truncated') return text.slice(0, Math.floor(text.length / 2));
  if (v === 'trailing') return `${text} {}`;
  return text;
}

export const precondition = fc.constantFrom('*', 'W/"1"', '"1"', 'W/"999999999999999999999"', 'W/""', 'garbage', 'W/"1", W/"2"', '');
export const prefer = fc.constantFrom('return=minimal', 'return=representation', 'return=OperationOutcome', 'handling=strict', 'handling=lenient', 'respond-async', 'x=y', '');

const jsonPatch = anyJson(fc.constantFrom('op', 'path', 'value', 'from'), 3);
const patchOp = fc
  .record({
    op: fc.oneof(fc.constantFrom('add', 'remove', 'replace', 'move', 'copy', 'test'), nastyString),
    path: fc.oneof(fc.constantFrom('/name', '/name/0/family', '/name/-', '/id', '/resourceType', '/meta', '/__proto__/x', '/constructor/prototype/x', '', '/', '/a~1b', '/~2'), nastyString),
    value: anyJson(memberName, 2),
    from: fc.constantFrom('/name', '/gender', '/nope'),
  })
  .map(({ op, path, value, from }) => obj(['op', lit(op)], ['path', lit(path)], ['value', value], ['from', lit(from)]));

export interface Write {
  method: string;
  path: string;
  body: J | undefined;
  variant: 'whole' | 'empty' | 'bom' | 'truncated' | 'trailing';
  contentType: string | undefined;
  ifMatch?: string;
  ifNoneExist?: string;
  ifNoneMatch?: string;
  prefer?: string;
  /** Through `/data` with the backend token instead of the open base. */
  secured: boolean;
}

const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 3 });
const query = fc.oneof(fc.constantFrom('identifier=http://example.org/mrn|F-1', 'name=Fuzz', '_id=BILIBABY', 'family=%zz', '', '_count=99999999999999999999'), nastyString.map((s) => `name=${enc(s)}`));

/** One write: create, update, conditional update/delete, patch, delete, each with random headers. */
export const write: fc.Arbitrary<Write> = fc
  .record({
    shape: fc.constantFrom('create', 'update', 'conditional-update', 'conditional-delete', 'patch', 'delete', 'monster'),
    type: resourceType,
    id: resourceId,
    q: query,
    res: resource,
    big: monster,
    patch: fc.oneof(fc.array(patchOp, { maxLength: 4 }).map((ops) => arr(...ops)), jsonPatch),
    variant: bodyVariant,
    contentType,
    ifMatch: opt(precondition),
    ifNoneExist: opt(query),
    ifNoneMatch: opt(precondition),
    prefer: opt(prefer),
    secured: fc.boolean(),
  })
  .map(({ shape, type, id, q, res, big, patch, ...rest }): Write => {
    const t = enc(type);
    switch (shape) {
      case 'create':
        return { method: 'POST', path: `/${t}`, body: res, ...rest };
      case 'update':
        return { method: 'PUT', path: `/${t}/${id}`, body: res, ...rest };
      case 'conditional-update':
        return { method: 'PUT', path: `/${t}?${q}`, body: res, ...rest };
      case 'conditional-delete':
        return { method: 'DELETE', path: `/${t}?${q}`, body: undefined, ...rest };
      case 'patch':
        return { method: 'PATCH', path: `/${t}/${id}`, body: patch, ...rest, contentType: rest.contentType === 'application/fhir+json' ? 'application/json-patch+json' : rest.contentType };
      case 'delete':
        return { method: 'DELETE', path: `/${t}/${id}`, body: undefined, ...rest };
      default:
        return { method: 'POST', path: '/Patient', body: big, ...rest, variant: 'whole', contentType: 'application/fhir+json' };
    }
  });

export function writeHeaders(w: Write, token: string | undefined): Record<string, string> {
  const h: Record<string, string> = {};
  if (w.contentType !== undefined) h['content-type'] = w.contentType;
  if (w.ifMatch !== undefined) h['if-match'] = w.ifMatch;
  if (w.ifNoneExist !== undefined) h['if-none-exist'] = w.ifNoneExist;
  if (w.ifNoneMatch !== undefined) h['if-none-match'] = w.ifNoneMatch;
  if (w.prefer !== undefined) h.prefer = w.prefer;
  if (token) h.authorization = `Bearer ${token}`;
  return h;
}

export const writeBody = (w: Write): string | undefined => (w.body === undefined ? undefined : applyVariant(render(w.body), w.variant));
