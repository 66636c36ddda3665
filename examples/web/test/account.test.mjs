// The member page's account screens in a real browser (Debian's Chromium,
// driven by puppeteer-core), against a server that mails through a real SMTP
// server (scripts/with-servers' aiosmtpd, which writes each delivered mail
// into MAILDIR/new) with its links to this page's hash routes, and whose
// access tokens last 8 s:
// - a member signed up through the API opens the verification link of the
//   mail the signup sent, and the page says the address is verified;
// - "Forgot your password?": the page asks for a reset, the link is taken
//   from the delivered mail and opened; a password the server refuses shows
//   its detail, a good one is set, the link does not work twice, and the
//   member logs in with the new password, not the old one;
// - another device logs in too: the Sessions card lists both, signs the
//   other out, and the other page falls back to its login view;
// - a second tab of the member's browser is logged in from the session the
//   first one stored, both stay logged in through several refreshes of it
//   (their timers due together, one refreshing and the other adopting the
//   new pair), both still load the balance, and logging out in one logs out
//   the other.
// Saves a screenshot of the member's page and the other device's.
// Run by scripts/browser-test (the settings are in ../../test/browser.mjs;
// MAILDIR is where the SMTP server delivers).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile, readdir } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { simpleParser } from "mailparser";
import { Person, apiUrl, launch, screenshot, sideBySide, waitMs, webUrl } from "../../test/browser.mjs";

const maildir = process.env.MAILDIR;
if (!maildir) throw new Error("MAILDIR is not set: run this through scripts/with-servers scripts/browser-test");

const viewport = { width: 640, height: 900 };
// One member per run, so that a rerun against the same server starts afresh.
const handle = `acct_${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
const email = `${handle}@pointshare.test`;
const oldPassword = "first-password-41";
const newPassword = "second-password-42";
const otherDevice = "Mozilla/5.0 (pointshare browser test; the member's other device)";

let browser;
let member; // the member's page, from the first test on
let other; // the other device's page
before(async () => {
  browser = await launch();
  const signup = await fetch(`${apiUrl}/v1/auth/signup`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password: oldPassword, handle, display_name: "Robin Reset" }),
  });
  assert.equal(signup.status, 201, `signup answered ${signup.status}: ${await signup.text()}`);
});
after(async () => browser?.close());

// What the page shows now, for failure messages.
function shown() {
  const text = (testid) => document.querySelector(`[data-testid=${testid}]`)?.textContent ?? null;
  return {
    url: location.href,
    session: document.body.dataset.session ?? null,
    view: ["login-view", "forgot-view", "reset-view", "account-view"]
      .filter((view) => document.querySelector(`[data-testid=${view}]`)?.hidden === false),
    notice: text("notice"),
    loginStatus: text("login-status"),
    forgotStatus: text("forgot-status"),
    resetStatus: text("reset-status"),
    sessionsStatus: text("sessions-status"),
    appStatus: text("app-status"),
    live: text("live-status"),
    balance: document.querySelector("[data-testid=balance]")?.dataset.balance ?? null,
    sessions: [...document.querySelectorAll("[data-testid=session-row]")].map((row) => ({
      ...row.dataset,
      device: row.querySelector("[data-testid=session-device]")?.textContent,
    })),
  };
}

const viewShown = (view) => document.querySelector(`[data-testid=${view}]`)?.hidden === false;

// The link to `page` (verify-email, reset-password) in the mail to `address`,
// once the SMTP server has delivered it (a file in MAILDIR/new).
async function mailedLink(address, page) {
  const pattern = new RegExp(`https?://\\S+/${page}\\?token=\\S+`);
  const deadline = Date.now() + waitMs;
  const seen = [];
  while (Date.now() < deadline) {
    seen.length = 0;
    for (const file of await readdir(path.join(maildir, "new"))) {
      const mail = await simpleParser(await readFile(path.join(maildir, "new", file)));
      const to = [mail.to ?? []].flat().flatMap((list) => list.value.map((box) => box.address?.toLowerCase()));
      seen.push(`${to.join(", ")}: ${mail.subject}`);
      const link = to.includes(address) ? mail.text?.match(pattern)?.[0] : undefined;
      if (link) return link;
    }
    await sleep(200);
  }
  throw new Error(`no mail to ${address} with a ${page} link in ${maildir}/new after ${waitMs / 1000} s; ` +
    `delivered: ${seen.join("; ") || "nothing"}`);
}

