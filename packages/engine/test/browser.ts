/**
 * What the portal's browser tests share: Debian's Chromium driven by playwright-core (headless,
 * trusting the run's test certificate), a page per signed-in person that records what it printed
 * and failed on, waiting for something to be visible with a failure that tells what the page
 * showed, sign-in, and screenshots into PORTAL_SCREENSHOTS (how docs/screenshots/ is made).
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Locator, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

export async function launch(): Promise<Browser> {
  assert.ok(existsSync(CHROMIUM), "Debian's chromium package is needed (./vela installs it)");
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
}

/** A page in a context of its own (its own sessionStorage: one signed-in person), and what it said. */
export interface Tab {
  page: Page;
  said: string[];
  close: () => Promise<void>;
}

export async function newTab(browser: Browser, viewport = { width: 1280, height: 800 }): Promise<Tab> {
  const ctx = await browser.newContext({ viewport, ignoreHTTPSErrors: true });
  const page = await ctx.newPage();
  const said: string[] = [];
  page.on("console", (m) => said.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => said.push(`error: ${String(e)}`));
  return { page, said, close: () => ctx.close() };
}

/** Waits for `loc` to be visible; a failure tells what the page showed and said. */
export async function see(tab: Tab, what: string, loc: Locator, timeout = 15_000): Promise<Locator> {
  try {
    await loc.first().waitFor({ state: "visible", timeout });
    return loc.first();
  } catch (err) {
    const text = await tab.page.locator("body").innerText().catch(() => "(no page)");
    throw new Error(`${what}: not seen (${(err as Error).message.split("\n")[0]})\npage shows:\n${text.slice(0, 1500)}\npage said:\n${tab.said.slice(-15).join("\n")}`);
  }
}

/** Opens `url`, again when another test's network changes abort the load (ERR_NETWORK_CHANGED). */
export async function open(tab: Tab, url: string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await tab.page.goto(url);
      return;
    } catch (err) {
      if (i >= 4 || !/ERR_NETWORK_CHANGED/.test(String(err))) throw err;
    }
  }
}

export async function signIn(tab: Tab, user: string, password: string): Promise<void> {
  await tab.page.getByLabel("User name").fill(user);
  await tab.page.getByLabel("Password", { exact: true }).fill(password);
  await tab.page.getByRole("button", { name: "Sign in" }).click();
}

/** With PORTAL_SCREENSHOTS=<dir>, saves the page as <dir>/<name>.png; otherwise nothing. */
export async function shot(tab: Tab, name: string): Promise<void> {
  const dir = process.env.PORTAL_SCREENSHOTS;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  await tab.page.screenshot({ path: join(dir, `${name}.png`) });
}
