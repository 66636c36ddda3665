// The admin console: a static page on the typed client (clients/typescript)
// for the support desk, served from its own origin. Log in as an admin,
// search a member, see their balance and transfers, reverse one; approve or
// reject what another admin asked for above the approval threshold; resolve
// a transfer in review; read the audit log. Every act sends a reason, and
// every create an Idempotency-Key kept until it is answered.
// The API's base URL comes from the page's query: ?api=http://127.0.0.1:8080

import {
  SessionKeeper,
  createPointshareClient,
  type AdminMemberDetail,
  type AdminMemberView,
  type ApprovalView,
  type AuditRecordView,
  type Problem,
  type ReviewItemView,
  type TransferView,
} from "../../clients/typescript/src/index.ts";
import { $, apiBase, describe, newKey, points, setStatus, when } from "../shared.ts";

$("api-url").textContent = apiBase;

let session: SessionKeeper | undefined;
const api = createPointshareClient(apiBase, () => session?.accessToken);
let selected: AdminMemberDetail | undefined;

function cell(row: HTMLTableRowElement, text: string, className = ""): HTMLTableCellElement {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  row.append(td);
  return td;
}

function button(label: string, testid: string, act: () => Promise<void>, secondary = false): HTMLButtonElement {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = label;
  element.dataset["testid"] = testid;
  if (secondary) element.className = "secondary";
  element.addEventListener("click", async () => {
    element.disabled = true;
    try {
      await act();
    } finally {
      element.disabled = false;
    }
  });
  return element;
}

/** Shows a page of `items` in the table body `body`, one `row` each; or why not. */
function show<T>(
  body: string,
  what: string,
  answer: { data?: { items: T[] }; error?: Problem },
  row: (item: T) => HTMLTableRowElement,
): void {
  if (!answer.data) {
    setStatus("app-status", `${what}: ${describe(answer.error, "unavailable")}`, "error");
    return;
  }
  $(body).replaceChildren(...answer.data.items.map(row));
}

/**
 * Sends an act and says in `status` how it went: the transfer it left (its
 * state in `data-transfer-state`), or why it was refused. `false` when no
 * answer came, so a retry may repeat it.
 */
async function act(
  status: string,
  busy: string,
  send: () => Promise<{ data?: TransferView; error?: Problem; response: Response }>,
  done: (transfer: TransferView) => string,
): Promise<boolean> {
  setStatus(status, busy, "busy");
  try {
    const { data, error, response } = await send();
    if (data) {
      setStatus(status, done(data), "done");
      $(status).dataset["transferState"] = data.state;
    } else {
      setStatus(status, describe(error, `refused (HTTP ${response.status})`), "error");
    }
    return true;
  } catch (error) {
    setStatus(status, `no answer from the API (${String(error)}): try again`, "error");
    return false;
  }
}

function reasonOf(id: string, status: string): string | undefined {
  const reason = $<HTMLInputElement>(id).value.trim();
  if (!reason) setStatus(status, "give a reason first: the audit log keeps it", "error");
  return reason || undefined;
}

function stateLabel(transfer: TransferView): string {
  const decline = transfer.decline_reason ? ` (${transfer.decline_reason.replaceAll("_", " ")})` : "";
  return `${transfer.state.replaceAll("_", " ")}${decline}`;
}

// ---- members ---------------------------------------------------------------

async function search(event?: SubmitEvent): Promise<void> {
  event?.preventDefault();
  const query = $<HTMLInputElement>("member-query").value.trim();
  show("members-body", "members", await api.GET("/v1/admin/members", { params: { query: { query, limit: 20 } } }), memberRow);
}

function memberRow(member: AdminMemberView): HTMLTableRowElement {
  const row = document.createElement("tr");
  row.dataset["testid"] = "member-row";
  row.dataset["id"] = member.id;
  row.dataset["handle"] = member.handle;
  cell(row, `@${member.handle}`);
  cell(row, member.display_name);
  cell(row, member.role);
  cell(row, member.status);
  cell(row, "", "actions").append(button("Open", "open-member", () => openMember(member.id), true));
  return row;
}

