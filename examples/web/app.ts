// The web example: a static page on the typed client (clients/typescript).
// Log in, see the balance, share points, and watch balance and transfers
// change live from the member's event stream (GET /v1/me/events); see and
// end the member's sessions on other devices; ask for a password reset and
// follow the mailed links (a new password, a verified email address).
// The session is shared by the origin's tabs (the client's SessionKeeper,
// through localStorage): a new tab is logged in, a logout logs out them all.
// The API's base URL comes from the page's query: ?api=http://127.0.0.1:8080
// Mailed links open it on hash routes (the server's POINTSHARE_PUBLIC_URL
// being this page's URL ending in "#"): #/reset-password?token=… and
// #/verify-email?token=…; "Forgot your password?" is #/forgot-password.

import {
  SessionKeeper,
  createPointshareClient,
  subscribeToEvents,
  type BalanceView,
  type EventSubscription,
  type MemberView,
  type SessionEndReason,
  type SessionView,
  type TokenView,
  type TransferView,
} from "../../clients/typescript/src/index.ts";
import { $, apiBase, describe, markInvalid, newKey, points, setStatus, when } from "../shared.ts";

$("api-url").textContent = apiBase;

interface Session {
  tokens: SessionKeeper;
  handle: string;
  events?: EventSubscription;
}
let session: Session | undefined;
const api = createPointshareClient(apiBase, () => session?.tokens.accessToken);
// One session per API for the tabs of this origin.
const STORAGE_KEY = `pointshare.session ${apiBase}`;

// A request that carried the session's token was refused (401): the session
// may have been ended elsewhere (another device signed it out, a password
// reset). A refresh tells: a refused one ends the session here (onEnded).
api.use({
  onResponse({ request, response }) {
    if (response.status === 401 && request.headers.has("Authorization")) void session?.tokens.refreshNow();
  },
});

let balance: BalanceView | undefined;
const transfers = new Map<string, TransferView>();
const SHOWN = 20;

function setLive(state: "off" | "connecting" | "live" | "error", text: string): void {
  const element = $("live-status");
  element.dataset["state"] = state;
  element.textContent = text;
}

// ---- balance -------------------------------------------------------------

function showBalance(view: BalanceView): void {
  // An answer older than the one shown (a slow fetch passed by an event) is stale.
  if (balance && Date.parse(view.as_of) < Date.parse(balance.as_of)) return;
  balance = view;
  const element = $("balance");
  element.textContent = points.format(view.balance);
  element.dataset["balance"] = String(view.balance);
  $("balance-as-of").textContent = `as of ${new Date(view.as_of).toLocaleTimeString()}`;
}

async function loadBalance(): Promise<void> {
  const { data, error } = await api.GET("/v1/me/balance");
  if (data) showBalance(data);
  else setStatus("app-status", `balance: ${describe(error, "unavailable")}`, "error");
}

// ---- transfers -----------------------------------------------------------

function upsertTransfer(transfer: TransferView): void {
  const known = transfers.get(transfer.id);
  if (known && Date.parse(known.updated_at) > Date.parse(transfer.updated_at)) return;
  transfers.set(transfer.id, transfer);
  renderTransfers();
}

function renderTransfers(): void {
  const body = $("transfers-body");
  const newest = [...transfers.values()]
    .sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at) || b.id.localeCompare(a.id))
    .slice(0, SHOWN);
  const rows = newest.map((transfer) => {
    const incoming = transfer.to_handle === session?.handle;
    const row = document.createElement("tr");
    row.dataset["testid"] = "transfer-row";
    row.dataset["transferId"] = transfer.id;
    row.dataset["direction"] = incoming ? "received" : "sent";
    row.dataset["state"] = transfer.state;
    row.dataset["amount"] = String(transfer.amount);
    row.dataset["counterparty"] = incoming ? transfer.from_handle : transfer.to_handle;
    const cells = [
      when.format(new Date(transfer.created_at)),
      incoming ? `from @${transfer.from_handle}` : `to @${transfer.to_handle}`,
      `${incoming ? "+" : "−"}${points.format(transfer.amount)}`,
      transfer.memo ?? "",
      transfer.state.replace("_", " "),
    ];
    for (const [i, text] of cells.entries()) {
      const cell = document.createElement("td");
      cell.textContent = text;
      if (i === 0) cell.className = "when";
      if (i === 2) cell.className = incoming ? "amount in" : "amount out";
      if (i === 4) cell.className = `state ${transfer.state}`;
      row.append(cell);
    }
    return row;
  });
  body.replaceChildren(...rows);
  $("transfers-empty").hidden = rows.length > 0;
}

