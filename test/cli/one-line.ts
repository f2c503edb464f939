import assert from 'node:assert/strict';
import type { CliResult } from '../helpers/server.js';

/** Progress lines (src/cli/progress.ts) that a long import may print before its error. */
const PROGRESS_LINE = /^[\w ]+: \d+(\/\d+)? resources.*\/s$/;

/**
 * A user's mistake: exactly one error line on stderr (besides progress lines), `smart-sandbox: …`
 * matching `pattern`, no stack trace, the exit code given.
 */
export function assertOneLine(r: CliResult, status: number, pattern: RegExp, what: string): void {
  assert.equal(r.status, status, `${what} should exit ${status}: ${r.stdout}${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  const lines = r.stderr.trimEnd().split('\n').filter((l) => !PROGRESS_LINE.test(l));
  assert.equal(lines.length, 1, `${what}: one line on stderr, got ${r.stderr}`);
  assert.match(lines[0], /^smart-sandbox: /);
  assert.match(lines[0], pattern);
}
