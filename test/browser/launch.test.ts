/**
 * Real launches in Chromium (issue #4 and #6): the bilirubin chart app, the login, patient picker and
 * consent pages of the authorization server, the chart with BILIBABY's 8 points, and a new measurement.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { resolveConfig } from '../../src/config/config.js';
import { type RunningServer, startServer } from '../../src/main.js';
import { chromiumSkip, launchChromium } from '../helpers/chromium.js';
import { tempDir } from '../helpers/server.js';

const skip = chromiumSkip();

describe('launches in Chromium', { skip }, () => {
  const tmp = tempDir('ss-browser-');
  let server: RunningServer;
  let browser: Browser;
  let base: string;
  let doc: { username: string; password: string };
  const printed: string[] = [];

  before(async () => {
    server = await startServer(resolveConfig({ dataDir: tmp.dir, port: 0, logLevel: 'silent' }), (line) => printed.push(line));
    base = server.config.publicUrl;
    const demo = (await server.services.tenants.get('demo'))!;
    const p = (await server.services.auth.personas.list(demo.key)).find((x) => x.resource.startsWith('Practitioner/'))!;
    doc = { username: p.username, password: p.demoPassword! };
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    tmp.remove();
  });

  async function newPage(): Promise<{ page: Page; problems: string[] }> {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) problems.push(m.text());
    });
    return { page, problems };
  }

  async function signIn(page: Page): Promise<void> {
    await page.getByLabel('Username').fill(doc.username);
    await page.getByLabel('Password').fill(doc.password);
    await page.getByRole('button', { name: /sign in/i }).click();
  }

  test('EHR launch of bilirubin_chart: login, chart with 8 points, banner hidden, add a measurement → 9', async () => {
    const demo = (await server.services.tenants.get('demo'))!;
    const launch = (await server.services.launch.register(demo, { kind: 'admin', name: 'test' }, { client_id: 'bilirubin_chart', parameters: { patient: 'BILIBABY', need_patient_banner: false } }));
    const { page, problems } = await newPage();
    await page.goto(launch.launch_url!);
    await page.waitForURL(/\/demo\/auth\//);
    await signIn(page);
    await page.waitForURL(/\/apps\/bilirubin-chart\/index\.html/);
    const points = page.getByTestId('bili-point');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="bili-point"]').length > 0);
    assert.equal(await points.count(), 8);
    assert.equal(await page.getByTestId('patient-banner').isVisible(), false, 'need_patient_banner false hides the app banner');

    const form = page.getByTestId('add-form');
    await form.waitFor({ state: 'visible' });
    await page.getByLabel('Date and time').fill('2018-03-06T12:00');
    await page.getByLabel('Bilirubin (mg/dL)').fill('12.4');
    await page.getByRole('button', { name: /save/i }).click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="bili-point"]').length === 9);
    assert.equal(await points.count(), 9);
    const stored = (await server.services.fhir.search(demo.key, 'Observation', new URLSearchParams({ patient: 'BILIBABY', code: '58941-6', _count: '50' })));
    assert.equal(stored.length, 9, 'the new Observation is stored');
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('standalone launch through login, patient picker and consent pages', async () => {
    // A sandbox whose bilirubin_chart asks for consent, so that every page of the flow is seen.
    const { services } = server;
    const demo = (await services.tenants.get('demo'))!;
    const original = (await services.auth.clients.getClient(demo.key, 'bilirubin_chart'))!;
    (await services.auth.clients.remove(demo.key, 'bilirubin_chart'));
    (await services.auth.clients.add(demo.key, {
      clientId: 'bilirubin_chart',
      public: true,
      redirectUris: original.redirectUris,
      launchUri: original.launchUri,
      scope: original.scope,
      consent: 'prompt',
    }));
    const { page, problems } = await newPage();
    await page.goto(`${base}/apps/bilirubin-chart/launch.html?iss=${encodeURIComponent(`${base}/demo/data`)}`);
    await page.waitForURL(/\/demo\/auth\//);
    await signIn(page);

    await page.getByRole('heading', { name: /choose a patient/i }).waitFor();
    await page.getByLabel('Search by name').fill('Bili');
    await page.getByRole('button', { name: /search/i }).click();
    await page.getByLabel(/Baby Bili/).check();
    await page.getByRole('button', { name: /continue/i }).click();

    await page.getByText(/patient\/Observation\.read|observations/i).first().waitFor();
    const allow = page.getByRole('button', { name: /allow|approve/i });
    await allow.click();
    await page.waitForURL(/\/apps\/bilirubin-chart\/index\.html/);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="bili-point"]').length > 0);
    assert.ok((await page.getByTestId('bili-point').count()) >= 8);
    assert.equal(await page.getByTestId('patient-banner').isVisible(), true, 'a standalone launch shows the app banner');
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('the link serve prints opens the console ready to launch: one click shows the chart in the EHR frame', async () => {
    const line = printed.find((l) => l.startsWith('launch the bilirubin chart for BILIBABY: '));
    assert.ok(line, `serve prints the launch link: ${printed.join(' | ')}`);
    const { page, problems } = await newPage();
    await page.goto(line.slice(line.indexOf('http')));
    await page.getByRole('button', { name: 'Launch in the EHR frame' }).click();
    const frame = page.frameLocator('iframe');
    await frame.getByTestId('bili-point').first().waitFor();
    const demo = (await server.services.tenants.get('demo'))!;
    const stored = (await server.services.fhir.search(demo.key, 'Observation', new URLSearchParams({ patient: 'BILIBABY', code: '58941-6', _count: '50' }))).length;
    assert.ok(stored >= 8);
    assert.equal(await frame.getByTestId('bili-point').count(), stored, 'one point per stored bilirubin observation');
    assert.deepEqual(problems, []);
    await page.close();
  });
});