async function loadTransfers(): Promise<void> {
  const { data, error } = await api.GET("/v1/transfers", { params: { query: { limit: SHOWN } } });
  if (!data) {
    setStatus("app-status", `history: ${describe(error, "unavailable")}`, "error");
    return;
  }
  for (const transfer of data.items) upsertTransfer(transfer);
  renderTransfers();
}

// ---- the event stream ----------------------------------------------------

function subscribe(current: Session, lastEventId?: string): void {
  setLive("connecting", "connecting…");
  current.events = subscribeToEvents(apiBase, () => session?.tokens.accessToken, {
    // Live from here on: what happened before is fetched now, so nothing falls between.
    ready: () => {
      setLive("live", "live");
      void Promise.all([loadBalance(), loadTransfers()]);
    },
    transfer: (transfer) => upsertTransfer(transfer),
    balance: (view) => showBalance(view),
    reset: () => {
      transfers.clear();
      balance = undefined;
      void Promise.all([loadBalance(), loadTransfers()]);
    },
    error: ({ message, status, willReconnect }) => {
      if (willReconnect) {
        setLive("connecting", "reconnecting…");
        return;
      }
      setLive("error", `not live: ${status ? `HTTP ${status}` : message}`);
      // Refused: as for any request, a refresh tells whether the session still is.
      if (status === 401) void current.tokens.refreshNow();
      // A closed stream (an expired token, say) is retried once a while later, from where it stopped.
      const resumeFrom = current.events?.lastEventId;
      window.setTimeout(() => {
        if (session === current) subscribe(current, resumeFrom);
      }, 5000);
    },
  }, lastEventId);
}

// ---- views and routes ----------------------------------------------------------

const VIEWS = ["login-view", "forgot-view", "reset-view", "account-view"] as const;
type View = (typeof VIEWS)[number];

function showView(view: View): void {
  for (const id of VIEWS) $(id).hidden = id !== view;
}

// The token of the reset link this page was opened on.
let resetToken = "";

