// Smoke test of the demo app in a real Chromium (playwright-core), without any SMART launch: the
// pages must load under their CSP with no violation, and say in words that authorization is missing.
// The full launch → chart → POST flow is the end-to-end suite's job.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { type Browser, chromium, type Page } from 'playwright-core';
import { registerDemoApps } from '../../src/apps/routes.js';
import { resolveConfig } from '../../src/config/config.js';
import { installErrorHandlers } from '../../src/http/errors.js';

const CHROMIUM = '/usr/bin/chromium';
const required = process.env.SMART_SANDBOX_REQUIRE_ALL_SUITES === '1';
const available = fs.existsSync(CHROMIUM);
const skip = available ? false : `Chromium not found at ${CHROMIUM}: browser smoke test skipped`;
if (!available) {
  if (required) throw new Error(`SMART_SANDBOX_REQUIRE_ALL_SUITES=1 but Chromium is missing at ${CHROMIUM}`);
  console.warn(`# ${skip}`);
}

describe('bilirubin chart in Chromium without a launch', { skip }, () => {
  let app: FastifyInstance;
  let browser: Browser;
  let base: string;

  before(async () => {
    app = Fastify({ logger: false });
    installErrorHandlers(app);
    await registerDemoApps(app, { config: resolveConfig({ publicUrl: 'http://127.0.0.1:1' }) });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });
  after(async () => {
    await browser?.close();
    await app?.close();
  });

  /** Opens a page and records console errors (CSP violations are reported there) and page errors. */
  async function open(path: string): Promise<{ page: Page; problems: string[] }> {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(`${base}${path}`);
    return { page, problems };
  }

  test('index.html says authorization is missing', async () => {
    const { page, problems } = await open('/apps/bilirubin-chart/index.html');
    const error = page.getByTestId('error');
    await error.waitFor({ state: 'visible' });
    assert.match((await error.textContent()) ?? '', /authorization is missing/i);
    assert.equal(await page.getByTestId('bili-point').count(), 0);
    assert.equal(await page.getByTestId('patient-banner').isVisible(), false);
    assert.equal(await page.evaluate(() => typeof (window as unknown as { FHIR?: unknown }).FHIR), 'object');
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('launch.html without iss says why authorization cannot start and offers a standalone launch', async () => {
    const { page, problems } = await open('/apps/bilirubin-chart/launch.html');
    const error = page.getByTestId('error');
    await error.waitFor({ state: 'visible' });
    assert.match((await error.textContent()) ?? '', /Authorization cannot start: no FHIR server was given/);
    const iss = page.getByLabel('FHIR base URL');
    assert.equal(await iss.isVisible(), true);
    // The form navigates to launch.html?iss=…, where fhirclient tries discovery on an unreachable
    // server and the page says so in words.
    await iss.fill('http://127.0.0.1:1/demo/data');
    await iss.press('Enter');
    await page.waitForURL(/launch\.html\?iss=/);
    await page.getByTestId('error').waitFor({ state: 'visible' });
    assert.match((await page.getByTestId('error').textContent()) ?? '', /^Authorization cannot start: /);
    // The refused fetch of an unreachable server is logged by the browser; nothing else may be.
    assert.deepEqual(
      problems.filter((p) => !/127\.0\.0\.1:1\/|ERR_CONNECTION_REFUSED|Failed to load resource|Content Security Policy.*connect-src/.test(p)),
      [],
    );
    await page.close();
  });
});
