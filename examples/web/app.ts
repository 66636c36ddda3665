// The web example: a static page on the typed client (clients/typescript).
// Log in, see the balance, share points, and watch balance and transfers
// change live from the member's event stream (GET /v1/me/events).
// The API's base URL comes from the page's query: ?api=http://127.0.0.1:8080

import {
  createPointshareClient,
  subscribeToEvents,
  type BalanceView,
  type EventSubscription,
  type TransferView,
} from "../../clients/typescript/src/index.ts";
import { $, FreshSession, apiBase, describe, newKey, points, setStatus, when } from "../shared.ts";

$("api-url").textContent = apiBase;

interface Session {
  tokens: FreshSession;
  handle: string;
  events?: EventSubscription;
}
let session: Session | undefined;
const api = createPointshareClient(apiBase, () => session?.tokens.accessToken);

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
      // A closed stream (an expired token, say) is retried once a while later, from where it stopped.
      const resumeFrom = current.events?.lastEventId;
      window.setTimeout(() => {
        if (session === current) subscribe(current, resumeFrom);
      }, 5000);
    },
  }, lastEventId);
}

// ---- session ---------------------------------------------------------------

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
    const tokens = login.data;
    const me = await api.GET("/v1/me", { headers: { Authorization: `Bearer ${tokens.access_token}` } });
    if (!me.data) {
      setStatus("login-status", describe(me.error, "could not read your profile"), "error");
      return;
    }
    const current: Session = {
      tokens: new FreshSession(api, tokens, () => {
        if (session === current) signOut("your session ended: log in again");
      }),
      handle: me.data.handle,
    };
    session = current;
    $("me-name").textContent = me.data.display_name;
    $("me-handle").textContent = `@${me.data.handle}`;
    showBalance(me.data.balance);
    setStatus("login-status", "", "done");
    $("login-view").hidden = true;
    $("account-view").hidden = false;
    document.body.dataset["session"] = me.data.handle;
    subscribe(current);
  } catch (error) {
    setStatus("login-status", `cannot reach the API at ${apiBase}: ${String(error)}`, "error");
  } finally {
    $<HTMLButtonElement>("login-button").disabled = false;
  }
}

function signOut(reason = ""): void {
  const ending = session;
  session = undefined;
  if (ending) {
    ending.tokens.end();
    ending.events?.close();
  }
  balance = undefined;
  transfers.clear();
  renderTransfers();
  setLive("off", "");
  delete document.body.dataset["session"];
  $("account-view").hidden = true;
  $("login-view").hidden = false;
  setStatus("login-status", reason, reason ? "error" : "idle");
}

// ---- sharing -------------------------------------------------------------

// One key per share: a retry after a lost answer (same form, unchanged) reuses
// it, so the server does not share twice; any answer, or an edit, retires it.
let idempotencyKey: string | undefined;

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
    if (data) {
      upsertTransfer(data);
      const replayed = response.headers.get("Idempotent-Replayed") === "true" ? " (already shared)" : "";
      const what = data.state === "completed" ? "shared" : `${data.state.replace("_", " ")}`;
      setStatus("share-status", `${what}: ${points.format(data.amount)} to @${data.to_handle}${replayed}`, "done");
      $<HTMLFormElement>("share-form").reset();
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
$<HTMLFormElement>("share-form").addEventListener("submit", (event) => void share(event));
$<HTMLFormElement>("share-form").addEventListener("input", () => (idempotencyKey = undefined));
$<HTMLButtonElement>("logout-button").addEventListener("click", () => signOut());
document.body.dataset["ready"] = "true";