// Shows what the location's hash asks for: mailed links land on their own route.
function route(): void {
  const [path = "", query = ""] = location.hash.replace(/^#/, "").split("?", 2);
  const token = new URLSearchParams(query).get("token") ?? "";
  if (path === "/reset-password") {
    resetToken = token;
    setStatus("reset-status", "", "idle");
    showView("reset-view");
  } else if (path === "/forgot-password" && !session) {
    const email = $<HTMLInputElement>("forgot-email");
    email.value ||= $<HTMLInputElement>("email").value;
    setStatus("forgot-status", "", "idle");
    showView("forgot-view");
  } else {
    showView(session ? "account-view" : "login-view");
    if (path === "/verify-email") void verifyEmail(token);
  }
}

// The account when logged in, else the login; unless a mailed link's view is open.
function showMain(): void {
  if ($("reset-view").hidden) showView(session ? "account-view" : "login-view");
}

// Back to the page without a route; a token link is not followed twice by a reload.
function leaveRoute(): void {
  history.replaceState(null, "", `${location.pathname}${location.search}`);
  route();
}

// ---- password reset and email verification -----------------------------------

async function askForReset(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  const email = $<HTMLInputElement>("forgot-email").value.trim();
  setStatus("forgot-status", "asking…", "busy");
  $<HTMLButtonElement>("forgot-button").disabled = true;
  try {
    // 202 whoever asks, so that the answer tells nobody whether the address is a member's.
    const { error, response } = await api.POST("/v1/auth/password-reset", { body: { email } });
    if (response.status === 202) setStatus("forgot-status", "If a member has that address, a link is on its way", "done");
    else setStatus("forgot-status", describe(error, `could not ask (HTTP ${response.status})`), "error");
  } catch (error) {
    setStatus("forgot-status", `cannot reach the API at ${apiBase}: ${String(error)}`, "error");
  } finally {
    $<HTMLButtonElement>("forgot-button").disabled = false;
  }
}

async function setNewPassword(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  const new_password = $<HTMLInputElement>("new-password").value;
  setStatus("reset-status", "setting it…", "busy");
  $<HTMLButtonElement>("reset-button").disabled = true;
  try {
    const { error, response } = await api.POST("/v1/auth/password-reset/confirm", {
      body: { token: resetToken, new_password },
    });
    if (response.status !== 204) {
      setStatus("reset-status", describe(error, `could not set it (HTTP ${response.status})`), "error");
      return;
    }
    $<HTMLFormElement>("reset-form").reset();
    resetToken = "";
    // The reset ended every session of the member, this browser's too.
    if (session) signOut();
    leaveRoute();
    setStatus("login-status", "Your password is changed: log in with the new one", "done");
  } catch (error) {
    setStatus("reset-status", `cannot reach the API at ${apiBase}: ${String(error)}`, "error");
  } finally {
    $<HTMLButtonElement>("reset-button").disabled = false;
  }
}

async function verifyEmail(token: string): Promise<void> {
  setStatus("notice", "verifying your email address…", "busy");
  try {
    const { error, response } = await api.POST("/v1/auth/verify-email", { body: { token } });
    if (response.status === 204) setStatus("notice", "Your email address is verified", "done");
    else setStatus("notice", `The link did not verify your address: ${describe(error, `HTTP ${response.status}`)}`, "error");
  } catch (error) {
    setStatus("notice", `cannot reach the API at ${apiBase}: ${String(error)}`, "error");
  }
  leaveRoute();
}

// ---- sessions ------------------------------------------------------------------

function sessionRow(item: SessionView): HTMLTableRowElement {
  const row = document.createElement("tr");
  Object.assign(row.dataset, { testid: "session-row", sessionId: item.id, current: String(item.current) });
  const device = document.createElement("td");
  const name = document.createElement("span");
  name.className = "device";
  name.dataset["testid"] = "session-device";
  name.textContent = item.user_agent ?? "unknown device";
  device.append(name);
  if (item.current) {
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.textContent = "this device";
    device.append(badge);
  }
  const address = document.createElement("td");
  address.textContent = item.address;
  const used = document.createElement("td");
  used.className = "when";
  used.textContent = when.format(new Date(item.last_used_at));
  const act = document.createElement("td");
  if (!item.current) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "secondary";
    button.dataset["testid"] = "session-sign-out";
    button.textContent = "Sign out";
    button.addEventListener("click", () => void endSessions(button, item.id));
    act.append(button);
  }
  row.append(device, address, used, act);
  return row;
}

async function loadSessions(): Promise<void> {
  const { data, error } = await api.GET("/v1/me/sessions");
  if (!data) {
    setStatus("sessions-status", `sessions: ${describe(error, "unavailable")}`, "error");
    return;
  }
  $("sessions-body").replaceChildren(...data.items.map(sessionRow));
  $("sessions-end-others").hidden = data.items.every((item) => item.current);
}

// Ends the session `id` (another device's), or without one every session but this one; then reloads the list.
async function endSessions(button: HTMLButtonElement, id?: string): Promise<void> {
  button.disabled = true;
  setStatus("sessions-status", "signing out…", "busy");
  try {
    const { error, response } = id === undefined
      ? await api.DELETE("/v1/me/sessions")
      : await api.DELETE("/v1/me/sessions/{id}", { params: { path: { id } } });
    const done = id === undefined ? "signed every other device out" : "signed that device out";
    if (response.status === 204) setStatus("sessions-status", done, "done");
    else setStatus("sessions-status", describe(error, `could not sign out (HTTP ${response.status})`), "error");
    await loadSessions();
  } catch (error) {
    setStatus("sessions-status", `no answer from the API (${String(error)}): try again`, "error");
  } finally {
    button.disabled = false;
  }
}

function reload(): Promise<unknown> {
  return Promise.all([loadBalance(), loadTransfers(), loadSessions()]);
}

// ---- logging in and out ----------------------------------------------------------

// A keeper of `tokens` (a login's), or of the session another tab stored; shared by the origin's tabs.
function keep(tokens?: TokenView): SessionKeeper | undefined {
  const options = {
    storageKey: STORAGE_KEY,
    onEnded: (reason: SessionEndReason) => {
      if (session?.tokens !== keeper) return;
      signOut(reason === "ended-elsewhere" ? "your session ended in another tab" : "your session ended: log in again");
    },
  };
  const keeper = tokens ? new SessionKeeper(api, tokens, options) : SessionKeeper.resume(api, options);
  return keeper;
}

