// What the examples' browser tests share: Debian's Chromium driven by
// puppeteer-core, one incognito context per person (and more tabs in it),
// waits that fail saying what the page showed and logged, and side-by-side
// screenshots.
//
// scripts/browser-test serves the pages and the API and sets:
//   WEB_URL      the pages' origin (http://127.0.0.1:PORT), serving examples/
//   API_URL      the API's base URL (its CORS origins include WEB_URL)
//   CHROMIUM     the browser (default /usr/bin/chromium)
//   SCREENSHOT   where to save the test's picture; empty: none
//   ARTIFACTS    where to save screenshots when a step fails
//   WAIT_MS      how long each step may take (default 20000)

import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import puppeteer from "puppeteer-core";

export const webUrl = required("WEB_URL");
export const apiUrl = required("API_URL");
export const screenshot = process.env.SCREENSHOT ?? "";
const chromium = process.env.CHROMIUM ?? "/usr/bin/chromium";
const artifacts = process.env.ARTIFACTS ?? "";
export const waitMs = Number(process.env.WAIT_MS ?? 20000);

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this through scripts/browser-test`);
  return value;
}

export async function launch() {
  return puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: [
      "--no-sandbox", // as root
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      // This machine reaches nothing outside; keep Chromium from trying.
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    protocolTimeout: 60_000,
  });
}

/** One person's page: in its own incognito context, its console and failures kept to tell what went wrong. */
export class Person {
  constructor(name, page, shown) {
    this.name = name;
    this.page = page;
    this.log = [];
    this.navigations = 0;
    // What the page shows now, for failure messages: a function evaluated in it.
    this.shown = shown;
  }

  static async open(browser, name, pagePath, viewport, shown) {
    const context = await browser.createBrowserContext();
    return Person.#load(context, name, pagePath, viewport, shown);
  }

  /**
   * Another tab of this person's browser: a page of its own in the same
   * context, which shares this one's localStorage (and Web Locks), as a tab
   * opened beside it would.
   */
  async openTab(name, pagePath) {
    return Person.#load(this.page.browserContext(), name, pagePath, this.page.viewport(), this.shown);
  }

  static async #load(context, name, pagePath, viewport, shown) {
    const page = await context.newPage();
    await page.setViewport(viewport);
    const person = new Person(name, page, shown);
    page.on("console", (message) => person.log.push(`console.${message.type()}: ${message.text()}`));
    page.on("pageerror", (error) => person.log.push(`page error: ${error.message}`));
    page.on("requestfailed", (request) =>
      person.log.push(`request failed: ${request.method()} ${request.url()}: ${request.failure()?.errorText}`));
    page.on("response", (response) => {
      if (response.status() >= 400) {
        person.log.push(`HTTP ${response.status()}: ${response.request().method()} ${response.url()}`);
      }
    });
    page.on("framenavigated", (frame) => {
      if (frame === page.mainFrame()) person.navigations += 1;
    });
    const url = `${webUrl}${pagePath}?api=${encodeURIComponent(apiUrl)}`;
    const response = await page.goto(url, { waitUntil: "load", timeout: waitMs });
    // 304: a tab beside another one has the page in its cache, and revalidates it.
    assert.ok([200, 304].includes(response?.status()), `${name}'s page ${url} answered ${response?.status()}`);
    await person.waitFor("the page's script to start", () => document.body.dataset.ready === "true");
    return person;
  }

  /**
   * Waits (at most WAIT_MS) until `predicate` holds in the page, or fails
   * saying what was awaited, what the page shows and what it logged.
   */
  async waitFor(what, predicate, ...args) {
    try {
      await this.page.waitForFunction(predicate, { timeout: waitMs, polling: 100 }, ...args);
    } catch (error) {
      let state = "(unreadable)";
      try {
        state = JSON.stringify(await this.page.evaluate(this.shown), null, 2);
      } catch {}
      if (artifacts) {
        await mkdir(artifacts, { recursive: true });
        const file = path.join(artifacts, `${this.name}-failed.png`);
        await this.page.screenshot({ path: file, fullPage: true }).catch(() => {});
        this.log.push(`screenshot of the failure: ${file}`);
      }
      throw new Error(
        `${this.name}'s page: waited ${waitMs / 1000} s for ${what}, in vain (${error.message.split("\n")[0]}).\n` +
          `The page shows: ${state}\nIts log:\n  ${this.log.join("\n  ") || "(empty)"}`,
      );
    }
  }

  /** Types into the fields by test id, replacing what they held. */
  async fill(fields) {
    for (const [testid, value] of Object.entries(fields)) {
      const selector = `[data-testid=${testid}]`;
      await this.page.$eval(selector, (input) => (input.value = ""));
      await this.page.type(selector, value);
    }
  }
}

/** One picture of the people's pages, side by side, each under its caption. */
export async function sideBySide(browser, people, file) {
  const shots = [];
  for (const person of people) {
    const { width } = person.page.viewport();
    const png = Buffer.from(await person.page.screenshot({ type: "png", fullPage: true })).toString("base64");
    shots.push({ caption: person.caption ?? person.name, width, png });
  }
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  const width = shots.reduce((sum, shot) => sum + shot.width + 16, 16);
  await page.setViewport({ width, height: 400 });
  await page.setContent(`<!doctype html><html><body style="margin:0;padding:12px 16px;display:flex;gap:16px;
      align-items:flex-start;background:#d0d5dd;font:600 14px system-ui,sans-serif;color:#344054">
    ${shots.map(({ caption, width, png }) => `<figure style="margin:0"><figcaption style="margin:0 0 6px">${caption}</figcaption>
      <img style="display:block;border:1px solid #98a2b3;border-radius:4px" width="${width}"
        src="data:image/png;base64,${png}"></figure>`).join("")}
  </body></html>`, { waitUntil: "load" });
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, await page.screenshot({ type: "png", fullPage: true }));
  await context.close();
}
