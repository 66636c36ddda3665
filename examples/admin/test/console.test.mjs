// The admin console in a real browser (Debian's Chromium, driven by
// puppeteer-core), with two admins on pages of their own: the first finds
// alice, sees her balance and transfers, and reverses a share above the
// approval threshold; the second approves it; the first sees the points back,
// resolves a transfer parked for review as what the provider holds allows,
// and reads all three acts in the audit log. Saves a screenshot of both pages.
//
// Run by scripts/browser-test against a server of its own: a provider
// simulator it may stop (PROVIDER_PID) to park a transfer for review, the
// bootstrap admin ADMIN_EMAIL / ADMIN_PASSWORD, approvals above 100 points.
// The other settings are in ../../test/browser.mjs.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { Person, apiUrl, launch, screenshot, sideBySide, waitMs } from "../../test/browser.mjs";

const adminEmail = process.env.ADMIN_EMAIL ?? "boss@example.com";
const adminPassword = process.env.ADMIN_PASSWORD ?? "";
const providerPid = Number(process.env.PROVIDER_PID ?? 0);
const password = "a good password";
const viewport = { width: 1000, height: 900 };

let browser;
before(async () => (browser = await launch()));
after(async () => {
  if (providerPid) process.kill(providerPid, "SIGCONT");
  await browser?.close();
});

// ---- the API, for what happens before the console opens -------------------------