const profile = (token: string) => api.GET("/v1/me", { headers: { Authorization: `Bearer ${token}` } });

function openAccount(tokens: SessionKeeper, me: MemberView): void {
  const current: Session = { tokens, handle: me.handle };
  session = current;
  $("me-name").textContent = me.display_name;
  $("me-handle").textContent = `@${me.handle}`;
  void loadBalance();
  setStatus("login-status", "", "done");
  document.body.dataset["session"] = me.handle;
  showMain();
  subscribe(current);
  void loadSessions();
}

async function signIn(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  const email = $<HTMLInputElement>("email").value.trim();
  const password = $<HTMLInputElement>("password").value;
  setStatus("login-status", "logging in…", "busy");
  $<HTMLButtonElement>("login-button").disabled = true;
  try {
    const login = await api.POST("/v1/auth/login", { body: { email, password } });
    if (!login.data) {
      setStatus("login-status", describe(login.error, "login failed"), "error");
      return;
    }
    const me = await profile(login.data.access_token);
    if (!me.data) {
      setStatus("login-status", describe(me.error, "could not read your profile"), "error");
      return;
    }
    $<HTMLInputElement>("password").value = "";
    setStatus("notice", "", "idle");
    const tokens = keep(login.data);
    if (tokens) openAccount(tokens, me.data);
  } catch (error) {
    setStatus("login-status", `cannot reach the API at ${apiBase}: ${String(error)}`, "error");
  } finally {
    $<HTMLButtonElement>("login-button").disabled = false;
  }
}

// The session another tab of this origin logged in, if any: at load, and when one logs in later.
let resuming = false;
async function resume(): Promise<void> {
  if (session || resuming) return;
  const tokens = keep();
  if (!tokens) return;
  resuming = true;
  try {
    let me = await profile(tokens.accessToken);
    // Stored a while ago, its access token may have expired: a refresh gives a fresh one.
    if (me.response.status === 401 && (await tokens.refreshNow())) me = await profile(tokens.accessToken);
    if (me.data && tokens.active && !session) {
      openAccount(tokens, me.data);
      return;
    }
    if (tokens.active) tokens.close(); // this tab stays out; the others keep the session
    else setStatus("login-status", "your session ended: log in again", "error");
  } catch (error) {
    tokens.close();
    setStatus("login-status", `cannot reach the API at ${apiBase}: ${String(error)}`, "error");
  } finally {
    resuming = false;
  }
}

function signOut(reason = ""): void {
  const ending = session;
  session = undefined;
  if (ending) {
    void ending.tokens.end(); // logs out, and the origin's other tabs with it
    ending.events?.close();
  }
  balance = undefined;
  transfers.clear();
  renderTransfers();
  $("sessions-body").replaceChildren();
  setStatus("sessions-status", "", "idle");
  setStatus("share-status", "", "idle");
  setLive("off", "");
  delete document.body.dataset["session"];
  showMain();
  setStatus("login-status", reason, reason ? "error" : "idle");
}

// ---- sharing -------------------------------------------------------------

// The recipient picker: whom I shared with lately while the field is empty,
// members whose handle begins with what I typed from two characters on.
let suggesting = 0;
async function suggestRecipients(): Promise<void> {
  const typed = $<HTMLInputElement>("share-to").value.trim().replace(/^@/, "");
  const asked = ++suggesting;
  let found: { handle: string; display_name: string }[] = [];
  let source = "none";
  if (typed.length === 0) {
    const { data } = await api.GET("/v1/me/recipients", { params: { query: { limit: 5 } } });
    [found, source] = [data?.items ?? [], "recent"];
  } else if (typed.length >= 2 && /^[A-Za-z0-9_]+$/.test(typed)) {
    // A pause in typing first: every keystroke need not be a search.
    await new Promise((resolve) => window.setTimeout(resolve, 150));
    if (asked !== suggesting) return;
    const { data } = await api.GET("/v1/members", { params: { query: { prefix: typed, limit: 5 } } });
    [found, source] = [data?.items ?? [], "search"];
  }
  if (asked !== suggesting) return; // a newer keystroke asked since
  const list = $("share-to-suggestions");
  list.dataset["source"] = source;
  list.replaceChildren(
    ...found.map(({ handle, display_name }) => {
      const item = document.createElement("li");
      const pick = document.createElement("button");
      pick.type = "button";
      pick.className = "secondary";
      pick.dataset["testid"] = "suggestion";
      pick.dataset["handle"] = handle;
      pick.textContent = `@${handle} · ${display_name}`;
      pick.addEventListener("click", () => {
        $<HTMLInputElement>("share-to").value = handle;
        list.replaceChildren();
        $<HTMLInputElement>("share-amount").focus();
      });
      item.append(pick);
      return item;
    }),
  );
}

