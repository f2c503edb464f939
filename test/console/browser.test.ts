/**
 * The console in Chromium over the whole application (issue 6 "Done when"): open the printed link,
 * create a sandbox, register an app from a manifest, add a persona, save a scenario, launch
 * bilirubin_chart for BILIBABY as the practitioner inside the simulated EHR frame and see 8 points,
 * add a measurement and see 9, relaunch the scenario in one click, and find the launches in the
 * inspector — with no CSP violation on the way. Set SMART_SANDBOX_SCREENSHOTS=<dir> to save
 * screenshots of the main pages.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { buildApp } from '../../src/app.js';
import { resolveConfig } from '../../src/config/config.js';
import { createSandbox } from '../../src/sandbox/lifecycle.js';
import { createServices, type Services } from '../../src/services.js';
import { chromiumSkip, launchChromium } from '../helpers/chromium.js';
import { freePort } from '../helpers/server.js';

const skip = chromiumSkip();
const TOKEN = 'browser-test-admin-token-0123456789';
const SHOTS = process.env.SMART_SANDBOX_SCREENSHOTS;

describe('console in Chromium', { skip }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-'));
  let services: Services;
  let app: FastifyInstance;
  let browser: Browser;
  let base: string;
  let page: Page;
  const problems: string[] = [];

  before(async () => {
    const port = await freePort();
    const config = resolveConfig({ dataDir: dir, demo: false, port, logLevel: 'silent', adminToken: TOKEN });
    services = await createServices(config);
    (await createSandbox(services, 'demo', { data: { kind: 'demo' } }));
    app = await buildApp(config, services);
    await app.listen({ host: '127.0.0.1', port });
    base = config.publicUrl;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy|Refused/i.test(m.text())) problems.push(m.text());
    });
  });

  after(async () => {
    await browser?.close();
    await app?.close();
    await services?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const shot = async (name: string) => {
    if (SHOTS) await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  };

  test('from the printed link to a framed launch, a new measurement, a relaunch and the inspector', async () => {
    await page.goto(`${base}/?token=${TOKEN}`);
    assert.equal(new URL(page.url()).search, '', 'the token left the address bar');
    await page.getByRole('heading', { name: 'Sandboxes' }).waitFor();
    await shot('sandboxes');

    // Create a sandbox with the form.
    await page.getByLabel('Id', { exact: true }).fill('team-b');
    await page.getByLabel('Name', { exact: true }).fill('Team B');
    await page.getByRole('button', { name: 'Create sandbox' }).click();
    await page.getByText('Sandbox ready with').waitFor();
    assert.match(page.url(), /\/console\/s\/team-b/);
    await shot('overview');

    // Back to the demo sandbox: register an app from a manifest.
    await page.goto(`${base}/console/s/demo/apps`);
    await page.getByLabel('or the manifest JSON').fill(
      JSON.stringify({ software_id: 'my_local_app', client_name: 'My Local App', token_endpoint_auth_method: 'none', launch_url: 'http://localhost:3000/launch', redirect_uris: ['http://localhost:3000/'] }),
    );
    await page.getByRole('button', { name: 'Register from manifest' }).click();
    await page.getByText('App my_local_app saved.').waitFor();
    await shot('apps');

    // Add a persona.
    await page.getByRole('link', { name: 'Personas' }).click();
    await page.getByLabel('Username', { exact: true }).fill('dr-b');
    await page.getByLabel('Resource', { exact: true }).fill('Practitioner/demo-practitioner-01');
    await page.getByRole('button', { name: 'Add persona' }).click();
    await page.getByText('shown only this once').waitFor();

    // Launch page: bilirubin_chart for BILIBABY as the practitioner, banner by the EHR frame; save it.
    await page.goto(`${base}/console/s/demo/launch?patient=BILIBABY`);
    await page.getByLabel('App', { exact: true }).selectOption('bilirubin_chart');
    await page.getByLabel('Persona', { exact: true }).selectOption('practitioner');
    await page.getByLabel(/the app shows its own patient banner/).uncheck();
    await page.getByLabel('Scenario name').fill('Bili in the EHR');
    await page.getByRole('button', { name: 'Save scenario' }).click();
    await page.getByText('Scenario Bili in the EHR saved.').waitFor();
    await shot('launch');
    await page.getByRole('button', { name: 'Launch in the EHR frame' }).click();

    await page.getByTestId('ehr-patient-banner').waitFor();
    const frame = page.frameLocator('iframe.ehr-app');
    await frame.getByTestId('bili-point').first().waitFor({ timeout: 30_000 });
    assert.equal(await frame.getByTestId('bili-point').count(), 8);
    assert.equal(await frame.getByTestId('patient-banner').isVisible(), false, 'the app hides its banner, the frame shows it');
    await shot('ehr-frame');
    await frame.getByTestId('add-form').waitFor({ state: 'visible' });
    await frame.getByLabel('Date and time').fill('2018-03-06T12:00');
    await frame.getByLabel('Bilirubin (mg/dL)').fill('12.4');
    await frame.getByRole('button', { name: /save/i }).click();
    await page.waitForFunction(() => {
      const f = document.querySelector('iframe.ehr-app') as HTMLIFrameElement | null;
      return f?.contentDocument?.querySelectorAll('[data-testid="bili-point"]').length === 9;
    });

    // Relaunch the saved scenario in one click.
    await page.getByRole('link', { name: /Back to the console/ }).click();
    const row = page.getByRole('row', { name: /Bili in the EHR/ });
    await row.getByRole('button', { name: 'Launch in EHR frame' }).click();
    await page.frameLocator('iframe.ehr-app').getByTestId('bili-point').nth(8).waitFor({ timeout: 30_000 });
    assert.equal(await page.frameLocator('iframe.ehr-app').getByTestId('bili-point').count(), 9);

    // The inspector lists both launches with their use.
    await page.goto(`${base}/console/s/demo/inspector`);
    const used = page.getByText(/token success/);
    await used.first().waitFor();
    assert.ok((await used.count()) >= 2, 'both launches were redeemed');
    await shot('inspector');
    assert.deepEqual(problems, []);
  });
});