async function openMember(id: string): Promise<void> {
  const [detail, history] = await Promise.all([
    api.GET("/v1/admin/members/{id}", { params: { path: { id } } }),
    api.GET("/v1/admin/members/{id}/transfers", { params: { path: { id }, query: { limit: 20 } } }),
  ]);
  if (!detail.data || !history.data) {
    setStatus("app-status", `member: ${describe(detail.error ?? history.error, "unavailable")}`, "error");
    return;
  }
  const member = detail.data;
  selected = member;
  $("member-card").hidden = false;
  $("member-handle").textContent = member.handle;
  $("member-name").textContent = member.display_name;
  $("member-role").textContent = member.role;
  $("member-status").textContent = member.status;
  $("member-shared-today").textContent = points.format(member.shared_today);
  const balance = $("member-balance");
  balance.textContent = member.balance ? points.format(member.balance.balance) : "—";
  balance.dataset["balance"] = member.balance ? String(member.balance.balance) : "";
  balance.title = member.balance_problem ?? "";
  $("member-transfers-body").replaceChildren(...history.data.items.map(transferRow));
}

function transferRow(transfer: TransferView): HTMLTableRowElement {
  const row = document.createElement("tr");
  Object.assign(row.dataset, {
    testid: "member-transfer-row",
    id: transfer.id,
    kind: transfer.kind,
    state: transfer.state,
    amount: String(transfer.amount),
    from: transfer.from_handle,
    to: transfer.to_handle,
    reversed: String(transfer.reversed_amount),
  });
  cell(row, when.format(new Date(transfer.created_at)), "when");
  cell(row, transfer.kind);
  cell(row, `@${transfer.from_handle}`);
  cell(row, `@${transfer.to_handle}`);
  cell(row, points.format(transfer.amount), "amount");
  cell(row, stateLabel(transfer), `state ${transfer.state}`);
  const actions = cell(row, "", "actions");
  const reversible = ["share", "grant"].includes(transfer.kind) && transfer.state === "completed";
  if (reversible && transfer.reversed_amount < transfer.amount) {
    actions.append(button("Reverse", "reverse-button", () => reverse(transfer)));
  }
  return row;
}

// One key per reversal asked for: a retry after a lost answer reuses it, so
// the points move once; an answer, or another transfer, retires it.
let reversal: { transfer: string; key: string } | undefined;

async function reverse(transfer: TransferView): Promise<void> {
  const reason = reasonOf("reverse-reason", "reverse-status");
  if (!reason) return;
  const amountText = $<HTMLInputElement>("reverse-amount").value;
  if (reversal?.transfer !== transfer.id) reversal = { transfer: transfer.id, key: newKey() };
  const key = reversal.key;
  const answered = await act(
    "reverse-status",
    "reversing…",
    () =>
      api.POST("/v1/admin/transfers/{id}/reversals", {
        params: { path: { id: transfer.id }, header: { "Idempotency-Key": key } },
        body: { reason, ...(amountText ? { amount: Number(amountText) } : {}) },
      }),
    (made) => `reversal of ${points.format(made.amount)}: ${stateLabel(made)}`,
  );
  if (!answered) return;
  reversal = undefined;
  if (selected) await openMember(selected.id);
  await loadApprovals();
}

// ---- approvals ---------------------------------------------------------------

async function loadApprovals(): Promise<void> {
  show("approvals-body", "approvals", await api.GET("/v1/admin/approvals", { params: { query: { limit: 50 } } }), approvalRow);
}

function approvalRow(approval: ApprovalView): HTMLTableRowElement {
  const { transfer } = approval;
  const row = document.createElement("tr");
  Object.assign(row.dataset, {
    testid: "approval-row",
    id: transfer.id,
    kind: transfer.kind,
    amount: String(transfer.amount),
    requestedBy: approval.requested_by,
  });
  cell(row, `@${approval.requested_by}`);
  cell(row, transfer.kind);
  cell(row, `@${transfer.from_handle}`);
  cell(row, `@${transfer.to_handle}`);
  cell(row, points.format(transfer.amount), "amount");
  cell(row, when.format(new Date(approval.expires_at)), "when");
  const actions = cell(row, "", "actions");
  actions.append(
    button("Approve", "approve-button", () => decide(transfer.id, "approve")),
    button("Reject", "reject-button", () => decide(transfer.id, "reject"), true),
  );
  return row;
}

async function decide(id: string, decision: "approve" | "reject"): Promise<void> {
  const reason = reasonOf("approval-reason", "approval-status");
  if (!reason) return;
  await act(
    "approval-status",
    `${decision === "approve" ? "approving" : "rejecting"}…`,
    () => api.POST("/v1/admin/approvals/{id}", { params: { path: { id } }, body: { decision, reason } }),
    (decided) => `${decision}d: ${points.format(decided.amount)} ${stateLabel(decided)}`,
  );
  await loadApprovals();
}

// ---- reviews -------------------------------------------------------------------

async function loadReviews(): Promise<void> {
  show("reviews-body", "reviews", await api.GET("/v1/admin/reviews", { params: { query: { limit: 50 } } }), reviewRow);
}

