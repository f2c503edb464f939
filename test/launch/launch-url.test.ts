/** Matching a CDS Hooks card link to apps' launch URIs (docs/architecture.md §5): origin and path only. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { launchUrlKey } from '../../src/launch/lifecycle.js';

test('launch URLs match by origin and path; query, fragment, host case and default ports do not matter', () => {
  const same = [
    ['https://apps.example/bili/launch.html', 'https://APPS.example:443/bili/launch.html?lang=en#top'],
    ['http://127.0.0.1:9000/launch', 'http://127.0.0.1:9000/launch?iss=x&launch=y'],
    ['http://apps.example/launch', 'http://apps.example:80/launch'],
  ];
  for (const [a, b] of same) assert.equal(launchUrlKey(a), launchUrlKey(b), `${a} ~ ${b}`);
  const different = [
    ['https://apps.example/bili/launch.html', 'http://apps.example/bili/launch.html'],
    ['https://apps.example/bili/launch.html', 'https://apps.example/bili/launch'],
    ['https://apps.example/bili/launch.html', 'https://apps.example:8443/bili/launch.html'],
    ['https://apps.example/bili/launch.html', 'https://other.example/bili/launch.html'],
    ['https://apps.example/Bili/launch.html', 'https://apps.example/bili/launch.html'],
  ];
  for (const [a, b] of different) assert.notEqual(launchUrlKey(a), launchUrlKey(b), `${a} ≁ ${b}`);
  assert.equal(launchUrlKey('not a url'), undefined);
  assert.equal(launchUrlKey('javascript:alert(1)'), undefined);
});
