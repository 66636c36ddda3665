// The web example in a real browser (Debian's Chromium, driven by
// puppeteer-core): alice and bob log in on pages of their own (separate
// incognito contexts), alice shares 25 points with bob, and bob's page shows
// the incoming transfer and his new balance from the event stream, without
// reloading; alice's shows her new balance. Saves a screenshot of both pages.
//
// Run by scripts/browser-test, which serves the page and the API and sets:
//   WEB_URL      the page's origin (http://127.0.0.1:PORT)
//   API_URL      the API's base URL (its CORS origins include WEB_URL)
//   CHROMIUM     the browser (default /usr/bin/chromium)
//   SCREENSHOT   where to save the picture of both pages
//   ARTIFACTS    where to save screenshots when a step fails
//   WAIT_MS      how long each step may take (default 20000)

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import puppeteer from "puppeteer-core";

const webUrl = required("WEB_URL");
const apiUrl = required("API_URL");
const chromium = process.env.CHROMIUM ?? "/usr/bin/chromium";
const screenshot = process.env.SCREENSHOT ?? "";
const artifacts = process.env.ARTIFACTS ?? "";
const waitMs = Number(process.env.WAIT_MS ?? 20000);
const password = "pointshare-demo";
const viewport = { width: 640, height: 680 };

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this through scripts/browser-test`);
  return value;
}

let browser;
const pages = {}; // name -> { page, log: string[] }

before(async () => {
  browser = await puppeteer.launch({
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
    defaultViewport: viewport,
    protocolTimeout: 60_000,
  });
});

after(async () => {
  await browser?.close();
});

// A page for one member, in its own incognito context, its console and
// failures kept to tell what went wrong.
async function open(name) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  const log = [];
  page.on("console", (message) => log.push(`console.${message.type()}: ${message.text()}`));
  page.on("pageerror", (error) => log.push(`page error: ${error.message}`));
  page.on("requestfailed", (request) =>
    log.push(`request failed: ${request.method()} ${request.url()}: ${request.failure()?.errorText}`));
  page.on("response", (response) => {
    if (response.status() >= 400) log.push(`HTTP ${response.status()}: ${response.request().method()} ${response.url()}`);
  });
  let navigations = 0;
  page.on("framenavigated", (frame) => {
    if (frame === page.mainFrame()) navigations += 1;
  });
  pages[name] = { page, log, navigations: () => navigations };
  const url = `${webUrl}/?api=${encodeURIComponent(apiUrl)}`;
  const response = await page.goto(url, { waitUntil: "load", timeout: waitMs });
  assert.equal(response?.status(), 200, `${name}'s page ${url} answered ${response?.status()}`);
  await waitFor(name, "the page's script to start", () => document.body.dataset.ready === "true");
  return page;
}

// What a member's page shows now, for failure messages.
async function shown(name) {
  const { page } = pages[name];
  return page.evaluate(() => ({
    session: document.body.dataset.session ?? null,
    balance: document.querySelector("[data-testid=balance]")?.dataset.balance ?? null,
    live: document.querySelector("[data-testid=live-status]")?.textContent ?? null,
    loginStatus: document.querySelector("[data-testid=login-status]")?.textContent ?? null,
    shareStatus: document.querySelector("[data-testid=share-status]")?.textContent ?? null,
    appStatus: document.querySelector("[data-testid=app-status]")?.textContent ?? null,
    rows: [...document.querySelectorAll("[data-testid=transfer-row]")].map((row) => ({ ...row.dataset })),
  }));
}

// Waits (at most WAIT_MS) until `predicate` holds in the member's page, or
// fails saying what was awaited, what the page shows and what it logged.
async function waitFor(name, what, predicate, ...args) {
  const { page, log } = pages[name];
  try {
    await page.waitForFunction(predicate, { timeout: waitMs, polling: 100 }, ...args);
  } catch (error) {
    let state = "(unreadable)";
    try {
      state = JSON.stringify(await shown(name), null, 2);
    } catch {}
    if (artifacts) {
      await mkdir(artifacts, { recursive: true });
      const file = path.join(artifacts, `${name}-failed.png`);
      await page.screenshot({ path: file, fullPage: true }).catch(() => {});
      log.push(`screenshot of the failure: ${file}`);
    }
    throw new Error(
      `${name}'s page: waited ${waitMs / 1000} s for ${what}, in vain (${error.message.split("\n")[0]}).\n` +
        `The page shows: ${state}\nIts log:\n  ${log.join("\n  ") || "(empty)"}`,
    );
  }
}