function reviewRow(item: ReviewItemView): HTMLTableRowElement {
  const { transfer } = item;
  const held = item.references.map((r) => `${r.reference.split(":").pop()}: ${r.movement ? `${r.movement.kind} ${r.movement.amount}` : "nothing"}`);
  const row = document.createElement("tr");
  Object.assign(row.dataset, {
    testid: "review-row",
    id: transfer.id,
    amount: String(transfer.amount),
    reason: transfer.review_reason ?? "",
    held: held.join(", "),
  });
  cell(row, `@${transfer.from_handle}`);
  cell(row, `@${transfer.to_handle}`);
  cell(row, points.format(transfer.amount), "amount");
  cell(row, (transfer.review_reason ?? "").replaceAll("_", " "));
  cell(row, item.provider_problem ?? held.join(", "), "code");
  cell(row, "", "actions").append(
    button("Refund", "refund-button", () => resolve(transfer.id, "refund")),
    button("Complete", "complete-button", () => resolve(transfer.id, "complete"), true),
  );
  return row;
}

async function resolve(id: string, decision: "refund" | "complete"): Promise<void> {
  const reason = reasonOf("review-reason", "review-status");
  if (!reason) return;
  await act(
    "review-status",
    "resolving…",
    () => api.POST("/v1/admin/transfers/{id}/resolution", { params: { path: { id } }, body: { decision, reason } }),
    (resolved) => `resolved: ${points.format(resolved.amount)} ${stateLabel(resolved)}`,
  );
  await loadReviews();
}

// ---- the audit log -------------------------------------------------------------

async function loadAudit(): Promise<void> {
  show("audit-body", "audit log", await api.GET("/v1/admin/audit", { params: { query: { limit: 20 } } }), auditRow);
}

function auditRow(record: AuditRecordView): HTMLTableRowElement {
  const row = document.createElement("tr");
  Object.assign(row.dataset, { testid: "audit-row", action: record.action, actor: record.actor, target: record.target });
  cell(row, when.format(new Date(record.at)), "when");
  cell(row, record.actor, "code");
  cell(row, record.action.replaceAll("_", " "));
  cell(row, record.target, "code");
  cell(row, `${record.before ?? "—"} → ${record.after ?? "—"}`);
  cell(row, record.reason ?? "");
  return row;
}

// ---- session -----------------------------------------------------------------

async function signIn(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  const email = $<HTMLInputElement>("email").value.trim();
  const password = $<HTMLInputElement>("password").value;
  setStatus("login-status", "logging in…", "busy");
  try {
    const login = await api.POST("/v1/auth/login", { body: { email, password } });
    if (!login.data) {
      setStatus("login-status", describe(login.error, "login failed"), "error");
      return;
    }
    const me = await api.GET("/v1/me", { headers: { Authorization: `Bearer ${login.data.access_token}` } });
    if (me.data?.role !== "admin") {
      setStatus("login-status", me.data ? "this console is for admins" : describe(me.error, "no profile"), "error");
      return;
    }
    const current: SessionKeeper = new SessionKeeper(api, login.data, {
      onEnded: () => {
        if (session === current) signOut("your session ended: log in again");
      },
    });
    session = current;
    $("me-handle").textContent = `@${me.data.handle}`;
    setStatus("login-status", "", "done");
    $("login-view").hidden = true;
    $("console-view").hidden = false;
    document.body.dataset["session"] = me.data.handle;
    await Promise.all([search(), loadApprovals(), loadReviews(), loadAudit()]);
  } catch (error) {
    setStatus("login-status", `cannot reach the API at ${apiBase}: ${String(error)}`, "error");
  }
}

function signOut(reason = ""): void {
  void session?.end();
  session = undefined;
  selected = undefined;
  setStatus("login-status", reason, reason ? "error" : "idle");
  delete document.body.dataset["session"];
  $("member-card").hidden = true;
  $("console-view").hidden = true;
  $("login-view").hidden = false;
}

$<HTMLFormElement>("login-form").addEventListener("submit", (event) => void signIn(event));
$<HTMLFormElement>("member-search-form").addEventListener("submit", (event) => void search(event));
$<HTMLFormElement>("reverse-form").addEventListener("submit", (event) => event.preventDefault());
$("approvals-refresh").addEventListener("click", () => void loadApprovals());
$("reviews-refresh").addEventListener("click", () => void loadReviews());
$("audit-refresh").addEventListener("click", () => void loadAudit());
$("logout-button").addEventListener("click", () => signOut());
document.body.dataset["ready"] = "true";