// Opens a mailed link in the person's page (a load, or a new hash on the same page).
async function follow(person, link) {
  await person.page.goto(link, { waitUntil: "load", timeout: waitMs });
  await person.waitFor("the page's script to start", () => document.body.dataset.ready === "true");
}

async function logIn(person, password) {
  await person.fill({ email, password });
  await person.page.click("[data-testid=login-button]");
}

async function waitLoggedIn(person, what) {
  await person.waitFor(what, (handle) => document.body.dataset.session === handle, handle);
  await person.waitFor("the balance to show", () => document.querySelector("[data-testid=balance]")?.dataset.balance);
}

// Until `done()` holds in this process (at most WAIT_MS), or fails saying what was awaited.
async function until(what, done) {
  const deadline = Date.now() + waitMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`waited ${waitMs / 1000} s for ${what}, in vain`);
    await sleep(100);
  }
}

test("the signup mail's link verifies the address", async () => {
  member = await Person.open(browser, "member", "/web/", viewport, shown);
  const link = await mailedLink(email, "verify-email");
  assert.ok(link.startsWith(`${webUrl}/web/?api=`), `the link ${link} leads to the page`);
  await follow(member, link);
  await member.waitFor("the page to say the address is verified",
    () => document.querySelector("[data-testid=notice]")?.dataset.state === "done" &&
      /verified/.test(document.querySelector("[data-testid=notice]").textContent));
  assert.equal(await member.page.evaluate(() => location.hash), "", "the used token left the address bar");
});

test("forgot password → mail → new password → log in", async () => {
  await member.page.click("[data-testid=forgot-link]");
  await member.waitFor("the forgot-password view", viewShown, "forgot-view");
  await member.fill({ "forgot-email": email });
  await member.page.click("[data-testid=forgot-button]");
  await member.waitFor("the page to say a link is on its way",
    () => document.querySelector("[data-testid=forgot-status]")?.dataset.state === "done" &&
      document.querySelector("[data-testid=forgot-status]").textContent ===
        "If a member has that address, a link is on its way");

  const link = await mailedLink(email, "reset-password");
  assert.ok(link.startsWith(`${webUrl}/web/?api=`), `the link ${link} leads to the page`);
  await follow(member, link);
  await member.waitFor("the new-password view", viewShown, "reset-view");

  // One character repeated: the server refuses it (422), and the page says why.
  await member.fill({ "new-password": "xxxxxxxxxx" });
  await member.page.click("[data-testid=reset-button]");
  await member.waitFor("the refusal of a weak password, with the problem's detail",
    () => document.querySelector("[data-testid=reset-status]")?.dataset.state === "error" &&
      /password/i.test(document.querySelector("[data-testid=reset-status]").textContent));

  await member.fill({ "new-password": newPassword });
  await member.page.click("[data-testid=reset-button]");
  await member.waitFor("the login view, telling to log in with the new password",
    () => document.querySelector("[data-testid=login-view]")?.hidden === false &&
      /new one/.test(document.querySelector("[data-testid=login-status]")?.textContent ?? ""));
  assert.equal(await member.page.evaluate(() => location.hash), "", "the used token left the address bar");

  // The link works once.
  await follow(member, link);
  await member.waitFor("the new-password view again", viewShown, "reset-view");
  await member.fill({ "new-password": "third-password-43" });
  await member.page.click("[data-testid=reset-button]");
  await member.waitFor("the used link to be refused (invalid_token), saying so",
    () => document.querySelector("[data-testid=reset-status]")?.dataset.state === "error" &&
      document.querySelector("[data-testid=reset-status]").textContent !== "");
  await member.page.click("[data-testid=reset-back]");
  await member.waitFor("the login view", viewShown, "login-view");

  await logIn(member, oldPassword);
  await member.waitFor("the old password to be refused",
    () => document.querySelector("[data-testid=login-status]")?.dataset.state === "error");
  await logIn(member, newPassword);
  await waitLoggedIn(member, "the member to be logged in with the new password");
});

