import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { type Browser, type ConsoleMessage, chromium, type Page } from 'playwright-core';
import { PNG } from 'pngjs';

/** Debian's chromium (`apt-get install chromium`); playwright's own browser download is not used. */
export const CHROMIUM = process.env.QSCALE_CHROMIUM ?? '/usr/bin/chromium';
/** Screenshots of the test runs (git-ignored). */
export const RESULTS_DIR = fileURLToPath(new URL('../../test-results/', import.meta.url));

/**
 * Launches Debian's chromium headless. As root (containers, CI) Chromium refuses to start with
 * its sandbox, which needs an unprivileged user for its namespaces: --no-sandbox is added then,
 * and only then. The pages it opens are the daemon's own, on loopback.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `no chromium at ${CHROMIUM}: install Debian's (apt-get install chromium) or set QSCALE_CHROMIUM`,
    );
  }
  const root = process.getuid?.() === 0;
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // A busy machine can take long to start a browser.
    timeout: 120_000,
    args: root ? ['--no-sandbox'] : [],
  });
}

/** Console errors and CSP violations a page reported, for the test to assert none. */
export function watchConsole(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (message: ConsoleMessage) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  return problems;
}

/** Saves a screenshot (of the page or one element) into test-results/ and decodes it. */
export async function screenshot(
  target: Pick<Page, 'screenshot'>,
  name: string,
  options: { fullPage?: boolean } = {},
): Promise<PNG> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const buffer = await target.screenshot({ path: `${RESULTS_DIR}${name}.png`, ...options });
  return PNG.sync.read(buffer);
}

/** How many different colours a decoded PNG holds (a blank or single-colour area has 1). */
export function distinctColours(png: PNG): number {
  const colours = new Set<number>();
  for (let i = 0; i < png.data.length; i += 4) {
    colours.add(png.data.readUInt32BE(i));
    if (colours.size > 1_000) break;
  }
  return colours.size;
}
