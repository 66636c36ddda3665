// The web example in a real browser (Debian's Chromium, driven by
// puppeteer-core): alice and bob log in on pages of their own (separate
// incognito contexts), alice shares 25 points with bob, and bob's page shows
// the incoming transfer and his new balance from the event stream, without
// reloading; alice's shows her new balance. Saves a screenshot of both pages.
// Run by scripts/browser-test (the settings are in ../../test/browser.mjs).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Person, launch, screenshot, sideBySide } from "../../test/browser.mjs";

const password = "pointshare-demo";
const viewport = { width: 640, height: 680 };

let browser;
before(async () => (browser = await launch()));
after(async () => browser?.close());

// What a member's page shows now, for failure messages.
function shown() {
  return {
    session: document.body.dataset.session ?? null,
    balance: document.querySelector("[data-testid=balance]")?.dataset.balance ?? null,
    live: document.querySelector("[data-testid=live-status]")?.textContent ?? null,
    loginStatus: document.querySelector("[data-testid=login-status]")?.textContent ?? null,
    shareStatus: document.querySelector("[data-testid=share-status]")?.textContent ?? null,
    appStatus: document.querySelector("[data-testid=app-status]")?.textContent ?? null,
    rows: [...document.querySelectorAll("[data-testid=transfer-row]")].map((row) => ({ ...row.dataset })),
  };
}

async function logIn(name) {
  const member = await Person.open(browser, name, "/web/", viewport, shown);
  await member.fill({ email: `${name}@pointshare.test`, password });
  await member.page.click("[data-testid=login-button]");
  await member.waitFor(`${name} to be logged in (cross-origin, through CORS)`,
    (handle) => document.body.dataset.session === handle, name);
  await member.waitFor("the balance to show 10000",
    () => document.querySelector("[data-testid=balance]")?.dataset.balance === "10000");
  await member.waitFor("the event stream to be live (GET /v1/me/events, event `ready`)",
    () => document.querySelector("[data-testid=live-status]")?.dataset.state === "live");
  return member;
}

test("a share shows on both pages live, from the event stream", async () => {
  const alice = await logIn("alice");
  const bob = await logIn("bob");
  // A mark in bob's page that a reload would wipe.
  await bob.page.evaluate(() => (window.__notReloaded = true));
  const bobNavigations = bob.navigations;

  // One refusal names every invalid field: the amount (above the schema's maximum) and the memo
  // (a control character, the memo's own rule) in one 422, each input marked.
  await alice.fill({ "share-to": "bob", "share-amount": "1000000000001" });
  await alice.page.$eval("[data-testid=share-memo]", (input) => (input.value = "bad\u0007memo"));
  await alice.page.click("[data-testid=share-button]");
  await alice.waitFor("the amount and the memo marked invalid by one answer",
    () => document.querySelector("[data-testid=share-amount]")?.dataset.invalid !== undefined &&
      document.querySelector("[data-testid=share-memo]")?.dataset.invalid !== undefined &&
      document.querySelector("[data-testid=share-status]")?.dataset.state === "error");
  assert.match(await alice.page.$eval("[data-testid=share-amount]", (input) => input.dataset.invalid), /^at most /);
  await alice.page.$eval("[data-testid=share-memo]", (input) => (input.value = ""));

  // The recipient picker: two letters of the handle (GET /v1/members?prefix=), then a click.
  await alice.fill({ "share-to": "bo" });
  await alice.waitFor("bob among the suggestions for \"bo\"",
    () => document.querySelector("[data-testid=share-to-suggestions]")?.dataset.source === "search" &&
      document.querySelector("[data-testid=suggestion][data-handle=bob]") !== null);
  await alice.page.click("[data-testid=suggestion][data-handle=bob]");
  assert.equal(await alice.page.$eval("[data-testid=share-to]", (input) => input.value), "bob");
  await alice.fill({ "share-amount": "25", "share-memo": "lunch" });
  await alice.page.click("[data-testid=share-button]");
  await alice.waitFor("the share to be accepted (201 or 202)",
    () => document.querySelector("[data-testid=share-status]")?.dataset.state === "done");
  // Read cross-origin through CORS: the RateLimit header of the share's answer.
  assert.match(await alice.page.$eval("[data-testid=share-allowance]", (p) => p.dataset.remaining), /^\d+$/,
    "the page shows what is left of her share allowance");

  await bob.waitFor("the incoming transfer of 25 from alice, completed, in the list",
    () => [...document.querySelectorAll("[data-testid=transfer-row]")].some((row) =>
      row.dataset.direction === "received" && row.dataset.counterparty === "alice" &&
      row.dataset.amount === "25" && row.dataset.state === "completed"));
  await bob.waitFor("the balance to show 10025",
    () => document.querySelector("[data-testid=balance]")?.dataset.balance === "10025");
  await alice.waitFor("the balance to show 9975",
    () => document.querySelector("[data-testid=balance]")?.dataset.balance === "9975");
  await alice.waitFor("the sent transfer, completed, in the list",
    () => [...document.querySelectorAll("[data-testid=transfer-row]")].some((row) =>
      row.dataset.direction === "sent" && row.dataset.counterparty === "bob" &&
      row.dataset.amount === "25" && row.dataset.state === "completed"));

  // Whom she shared with lately, offered when the field is empty (GET /v1/me/recipients).
  await alice.page.$eval("[data-testid=share-to]", (input) => input.blur());
  await alice.page.focus("[data-testid=share-to]");
  await alice.waitFor("bob among her recent recipients",
    () => document.querySelector("[data-testid=share-to-suggestions]")?.dataset.source === "recent" &&
      document.querySelector("[data-testid=suggestion][data-handle=bob]") !== null);

  assert.equal(await bob.page.evaluate(() => window.__notReloaded === true), true, "bob's page was reloaded");
  assert.equal(bob.navigations, bobNavigations, "bob's page navigated");

  // Two shares a minute on this server: her third is refused, and the page says for how long.
  for (const amount of ["1", "1"]) {
    await alice.fill({ "share-to": "bob", "share-amount": amount });
    await alice.page.click("[data-testid=share-button]");
    await alice.waitFor("the share to be answered",
      () => ["done", "error"].includes(document.querySelector("[data-testid=share-status]")?.dataset.state ?? ""));
  }
  await alice.waitFor("a 429 the page explains from its RateLimit header",
    () => /^too many shares for now: try again in \d+ s$/.test(
      document.querySelector("[data-testid=share-status]")?.textContent ?? ""));

  if (screenshot) await sideBySide(browser, [alice, bob], screenshot);
});
