/** The JSON pre-scan and parameter helpers of src/config/limits.ts, on their own. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { countParam, jsonShapeError, LIMITS, offsetParam, parseJsonWithinLimits } from '../../src/config/limits.js';
import { FhirError } from '../../src/errors/errors.js';

const violated = (text: string) => /limit (\w+)/.exec(jsonShapeError(text)?.message ?? '')?.[1];

describe('limits', () => {
  test('JSON depth: containers count, brackets inside strings (escaped quotes included) do not', () => {
    assert.equal(violated('['.repeat(LIMITS.jsonDepth) + ']'.repeat(LIMITS.jsonDepth)), undefined);
    assert.equal(violated('['.repeat(LIMITS.jsonDepth + 1)), 'jsonDepth');
    assert.equal(violated(`{"a":${'{"b":'.repeat(LIMITS.jsonDepth)}1${'}'.repeat(LIMITS.jsonDepth + 1)}`), 'jsonDepth');
    assert.equal(violated(`["${'['.repeat(500)}"]`), undefined);
    assert.equal(violated(`["\\"${'['.repeat(500)}"]`), undefined, 'an escaped quote does not end the string');
    assert.equal(violated(`["\\\\", ${'['.repeat(500)}`), 'jsonDepth', 'an escaped backslash does');
    assert.equal(violated('['.repeat(50_000) + ']'.repeat(50_000)), 'jsonDepth');
  });

  test('JSON array length: elements of one array, not of the whole body', () => {
    const arr = (n: number) => `[${Array(n).fill('1').join(',')}]`;
    assert.equal(violated(arr(LIMITS.jsonArrayLength)), undefined);
    assert.equal(violated(arr(LIMITS.jsonArrayLength + 1)), 'jsonArrayLength');
    assert.equal(violated(`[${Array(20).fill(arr(LIMITS.jsonArrayLength)).join(',')}]`), undefined);
    const obj = `{${Array.from({ length: LIMITS.jsonArrayLength + 5 }, (_, i) => `"k${i}":1`).join(',')}}`;
    assert.equal(violated(obj), undefined, 'object members are not array elements');
    assert.equal(violated(`["a,b,c,d"]`), undefined, 'commas in strings');
  });

  test('malformed JSON passes the scan and is left to JSON.parse', () => {
    assert.equal(jsonShapeError('{"a":"unterminated'), undefined);
    assert.throws(() => parseJsonWithinLimits('{"a":'), SyntaxError);
    assert.throws(() => parseJsonWithinLimits('['.repeat(30_000)), FhirError);
  });

  test('_count and _offset: integers within their limits, huge values refused without losing precision', () => {
    assert.equal(countParam('_count', String(LIMITS.count)), LIMITS.count);
    assert.throws(() => countParam('_count', String(LIMITS.count + 1)), /limit count \(at most 1000\)/);
    assert.throws(() => countParam('_count', '-1'), /non-negative integer/);
    assert.equal(offsetParam('_offset', String(2 ** 53)), 2 ** 53);
    assert.throws(() => offsetParam('_offset', '9007199254740993'), /limit offset/);
    assert.throws(() => offsetParam('_offset', '9223372036854775808'), /limit offset/);
    assert.throws(() => offsetParam('_offset', '1e3'), /non-negative integer/);
  });
});