async function call(method, path, { token, body, key } = {}) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  if (key) headers["idempotency-key"] = key;
  const response = await fetch(`${apiUrl}${path}`, { method, headers, body: body && JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

async function expectOk(what, answer) {
  const { status, body } = await answer;
  assert.ok(status >= 200 && status < 300, `${what}: HTTP ${status} ${JSON.stringify(body)}`);
  return body;
}

async function login(email, secret) {
  return (await expectOk(`login ${email}`, call("POST", "/v1/auth/login", { body: { email, password: secret } })))
    .access_token;
}

async function member(handle) {
  const email = `${handle}@example.com`;
  await expectOk(`signup ${handle}`, call("POST", "/v1/auth/signup",
    { body: { email, password, handle, display_name: handle[0].toUpperCase() + handle.slice(1) } }));
  return login(email, password);
}

async function eventually(what, check) {
  const until = Date.now() + 3 * waitMs;
  for (;;) {
    const found = await check();
    if (found) return found;
    assert.ok(Date.now() < until, `waited in vain for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

// The simulator's scheduling state from /proc ("T" once stopped, "S" or
// "R" while it runs), or why it cannot be read.
async function providerState() {
  try {
    const stat = await readFile(`/proc/${providerPid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
  } catch (error) {
    return `unreadable (${error.code})`;
  }
}

// Stops the simulator and waits until the kernel has it stopped: the share
// that follows must find it silent, or it settles and nothing is parked.
async function stopProvider() {
  assert.ok(providerPid > 0, "PROVIDER_PID is not set: run this through scripts/browser-test");
  process.kill(providerPid, "SIGSTOP");
  await eventually("the provider simulator to be stopped", async () => (await providerState()) === "T");
}

// Alice (1,000 points) shared 500 with bob, and 7 with carol while the
// provider was stopped: recovery gave up on that one and parked it for review.
async function setUp(boss) {
  const [alice] = [await member("alice"), await member("bob"), await member("carol"), await member("zed")];
  const zed = await expectOk("find zed", call("GET", "/v1/admin/members?query=zed", { token: boss }));
  await expectOk("promote zed", call("PUT", `/v1/admin/members/${zed.items[0].id}/role`,
    { token: boss, body: { role: "admin", reason: "the second pair of eyes" } }));
  await expectOk("grant alice", call("POST", "/v1/admin/grants",
    { token: boss, key: "start", body: { to_handle: "alice", amount: 1000, reason: "welcome" } }));
  await expectOk("alice shares with bob", call("POST", "/v1/transfers",
    { token: alice, key: "to-bob", body: { to_handle: "bob", amount: 500, memo: "meant for bea" } }));
  await stopProvider();
  try {
    const share = await call("POST", "/v1/transfers",
      { token: alice, key: "to-carol", body: { to_handle: "carol", amount: 7 } });
    assert.equal(share.status, 202,
      `alice shares with carol while the provider is stopped: expected it still processing, got HTTP ${share.status} ${JSON.stringify(share.body)}`);
    let seen;
    await eventually("recovery to park the share to carol in needs_review", async () => {
      seen = await call("GET", `/v1/transfers/${share.body.id}`, { token: alice });
      return seen.body?.state === "needs_review";
    }).catch(async (error) => {
      error.message += `; the share now: HTTP ${seen?.status} ${JSON.stringify(seen?.body)}; the provider: ${await providerState()}`;
      throw error;
    });
    const parked = await expectOk("alice's parked transfers", call("GET", "/v1/transfers?state=needs_review", { token: alice }));
    assert.deepEqual(parked.items.map((item) => item.id), [share.body.id], "alice's needs_review list holds the share to carol alone");
  } finally {
    process.kill(providerPid, "SIGCONT");
  }
  // Once the provider answers again, the review shows what it holds.
  await eventually("the provider to answer for the parked transfer", async () => {
    const { body } = await call("GET", "/v1/admin/reviews", { token: boss });
    return body?.items?.[0] && !body.items[0].provider_problem;
  });
}

// ---- the console -----------------------------------------------------------------

// What an admin's console shows now, for failure messages.
function shown() {
  const rows = (testid) => [...document.querySelectorAll(`[data-testid=${testid}]`)].map((row) => ({ ...row.dataset }));
  const status = (testid) => {
    const element = document.querySelector(`[data-testid=${testid}]`);
    return element ? `${element.dataset.state}${element.dataset.transferState ? `/${element.dataset.transferState}` : ""}: ${element.textContent}` : null;
  };
  return {
    session: document.body.dataset.session ?? null,
    balance: document.querySelector("[data-testid=member-balance]")?.dataset.balance ?? null,
    statuses: ["login-status", "reverse-status", "approval-status", "review-status", "app-status"].map(status),
    members: rows("member-row"),
    transfers: rows("member-transfer-row"),
    approvals: rows("approval-row"),
    reviews: rows("review-row"),
    audit: rows("audit-row").slice(0, 6),
  };
}

async function signIn(name, email, secret) {
  const admin = await Person.open(browser, name, "/admin/", viewport, shown);
  await admin.fill({ email, password: secret });
  await admin.page.click("[data-testid=login-button]");
  await admin.waitFor(`${name} to be signed in to the console`, () => Boolean(document.body.dataset.session));
  return admin;
}

async function clickIn(admin, rowSelector, buttonTestid) {
  await admin.page.$eval(`${rowSelector} [data-testid=${buttonTestid}]`, (button) => button.click());
}

const balanceShown = () => Number(document.querySelector("[data-testid=member-balance]")?.dataset.balance);

test("two admins reverse a large share, resolve a review and read the audit log", async () => {
  const bossToken = await login(adminEmail, adminPassword);
  await setUp(bossToken);

  const boss = await signIn("admin", adminEmail, adminPassword);
  boss.caption = "admin (asks for the reversal)";
  await boss.fill({ "member-query": "ali" });
  await boss.page.click("[data-testid=member-search-button]");
  await boss.waitFor("alice in the search results",
    () => [...document.querySelectorAll("[data-testid=member-row]")].some((row) => row.dataset.handle === "alice"));
  await clickIn(boss, "[data-testid=member-row][data-handle=alice]", "open-member");
  const toBob = "[data-testid=member-transfer-row][data-to=bob][data-kind=share]";
  await boss.waitFor("alice's card with her balance and the 500 she shared with bob",
    (row) => document.querySelector("[data-testid=member-balance]")?.dataset.balance !== "" &&
      document.querySelector(row)?.dataset.state === "completed", toBob);
  const before = await boss.page.evaluate(balanceShown);

  await boss.fill({ "reverse-reason": "shared with the wrong member" });
  await clickIn(boss, toBob, "reverse-button");
  await boss.waitFor("the reversal to wait for a second admin (above the threshold)",
    () => document.querySelector("[data-testid=reverse-status]")?.dataset.transferState === "awaiting_approval");
  await boss.waitFor("the reversal in the approvals list, asked by admin",
    () => [...document.querySelectorAll("[data-testid=approval-row]")].some((row) =>
      row.dataset.amount === "500" && row.dataset.requestedBy === "admin"));

  const zed = await signIn("zed", "zed@example.com", password);
  zed.caption = "zed (the second admin approves)";
  const waiting = "[data-testid=approval-row][data-amount='500']";
  await zed.waitFor("the reversal waiting for zed", (row) => Boolean(document.querySelector(row)), waiting);
  await zed.fill({ "approval-reason": "confirmed with alice" });
  await clickIn(zed, waiting, "approve-button");
  await zed.waitFor("the approved reversal to complete",
    () => document.querySelector("[data-testid=approval-status]")?.dataset.transferState === "completed");
  await zed.waitFor("the approvals list to be empty",
    () => document.querySelectorAll("[data-testid=approval-row]").length === 0);

  await clickIn(boss, "[data-testid=member-row][data-handle=alice]", "open-member");
  await boss.waitFor("alice's balance 500 higher, and the share reversed in full",
    (expected, row) => Number(document.querySelector("[data-testid=member-balance]")?.dataset.balance) === expected &&
      document.querySelector(row)?.dataset.reversed === "500", before + 500, toBob);

  await boss.page.click("[data-testid=reviews-refresh]");
  const parked = "[data-testid=review-row][data-amount='7']";
  await boss.waitFor("the share to carol in the review queue", (row) => Boolean(document.querySelector(row)), parked);
  // As a support agent would, decide by what the provider holds: the share's
  // debit may have landed before the provider stopped, and then its credit,
  // sent while it was stopped, lands when it resumes; only completing fits that.
  const held = await boss.page.$eval(parked, (row) => row.dataset.held);
  const credited = /credit: credit/.test(held);
  await boss.fill({ "review-reason": credited ? "carol was credited after all; completed" : "the provider was down; refunded" });
  await clickIn(boss, parked, credited ? "complete-button" : "refund-button");
  await boss.waitFor(`the review to be resolved by what the provider holds (${held})`,
    (states) => states.includes(document.querySelector("[data-testid=review-status]")?.dataset.transferState),
    credited ? ["completed"] : ["reversed", "rejected"]);

  await boss.page.click("[data-testid=audit-refresh]");
  await boss.waitFor("the reversal, the approval and the resolution in the audit log",
    () => ["reversal", "approval", "resolution"].every((action) =>
      [...document.querySelectorAll("[data-testid=audit-row]")].some((row) => row.dataset.action === action)));
  const actors = await boss.page.evaluate(() =>
    Object.fromEntries([...document.querySelectorAll("[data-testid=audit-row]")].map((row) => [row.dataset.action, row.dataset.actor])));
  assert.notEqual(actors.reversal, actors.approval, "two different admins");

  if (screenshot) await sideBySide(browser, [boss, zed], screenshot);
});
