/**
 * Debian's Chromium through playwright-core (never a downloaded browser). Suites that need it skip
 * loudly when it is missing, and fail under SMART_SANDBOX_REQUIRE_ALL_SUITES=1 (set by .ci/run).
 */
import fs from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export function chromiumSkip(): string | false {
  if (fs.existsSync(CHROMIUM)) return false;
  if (process.env.SMART_SANDBOX_REQUIRE_ALL_SUITES === '1') throw new Error(`SMART_SANDBOX_REQUIRE_ALL_SUITES=1 but Chromium is missing at ${CHROMIUM}`);
  const why = `Chromium not found at ${CHROMIUM} (apt-get install -y chromium): browser suite skipped`;
  console.warn(`# ${why}`);
  return why;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}
