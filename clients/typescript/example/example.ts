// A tour of the typed client: log in, read the balance, share points (with an
// Idempotency-Key, so a retry cannot share twice), list the transfers sent,
// and watch the event stream while it happens.
//
// Usage (against the embedded default server, its demo members):
//   npx tsx example/example.ts [base URL, http://127.0.0.1:8080] [recipient handle, bob]
// POINTSHARE_EMAIL and POINTSHARE_PASSWORD override alice's demo credentials.

import { createPointshareClient, subscribeToEvents, type Problem, type TransferView } from "../src/index.ts";

const baseUrl = process.argv[2] ?? "http://127.0.0.1:8080";
const recipient = process.argv[3] ?? "bob";
const email = process.env["POINTSHARE_EMAIL"] ?? "alice@pointshare.test";
const password = process.env["POINTSHARE_PASSWORD"] ?? "pointshare-demo";

function fail(what: string, problem: Problem): never {
  console.error(`${what} failed: ${problem.code}${problem.detail ? ` (${problem.detail})` : ""}`);
  for (const field of problem.errors ?? []) console.error(`  ${field.pointer}: ${field.code}, ${field.detail}`);
  process.exit(1);
}

let accessToken: string | undefined;
const api = createPointshareClient(baseUrl, () => accessToken);

// login: POST /v1/auth/login
const session = await api.POST("/v1/auth/login", { body: { email, password } });
if (session.error) fail("login", session.error);
accessToken = session.data.access_token;

// getMyBalance: GET /v1/me/balance
const balance = await api.GET("/v1/me/balance");
if (balance.error) fail("getMyBalance", balance.error);
console.log(`balance: ${balance.data.balance} points (as of ${balance.data.as_of}, from the ${balance.data.source})`);

// streamMyEvents: GET /v1/me/events, before sharing so the share's events arrive.
// Which transfers the stream says are final, and a promise for each one awaited.
const final = new Set<string>();
const awaited = new Map<string, () => void>();
const finalState = (id: string) => new Promise<void>((resolve) => (final.has(id) ? resolve() : awaited.set(id, resolve)));
let balanceSeen: () => void = () => {};
const balanceChanged = new Promise<void>((resolve) => (balanceSeen = resolve));
let live: () => void = () => {};
let broken: (error: Error) => void = () => {};
const ready = new Promise<void>((resolve, reject) => ((live = resolve), (broken = reject)));
const events = subscribeToEvents(baseUrl, () => accessToken, {
  ready: () => {
    console.log("event stream: ready");
    live();
  },
  transfer: (transfer, id) => {
    console.log(`event ${id}: transfer ${transfer.id} ${transfer.from_handle} -> ${transfer.to_handle} ` +
      `${transfer.amount} points, ${transfer.state}`);
    if (transfer.state !== "processing") {
      final.add(transfer.id);
      awaited.get(transfer.id)?.();
    }
  },
  balance: (view, id) => {
    console.log(`event ${id}: balance ${view.balance} (as of ${view.as_of})`);
    balanceSeen();
  },
  reset: ({ reason }) => console.log(`event stream reset (${reason}): refetch balance and history`),
  error: ({ message, status, willReconnect }) => {
    console.error(`event stream: ${message}${status ? ` (HTTP ${status})` : ""}${willReconnect ? ", reconnecting" : ""}`);
    if (!willReconnect) broken(new Error(message));
  },
});
try {
  await ready;
} catch {
  events.close();
  process.exit(1);
}

// createTransfer: POST /v1/transfers, 201 when completed, 202 while processing.
const share = await api.POST("/v1/transfers", {
  params: { header: { "Idempotency-Key": crypto.randomUUID() } },
  body: { to_handle: recipient, amount: 25, memo: "from the TypeScript example" },
});
if (share.error) fail("createTransfer", share.error);
const shared: TransferView = share.data;
const replayed = share.response.headers.get("Idempotent-Replayed") === "true" ? ", a replayed answer" : "";
console.log(`shared: transfer ${shared.id} is ${shared.state} (HTTP ${share.response.status}${replayed})`);

// listTransfers: GET /v1/transfers, only the ones sent, newest first.
const page = await api.GET("/v1/transfers", { params: { query: { direction: "sent", limit: 5 } } });
if (page.error) fail("listTransfers", page.error);
for (const transfer of page.data.items) {
  console.log(`sent ${transfer.created_at}: ${transfer.amount} to ${transfer.to_handle}, ${transfer.state}`);
}
console.log(page.data.has_more ? "more are on the next page" : "that is all of them");

// Waits (at most 10 s) for the stream to tell the share's final state and the new balance.
const timeout = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 10_000).unref());
if ((await Promise.race([Promise.all([finalState(shared.id), balanceChanged]), timeout])) === "timeout") {
  console.error("the event stream did not tell the share's outcome and the new balance in 10 s");
  process.exitCode = 1;
}
events.close();
