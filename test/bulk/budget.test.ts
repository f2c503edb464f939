/**
 * Exports read for long by design: the interactive query time budget (docs/adr/0006) does not apply
 * to them, also when they run inline on the API's process — with a 1 ms budget, every page query of
 * an export would be past it, yet the export completes with every resource.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type BulkServer, download, exportAll, startBulkServer } from './helpers.js';

describe('bulk export and the query time budget', () => {
  let s: BulkServer;
  let sys: string;
  before(async () => {
    s = await startBulkServer({ runner: 'inline', queryBudgetMs: 1 });
    sys = await s.systemToken('exporter', 'system/*.rs');
  });
  after(() => s.close());

  test('an inline export under a 1 ms budget completes with every resource', async () => {
    let stored = 0;
    for await (const _ of s.services.fhir.exportAll(s.sandbox.key)) stored++;
    const { manifest } = await exportAll(`${s.urls.iss}/$export`, sys);
    assert.deepEqual(manifest.error, []);
    const files = await download(manifest, sys);
    assert.equal([...files.values()].reduce((n, rs) => n + rs.length, 0), stored);
  });
});
