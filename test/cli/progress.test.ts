/**
 * Progress lines of the CLI (src/cli/progress.ts) on a terminal and in a log, on an injected clock.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { progress } from '../../src/cli/progress.js';

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  return { isTTY, chunks, write: (s: string) => chunks.push(s) > 0 } as unknown as NodeJS.WritableStream & { isTTY: boolean; chunks: string[] };
}

describe('CLI progress', () => {
  test('not a terminal: a plain line once per period, counting resources with a rate, then a total', () => {
    const out = sink(false);
    let now = 0;
    const p = progress('importing into x', 3000, { stream: out, now: () => now, plainEveryMs: 5000 });
    now = 1000;
    p.update(500);
    assert.deepEqual(out.chunks, [], 'nothing before the first period');
    now = 5000;
    p.update(1000);
    now = 6000;
    p.update(1500);
    now = 10_000;
    p.update(2500);
    now = 12_000;
    p.update(3000);
    p.stop();
    assert.deepEqual(out.chunks, [
      'importing into x: 1000/3000 resources (33%), 200/s\n',
      'importing into x: 2500/3000 resources (83%), 250/s\n',
      'importing into x: 3000 resources in 12.0 s, 250/s\n',
    ]);
  });

  test('a terminal: one line redrawn in place; an unknown total shows the count only; silent stop clears it', () => {
    const out = sink(true);
    let now = 0;
    const p = progress('validating', undefined, { stream: out, now: () => now });
    now = 200;
    p.update(50);
    assert.deepEqual(out.chunks, ['\rvalidating: 50 resources, 250/s\u001b[K']);
    p.stop({ silent: true });
    assert.equal(out.chunks.at(-1), '\r\u001b[K');
    p.update(60);
    assert.equal(out.chunks.length, 2, 'nothing after stop');
  });

  test('slow work shows a decimal rate', () => {
    const out = sink(false);
    let now = 0;
    const p = progress('loading demo', 10, { stream: out, now: () => now, plainEveryMs: 0 });
    now = 4000;
    p.update(2);
    p.stop();
    assert.deepEqual(out.chunks, ['loading demo: 2/10 resources (20%), 0.5/s\n', 'loading demo: 2 resources in 4.0 s, 0.5/s\n']);
  });
});