async function logIn(name) {
  const page = await open(name);
  await page.type("[data-testid=email]", `${name}@pointshare.test`);
  await page.type("[data-testid=password]", password);
  await page.click("[data-testid=login-button]");
  await waitFor(name, `${name} to be logged in (cross-origin, through CORS)`,
    (handle) => document.body.dataset.session === handle, name);
  await waitFor(name, "the balance to show 10000",
    () => document.querySelector("[data-testid=balance]")?.dataset.balance === "10000");
  await waitFor(name, "the event stream to be live (GET /v1/me/events, event `ready`)",
    () => document.querySelector("[data-testid=live-status]")?.dataset.state === "live");
  return page;
}

test("a share shows on both pages live, from the event stream", async () => {
  const alice = await logIn("alice");
  const bob = await logIn("bob");
  // A mark in bob's page that a reload would wipe.
  await bob.evaluate(() => (window.__notReloaded = true));
  const bobNavigations = pages.bob.navigations();

  await alice.type("[data-testid=share-to]", "bob");
  await alice.type("[data-testid=share-amount]", "25");
  await alice.type("[data-testid=share-memo]", "lunch");
  await alice.click("[data-testid=share-button]");
  await waitFor("alice", "the share to be accepted (201 or 202)",
    () => document.querySelector("[data-testid=share-status]")?.dataset.state === "done");

  await waitFor("bob", "the incoming transfer of 25 from alice, completed, in the list",
    () => [...document.querySelectorAll("[data-testid=transfer-row]")].some((row) =>
      row.dataset.direction === "received" && row.dataset.counterparty === "alice" &&
      row.dataset.amount === "25" && row.dataset.state === "completed"));
  await waitFor("bob", "the balance to show 10025",
    () => document.querySelector("[data-testid=balance]")?.dataset.balance === "10025");
  await waitFor("alice", "the balance to show 9975",
    () => document.querySelector("[data-testid=balance]")?.dataset.balance === "9975");
  await waitFor("alice", "the sent transfer, completed, in the list",
    () => [...document.querySelectorAll("[data-testid=transfer-row]")].some((row) =>
      row.dataset.direction === "sent" && row.dataset.counterparty === "bob" &&
      row.dataset.amount === "25" && row.dataset.state === "completed"));

  assert.equal(await bob.evaluate(() => window.__notReloaded === true), true, "bob's page was reloaded");
  assert.equal(pages.bob.navigations(), bobNavigations, "bob's page navigated");

  if (screenshot) await sideBySide(screenshot);
});

// One picture of both pages, side by side, each under its member's name.
async function sideBySide(file) {
  const shots = {};
  for (const name of ["alice", "bob"]) {
    shots[name] = Buffer.from(await pages[name].page.screenshot({ type: "png" })).toString("base64");
  }
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport({ width: viewport.width * 2 + 48, height: viewport.height + 56 });
  await page.setContent(`<!doctype html><html><body style="margin:0;padding:12px 16px;display:flex;gap:16px;
      background:#d0d5dd;font:600 14px system-ui,sans-serif;color:#344054">
    ${["alice", "bob"].map((name) => `<figure style="margin:0"><figcaption style="margin:0 0 6px">${name}</figcaption>
      <img style="display:block;border:1px solid #98a2b3;border-radius:4px" width="${viewport.width}"
        src="data:image/png;base64,${shots[name]}"></figure>`).join("")}
  </body></html>`, { waitUntil: "load" });
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, await page.screenshot({ type: "png" }));
  await context.close();
}