// One key per share: a retry after a lost answer (same form, unchanged) reuses
// it, so the server does not share twice; any answer, or an edit, retires it.
let idempotencyKey: string | undefined;

// What is left of the member's share allowance this minute, as the answer's
// RateLimit header says (`"transfers";r=599;t=42`), shown before it runs out.
function showAllowance(response: Response): void {
  const allowance = /"transfers";r=(\d+);t=(\d+)/.exec(response.headers.get("RateLimit") ?? "");
  const element = $("share-allowance");
  element.dataset["remaining"] = allowance?.[1] ?? "";
  element.textContent = allowance ? `${allowance[1]} more shares allowed in the next ${allowance[2]} s` : "";
}

async function share(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  const to_handle = $<HTMLInputElement>("share-to").value.trim().replace(/^@/, "");
  const amount = Number($<HTMLInputElement>("share-amount").value);
  const memo = $<HTMLInputElement>("share-memo").value.trim();
  idempotencyKey ??= newKey();
  setStatus("share-status", "sharing…", "busy");
  $<HTMLButtonElement>("share-button").disabled = true;
  try {
    const { data, error, response } = await api.POST("/v1/transfers", {
      params: { header: { "Idempotency-Key": idempotencyKey } },
      body: { to_handle, amount, ...(memo ? { memo } : {}) },
    });
    idempotencyKey = undefined;
    showAllowance(response);
    markInvalid($<HTMLFormElement>("share-form"), error);
    if (data) {
      upsertTransfer(data);
      const replayed = response.headers.get("Idempotent-Replayed") === "true" ? " (already shared)" : "";
      const what = data.state === "completed" ? "shared" : `${data.state.replace("_", " ")}`;
      setStatus("share-status", `${what}: ${points.format(data.amount)} to @${data.to_handle}${replayed}`, "done");
      $<HTMLFormElement>("share-form").reset();
    } else if (response.status === 429) {
      // Which allowance ran out and when it comes back, from the RateLimit header.
      const wait = /;t=(\d+)/.exec(response.headers.get("RateLimit") ?? "")?.[1] ?? response.headers.get("Retry-After");
      setStatus("share-status", `too many shares for now: try again in ${wait ?? "a few"} s`, "error");
    } else {
      setStatus("share-status", describe(error, `share failed (HTTP ${response.status})`), "error");
    }
  } catch (error) {
    // No answer: the same key is kept for the retry.
    setStatus("share-status", `no answer from the API (${String(error)}): try again`, "error");
  } finally {
    $<HTMLButtonElement>("share-button").disabled = false;
  }
}

$<HTMLFormElement>("login-form").addEventListener("submit", (event) => void signIn(event));
$<HTMLFormElement>("forgot-form").addEventListener("submit", (event) => void askForReset(event));
$<HTMLFormElement>("reset-form").addEventListener("submit", (event) => void setNewPassword(event));
$<HTMLFormElement>("share-form").addEventListener("submit", (event) => void share(event));
$<HTMLInputElement>("share-to").addEventListener("input", () => void suggestRecipients());
$<HTMLInputElement>("share-to").addEventListener("focus", () => void suggestRecipients());
$<HTMLFormElement>("share-form").addEventListener("input", () => (idempotencyKey = undefined));
$<HTMLButtonElement>("logout-button").addEventListener("click", () => signOut());
$<HTMLButtonElement>("reload-button").addEventListener("click", () => void reload());
const endOthers = $<HTMLButtonElement>("sessions-end-others");
endOthers.addEventListener("click", () => void endSessions(endOthers));
addEventListener("hashchange", route);
// Another tab logged in: this one is too.
addEventListener("storage", (event) => {
  if (event.key === STORAGE_KEY && event.newValue !== null) void resume();
});
route();
void resume();
document.body.dataset["ready"] = "true";
