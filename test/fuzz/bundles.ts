/**
 * Batch and transaction Bundles for fuzzing (R4 §3.1.0.11): entries with every method, entry URLs
 * relative, absolute, conditional, urn:uuid and badly percent-encoded, references between entries,
 * and many entries.
 */
import fc from 'fast-check';
import { anyJson, arr, type J, lit, nastyString, obj, protoKey } from './json.js';
import { memberName, resource, resourceId } from './resources.js';

const UUIDS = ['urn:uuid:0b6c4a52-2f3c-4c1e-9d1b-3b2c0b0f0001', 'urn:uuid:0b6c4a52-2f3c-4c1e-9d1b-3b2c0b0f0002', 'urn:uuid:not-a-uuid', 'urn:oid:1.2.3'];

const entryUrl = fc.oneof(
  fc.constantFrom(
    'Patient',
    'Observation',
    'Patient/BILIBABY',
    'Patient?identifier=http://example.org/mrn|F-1',
    'Patient?name=%zz',
    'Patient/%E0%A4%A',
    'Patient/%',
    'Observation?code=%C0%AF',
    'http://127.0.0.1:1/demo/open/Patient/BILIBABY',
    'Patient/BILIBABY/_history/1',
    'Patient/BILIBABY/$everything',
    'Patient/_search?name=x',
    'metadata',
    '_history',
    '',
    '/',
    '?',
    ...UUIDS,
  ),
  resourceId.map((id) => `Patient/${id}`),
  nastyString,
  protoKey,
);

const method = fc.oneof({ weight: 8, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD') }, { weight: 1, arbitrary: nastyString });

const entry: fc.Arbitrary<J> = fc
  .record({
    fullUrl: fc.option(fc.oneof(fc.constantFrom(...UUIDS), nastyString), { nil: undefined }),
    res: fc.option(fc.oneof({ weight: 4, arbitrary: resource }, { weight: 1, arbitrary: anyJson(memberName, 2) }), { nil: undefined, freq: 5 }),
    method,
    url: entryUrl,
    ifMatch: fc.option(fc.constantFrom('W/"1"', '*', 'junk'), { nil: undefined, freq: 4 }),
    ifNoneExist: fc.option(fc.constantFrom('identifier=x', '%zz', '', '_id=BILIBABY'), { nil: undefined, freq: 4 }),
    extra: fc.array(fc.tuple(fc.oneof(protoKey, fc.constantFrom('search', 'response', 'link')), anyJson(memberName, 1)), { maxLength: 1 }),
  })
  .map(({ fullUrl, res, method, url, ifMatch, ifNoneExist, extra }) => {
    const request: [string, J][] = [
      ['method', lit(method)],
      ['url', lit(url)],
    ];
    if (ifMatch !== undefined) request.push(['ifMatch', lit(ifMatch)]);
    if (ifNoneExist !== undefined) request.push(['ifNoneExist', lit(ifNoneExist)]);
    const pairs: [string, J][] = [['request', obj(...request)], ...extra];
    if (fullUrl !== undefined) pairs.unshift(['fullUrl', lit(fullUrl)]);
    if (res !== undefined) pairs.push(['resource', res]);
    return obj(...pairs);
  });

const SMALL_ENTRY = obj(
  ['resource', obj(['resourceType', lit('Basic')], ['code', obj(['text', lit('x')])])],
  ['request', obj(['method', lit('POST')], ['url', lit('Basic')])],
);

/** A Bundle to POST to the FHIR base: a handful of entries, or one entry repeated very many times. */
export const bundle: fc.Arbitrary<J> = fc
  .record({
    type: fc.oneof({ weight: 6, arbitrary: fc.constantFrom('transaction', 'batch') }, { weight: 1, arbitrary: fc.oneof(fc.constantFrom('collection', 'searchset', 'document', 'transaction-response'), nastyString) }),
    entries: fc.array(entry, { maxLength: 6 }),
    repeat: fc.oneof({ weight: 9, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(1000, 20_000) }),
    entryShape: fc.constantFrom<'array' | 'object' | 'missing'>('array', 'array', 'array', 'array', 'object', 'missing'),
    resourceType: fc.oneof({ weight: 9, arbitrary: fc.constant('Bundle') }, { weight: 1, arbitrary: fc.oneof(nastyString, protoKey) }),
  })
  .map(({ type, entries, repeat, entryShape, resourceType }) => {
    // Repeated entries are one small fixed entry: a fuzzed entry times 20,000 could be gigabytes.
    const all: J = repeat > 0 ? { t: 'many', count: repeat, item: SMALL_ENTRY } : arr(...entries);
    const pairs: [string, J][] = [
      ['resourceType', lit(resourceType)],
      ['type', lit(type)],
    ];
    if (entryShape === 'array') pairs.push(['entry', all]);
    else if (entryShape === 'object') pairs.push(['entry', entries[0] ?? obj()]);
    return obj(...pairs);
  });