test("the Sessions card signs another device out, whose page falls back to its login view", async () => {
  other = await Person.open(browser, "other-device", "/web/", viewport, shown);
  other.caption = "the member's other device";
  await other.page.setUserAgent({ userAgent: otherDevice });
  await logIn(other, newPassword);
  await waitLoggedIn(other, "the other device to be logged in");

  await member.page.click("[data-testid=reload-button]");
  await member.waitFor("the Sessions card to list this device and the other one",
    (otherDevice) => {
      const rows = [...document.querySelectorAll("[data-testid=session-row]")];
      const device = (row) => row.querySelector("[data-testid=session-device]")?.textContent;
      return rows.length === 2 && rows.some((row) => row.dataset.current === "true") &&
        rows.some((row) => row.dataset.current === "false" && device(row) === otherDevice);
    }, otherDevice);
  member.caption = "the member's page: Sessions";
  if (screenshot) await sideBySide(browser, [member, other], screenshot);

  await member.page.click("[data-testid=session-row][data-current=false] [data-testid=session-sign-out]");
  await member.waitFor("the Sessions card to list this device alone",
    () => [...document.querySelectorAll("[data-testid=session-row]")].map((row) => row.dataset.current).join() === "true");
  await other.waitFor("the other device's page to fall back to its login view, saying the session ended",
    () => document.body.dataset.session === undefined &&
      document.querySelector("[data-testid=login-view]")?.hidden === false &&
      /ended/.test(document.querySelector("[data-testid=login-status]")?.textContent ?? ""));
  await member.page.click("[data-testid=reload-button]");
  await member.waitFor("the member's page to stay logged in",
    (handle) => document.body.dataset.session === handle &&
      document.querySelector("[data-testid=app-status]")?.dataset.state !== "error", handle);
});

test("two tabs share the session through several refreshes, and log out together", async (t) => {
  // Every answer to POST /v1/auth/refresh either tab gets, from now on.
  const refreshes = [];
  const started = Date.now();
  const count = (tab) => (response) => {
    if (response.request().method() === "POST" && response.url() === `${apiUrl}/v1/auth/refresh`) {
      refreshes.push({ tab, status: response.status(), at: `${((Date.now() - started) / 1000).toFixed(1)} s` });
    }
  };
  member.page.on("response", count("first"));
  const second = await member.openTab("member-second-tab", "/web/");
  second.page.on("response", count("second"));
  await waitLoggedIn(second, "the second tab to be logged in from the stored session");

  // Access tokens last 8 s, and both tabs' timers are due at the same moment.
  for (let round = 1; round <= 3; round += 1) {
    await until(`refresh ${round} of the shared session (so far: ${JSON.stringify(refreshes)})`,
      () => refreshes.filter(({ status }) => status === 200).length >= round);
  }
  t.diagnostic(`refreshes: ${refreshes.map(({ tab, status, at }) => `${tab} tab ${status} at ${at}`).join(", ")}`);
  assert.deepEqual(refreshes.filter(({ status }) => status !== 200), [], "a refresh was refused");
  for (const tab of [member, second]) {
    await tab.waitFor("the tab to be still logged in", (handle) => document.body.dataset.session === handle, handle);
    // A tab behind another does not render, so nothing could be clicked in it: switch to it, as a person would.
    await tab.page.bringToFront();
    const [balance] = await Promise.all([
      tab.page.waitForResponse((response) => response.url() === `${apiUrl}/v1/me/balance`, { timeout: waitMs }),
      tab.page.click("[data-testid=reload-button]"),
    ]);
    // 304: the browser revalidated the balance it holds with its ETag, with the fresh token.
    assert.ok([200, 304].includes(balance.status()), `${tab.name} loads the balance after the refreshes: ${balance.status()}`);
  }

  await second.page.click("[data-testid=logout-button]");
  await second.waitFor("the second tab's login view", viewShown, "login-view");
  await member.waitFor("the first tab to be logged out too, saying so",
    () => document.body.dataset.session === undefined &&
      document.querySelector("[data-testid=login-view]")?.hidden === false &&
      /another tab/.test(document.querySelector("[data-testid=login-status]")?.textContent ?? ""));
});
