/**
 * JSON documents for fuzzing, kept as small trees and rendered to text only when sent. Objects are
 * lists of [key, value] pairs so that keys such as `__proto__` and `constructor` reach the server as
 * real own members (a JS object literal would turn `__proto__` into a prototype), and repeated keys
 * are possible. Huge or deep shapes are described by a few numbers (`deep`, `many`) and expanded at
 * render time, so that fast-check's counterexamples stay readable.
 */
import fc from 'fast-check';

export type J =
  | { t: 'lit'; v: string | number | boolean | null }
  /** A raw JSON number text, e.g. 1e400 or -0 or 123456789012345678901234567890. */
  | { t: 'num'; raw: string }
  | { t: 'arr'; items: J[] }
  | { t: 'obj'; pairs: [string, J][] }
  /** `inner` wrapped `depth` times in `{"<key>": …}` (object) or `[…]` (array). */
  | { t: 'deep'; depth: number; key: string | null; inner: J }
  /** An array of `count` copies of `item`. */
  | { t: 'many'; count: number; item: J };

export const lit = (v: string | number | boolean | null): J => ({ t: 'lit', v });
export const obj = (...pairs: [string, J][]): J => ({ t: 'obj', pairs });
export const arr = (...items: J[]): J => ({ t: 'arr', items });

export function render(j: J): string {
  switch (j.t) {
    case 'lit':
      return JSON.stringify(j.v);
    case 'num':
      return j.raw;
    case 'arr':
      return `[${j.items.map(render).join(',')}]`;
    case 'obj':
      return `{${j.pairs.map(([k, v]) => `${JSON.stringify(k)}:${render(v)}`).join(',')}}`;
    case 'deep': {
      const open = j.key === null ? '[' : `{${JSON.stringify(j.key)}:`;
      const close = j.key === null ? ']' : '}';
      return open.repeat(j.depth) + render(j.inner) + close.repeat(j.depth);
    }
    case 'many': {
      const one = render(j.item);
      return `[${new Array(j.count).fill(one).join(',')}]`;
    }
  }
}

/** Keys that trip naive object handling: prototype members, getters' names, odd spellings. */
export const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__', 'isPrototypeOf', 'toJSON', 'then'];

export const protoKey = fc.constantFrom(...PROTO_KEYS);

/** Strings that are hard for parsers, matchers, SQL and URL handling. */
export const nastyString = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'grapheme', maxLength: 10 }),
  fc.constantFrom(
    '',
    ' ',
    "'",
    '"',
    '\\',
    '%',
    '%zz',
    '%E0%A4%A',
    '\u0000',
    '\uD800',
    "' OR 1=1 --",
    '); DROP TABLE resources; --',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a template-injection probe, on purpose
    '${x}',
    '../../etc/passwd',
    'urn:uuid:',
    'Patient/',
    'Patient/BILIBABY',
    '#',
    '?',
    '&',
    '=',
    'null',
    'undefined',
    'NaN',
    '1e400',
    '-0',
    '2018-03-04',
    '2018-13-45T25:61:61Z',
    '9999999999999999999999',
    'a'.repeat(5000),
    ...PROTO_KEYS,
  ),
);

export const nastyNumber: fc.Arbitrary<J> = fc.oneof(
  fc.integer().map((v) => lit(v)),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((v) => lit(v)),
  fc.constantFrom('1e400', '-1e400', '-0', '123456789012345678901234567890', '0.1e-400', '9007199254740993', '1E+2').map((raw): J => ({ t: 'num', raw })),
);

export const leaf: fc.Arbitrary<J> = fc.oneof(
  { weight: 3, arbitrary: nastyString.map((v) => lit(v)) },
  { weight: 2, arbitrary: nastyNumber },
  { weight: 1, arbitrary: fc.boolean().map((v) => lit(v)) },
  { weight: 1, arbitrary: fc.constant(lit(null)) },
);

/** Short leaves for the expanded shapes (a long string times 150,000 would be a test bug, not a probe). */
export const smallLeaf: fc.Arbitrary<J> = fc.oneof(
  fc.string({ maxLength: 8 }).map((v) => lit(v)),
  fc.integer().map((v) => lit(v)),
  fc.boolean().map((v) => lit(v)),
  fc.constant(lit(null)),
  fc.constant(obj(['family', lit('x')])),
);

/** Depths and sizes: mostly small, sometimes at and far beyond any sensible limit. */
export const depth = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 1, max: 64 }) }, { weight: 2, arbitrary: fc.integer({ min: 65, max: 2000 }) }, { weight: 1, arbitrary: fc.constantFrom(10_000, 60_000) });
export const count = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 100 }) }, { weight: 2, arbitrary: fc.integer({ min: 101, max: 5000 }) }, { weight: 1, arbitrary: fc.constantFrom(50_000, 150_000) });

/** Any JSON value, with keys drawn from `keys` (plus prototype-ish and random ones). */
export function anyJson(keys: fc.Arbitrary<string>, maxDepth = 3): fc.Arbitrary<J> {
  const key = fc.oneof({ weight: 6, arbitrary: keys }, { weight: 1, arbitrary: protoKey }, { weight: 1, arbitrary: fc.string({ maxLength: 8 }) });
  const { value } = fc.letrec<{ value: J }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true, maxDepth },
      { weight: 4, arbitrary: leaf },
      { weight: 2, arbitrary: fc.array(tie('value'), { maxLength: 4 }).map((items): J => ({ t: 'arr', items })) },
      { weight: 2, arbitrary: fc.array(fc.tuple(key, tie('value')), { maxLength: 5 }).map((pairs): J => ({ t: 'obj', pairs })) },
      { weight: 1, arbitrary: fc.record({ depth, key: fc.option(key, { nil: null }), inner: smallLeaf }).map((d): J => ({ t: 'deep', ...d })) },
      { weight: 1, arbitrary: fc.record({ count, item: smallLeaf }).map((m): J => ({ t: 'many', ...m })) },
    ),
  }));
  return value;
}

/** encodeURIComponent that never throws: a lone surrogate becomes its (invalid) UTF-8 bytes. */
export function enc(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return '%ED%A0%80';
  }
}
