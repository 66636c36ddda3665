// A typed client for the pointshare API. The types (src/schema.d.ts) are
// generated from the server's OpenAPI document (openapi.json) by
// openapi-typescript; `scripts/check-client` keeps both in step with the server.

import createClient, { type Client, type Middleware } from "openapi-fetch";
import { EventSource, type FetchLike } from "eventsource";
import type { components, operations, paths } from "./schema";

export type { components, operations, paths };

type Schemas = components["schemas"];
export type TransferView = Schemas["TransferView"];
export type TransferPage = Schemas["TransferPage"];
export type BalanceView = Schemas["BalanceView"];
export type MemberView = Schemas["MemberView"];
export type TokenView = Schemas["TokenView"];
export type Problem = Schemas["Problem"];
export type ProblemCode = Schemas["ProblemCode"];
export type FieldError = Schemas["FieldError"];
export type SessionView = Schemas["SessionView"];
export type SessionsView = Schemas["SessionsView"];
// The support desk's views (admins only).
export type AdminMemberView = Schemas["AdminMemberView"];
export type AdminMemberDetail = Schemas["AdminMemberDetail"];
export type ApprovalView = Schemas["ApprovalView"];
export type ReviewItemView = Schemas["ReviewItemView"];
export type AuditRecordView = Schemas["AuditRecordView"];
export type TimelineView = Schemas["TimelineView"];
/** The query `listTransfers` takes: `limit`, `cursor`, `direction`, `state`, `since`, `until`. */
export type ListTransfersQuery = NonNullable<operations["listTransfers"]["parameters"]["query"]>;

/** One message of `GET /v1/me/events`, as the document describes it: `event` names it, `data` is its JSON. */
export type StreamEvent = Schemas["StreamEvent"];
/** The data of the events named `name`. */
export type EventData<Name extends StreamEvent["event"]> = Extract<StreamEvent, { event: Name }>["data"];
/** The data of a `reset` event: the stream could not resume, so refetch balance and history. */
export type ResetEvent = EventData<"reset">;

/** Where the access token comes from: a fixed one, or asked for on each request. */
export type TokenSource = string | (() => string | null | undefined | Promise<string | null | undefined>);

async function currentToken(source: TokenSource | undefined): Promise<string | null | undefined> {
  return typeof source === "function" ? source() : source;
}

export type PointshareClient = Client<paths>;

/**
 * A client for the API at `baseUrl` (e.g. `http://127.0.0.1:8080`). Given
 * `getToken`, every request carries `Authorization: Bearer <token>` while it
 * returns a token. Each call answers `{ data, error, response }`: `data` on
 * 2XX, `error` (a problem+json `Problem`) otherwise.
 */
export function createPointshareClient(baseUrl: string, getToken?: TokenSource): PointshareClient {
  const client = createClient<paths>({ baseUrl: baseUrl.replace(/\/+$/, "") });
  if (getToken !== undefined) {
    const auth: Middleware = {
      async onRequest({ request }) {
        const token = await currentToken(getToken);
        if (token && !request.headers.has("Authorization")) {
          request.headers.set("Authorization", `Bearer ${token}`);
        }
        return request;
      },
    };
    client.use(auth);
  }
  return client;
}

/** Callbacks for the events of `GET /v1/me/events`; each one optional. */
export interface EventHandlers {
  /** The subscription is live: what happens from now on will be sent. */
  ready?: () => void;
  /** A transfer the member sent or received changed state; the view is as `getTransfer` returns it. */
  transfer?: (transfer: TransferView, eventId: string) => void;
  /** The member's balance changed. */
  balance?: (balance: BalanceView, eventId: string) => void;
  /** The `Last-Event-ID` given is older than the server keeps: refetch balance and history. */
  reset?: (reset: ResetEvent) => void;
  /**
   * The stream failed. `willReconnect`: a network error, retried by itself
   * (resuming from the last event id); otherwise (`status` 401, 429, ...) the
   * subscription is closed, and a new one is needed (after a new token, say).
   */
  error?: (error: { message: string; status?: number; willReconnect: boolean }) => void;
}

export interface EventSubscription {
  /** The id of the last event received (or the one resumed from): pass it to resume later. */
  readonly lastEventId: string | undefined;
  /** Ends the subscription. */
  close(): void;
}

/**
 * Subscribes to the member's events (`GET /v1/me/events`, Server-Sent Events)
 * with the `Authorization` header, which a browser's own EventSource cannot
 * send. Given `lastEventId`, resumes after that event (`Last-Event-ID`);
 * reconnections resume from the last event received. The server ends a
 * stream when its access token expires: pass `token` as a function and each
 * reconnection carries the token it returns then.
 */
export function subscribeToEvents(
  baseUrl: string,
  token: TokenSource,
  handlers: EventHandlers,
  lastEventId?: string,
): EventSubscription {
  let last = lastEventId;
  const authorizedFetch: FetchLike = async (url, init) => {
    const headers: Record<string, string> = { ...init.headers };
    const bearer = await currentToken(token);
    if (bearer) headers["Authorization"] = `Bearer ${bearer}`;
    // EventSource sends the id of the last event it saw itself; before it has
    // seen one, resume from the id the caller gave.
    if (last !== undefined && !Object.keys(headers).some((name) => name.toLowerCase() === "last-event-id")) {
      headers["Last-Event-ID"] = last;
    }
    return fetch(url, { ...init, headers });
  };
  const source = new EventSource(`${baseUrl.replace(/\/+$/, "")}/v1/me/events`, { fetch: authorizedFetch });

  const on = <T>(type: string, deliver: (data: T, eventId: string) => void) => {
    source.addEventListener(type, (event: MessageEvent) => {
      if (event.lastEventId) last = event.lastEventId;
      let data: T;
      try {
        data = JSON.parse(event.data as string) as T;
      } catch {
        handlers.error?.({ message: `unparsable ${type} event: ${String(event.data)}`, willReconnect: true });
        return;
      }
      deliver(data, event.lastEventId);
    });
  };
  on<EventData<"ready">>("ready", () => handlers.ready?.());
  on<EventData<"transfer">>("transfer", (data, id) => handlers.transfer?.(data, id));
  on<EventData<"balance">>("balance", (data, id) => handlers.balance?.(data, id));
  on<EventData<"reset">>("reset", (data) => handlers.reset?.(data));
  source.addEventListener("error", (event) => {
    handlers.error?.({
      message: event.message ?? "event stream error",
      ...(event.code === undefined ? {} : { status: event.code }),
      willReconnect: source.readyState === EventSource.CONNECTING,
    });
  });

  return {
    get lastEventId() {
      return last;
    },
    close() {
      source.close();
    },
  };
}

// ---- a session kept fresh ------------------------------------------------------

/**
 * Why a kept session ended, when `end()` in this tab did not end it:
 * `refused` — the server refused its refresh token (logged out or signed out
 * from another device, a password reset, expired); `ended-elsewhere` — another
 * tab sharing it (`storageKey`) logged out.
 */
export type SessionEndReason = "refused" | "ended-elsewhere";

export interface SessionKeeperOptions {
  /** Called once when the session ends by anything but `end()` here. */
  onEnded?: (reason: SessionEndReason) => void;
  /**
   * Shares the session among the origin's tabs under this localStorage key: a
   * new tab picks it up with `SessionKeeper.resume`, a refresh in one tab
   * serves them all, and logging out in one logs out the others. One session
   * per key: a login in any tab replaces it for all of them.
   */
  storageKey?: string;
  /** How far into the access token's life to refresh it (0 to 1); 0.8 by default. */
  refreshAt?: number;
}

/** A session's tokens as a keeper holds them, and stores them under `storageKey`. */
export interface KeptSession {
  access_token: string;
  refresh_token: string;
  /** When (ms since the epoch) the access token is due for a refresh. */
  refresh_due: number;
  /** When (ms since the epoch) the refresh token stops working. */
  refresh_expires: number;
}

// The longest delay setTimeout takes; a longer one fires at once.
const MAX_DELAY_MS = 2 ** 31 - 1;
// After a refresh the server did not answer (network, 429, 5xx): try again this soon.
const RETRY_MS = 5_000;
// How long a tab that refreshed keeps the lock: Chromium hands a localStorage
// write to the other tabs' processes a moment later, and a tab waiting for the
// lock must read the new pair, not the retired one (which the server's handover
// would still answer, but with one more exchange every time the tabs' timers meet).
const HANDOFF_MS = 250;

/**
 * Keeps a logged-in session fresh: trades its refresh token for a new pair
 * a while (`refreshAt`) into each access token's life, until `end()` logs out
 * or the server ends the session (`onEnded`). Read `accessToken` on every
 * request, as it changes: `createPointshareClient(base, () => keeper.accessToken)`.
 *
 * With `storageKey`, the tabs of one origin share the session through
 * localStorage, each adopting the pairs the others store (`storage` events).
 * Each tab keeps its own timer, and they fall due together; refreshes are
 * serialised with the Web Locks API where the browser has it (a secure
 * context: https, or 127.0.0.1/localhost): the tab that gets the lock second
 * finds the pair the first one stored and adopts it instead of presenting
 * the refresh token just retired, which, once the server's short handover
 * (REFRESH_HANDOVER, 10 s) is over, would end the session. Without Web Locks,
 * tabs refreshing together rely on that handover: the server gives both the
 * same next pair. Loads in Node too (no storage, no locks), where it keeps
 * one process's session; its timer keeps the process alive until `end()`.
 */
export class SessionKeeper {
  private kept: KeptSession;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<boolean> | undefined;
  private ended = false;
  // Where the session is shared, while it is: none without `storageKey`, in Node, or once storing failed.
  private storage: Storage | undefined;
  private readonly ratio: number;

  /** From a login's (or signup's) tokens, or a `KeptSession` read back from storage. */
  constructor(
    private readonly api: PointshareClient,
    tokens: TokenView | KeptSession,
    private readonly options: SessionKeeperOptions = {},
  ) {
    this.ratio = Math.min(1, Math.max(0, options.refreshAt ?? 0.8));
    this.storage = options.storageKey === undefined ? undefined : localStorageIfAny();
    if (this.storage) globalThis.addEventListener?.("storage", this.onStorage);
    if ("expires_in" in tokens) {
      this.kept = this.keep(tokens);
      this.store();
    } else {
      this.kept = tokens;
    }
    this.schedule();
  }

  /**
   * The session another tab of this origin stored under `options.storageKey`,
   * kept from now on in this tab too; undefined when there is none (or its
   * refresh token has expired). An access token already due is refreshed at once.
   */
  static resume(api: PointshareClient, options: SessionKeeperOptions & { storageKey: string }): SessionKeeper | undefined {
    const storage = localStorageIfAny();
    const stored = storage && readKept(storage, options.storageKey);
    return stored ? new SessionKeeper(api, stored, options) : undefined;
  }

  /** The access token to send now. */
  get accessToken(): string {
    return this.kept.access_token;
  }

  /** False once the session ended (`end()`, or `onEnded`). */
  get active(): boolean {
    return !this.ended;
  }

  /**
   * Refreshes now, as after a 401 (or adopts the pair another tab just
   * stored). True when this keeper holds fresh tokens; false when the session
   * ended (`onEnded` has been called) or the server could not be reached
   * (another try is scheduled). Calls made while one runs share its answer.
   */
  refreshNow(): Promise<boolean> {
    return this.run(true);
  }

  /** Logs out: the session's tokens stop working, in every tab that shares it. */
  async end(): Promise<void> {
    if (this.ended) return;
    // Another tab may have refreshed a moment ago: log out with the newest refresh token.
    this.kept = this.read() ?? this.kept;
    this.clearStored(); // the other tabs' `storage` event ends them
    this.stop();
    await this.api.POST("/v1/auth/logout", { body: { refresh_token: this.kept.refresh_token } }).catch(() => undefined);
  }

  /** Stops keeping the session in this tab, without logging out: other tabs (and storage) keep it. */
  close(): void {
    this.stop();
  }

  private keep(tokens: TokenView): KeptSession {
    const now = Date.now();
    return {
      access_token: tokens.access_token,
      refresh_token: tokens.refresh_token,
      refresh_due: now + tokens.expires_in * 1000 * this.ratio,
      refresh_expires: now + tokens.refresh_expires_in * 1000,
    };
  }

  private schedule(delay = this.kept.refresh_due - Date.now()): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.run(false), Math.min(MAX_DELAY_MS, Math.max(0, delay)));
  }

  // One refresh at a time in this tab, and with Web Locks one at a time across the tabs sharing the session.
  private run(forced: boolean): Promise<boolean> {
    if (this.ended) return Promise.resolve(false);
    this.running ??= this.withLock(() => this.refresh(forced)).finally(() => (this.running = undefined));
    return this.running;
  }

  private async withLock(work: () => Promise<boolean>): Promise<boolean> {
    const locks = this.storage ? webLocks() : undefined;
    return locks ? await locks.request(`${this.options.storageKey}:refresh`, work) : await work();
  }

  private async refresh(forced: boolean): Promise<boolean> {
    if (this.ended) return false;
    if (this.storage) {
      const stored = this.read();
      // Gone: another tab logged out (its `storage` event may not have arrived yet).
      if (!stored) return this.finish("ended-elsewhere");
      // Another tab refreshed first: its pair is this session's now, and the one held here is retired.
      if (stored.refresh_token !== this.kept.refresh_token) {
        this.adopt(stored);
        if (forced) return true;
      }
    }
    // Not due (yet, or again after adopting another tab's pair): nothing to do until it is.
    if (!forced && Date.now() < this.kept.refresh_due) {
      this.schedule();
      return true;
    }
    const presented = this.kept.refresh_token;
    const answer = await this.api.POST("/v1/auth/refresh", { body: { refresh_token: presented } }).catch(() => undefined);
    if (this.ended) return false;
    if (answer?.data) {
      this.kept = this.keep(answer.data);
      this.store();
      this.schedule();
      if (this.storage && webLocks()) await new Promise((handedOff) => setTimeout(handedOff, HANDOFF_MS));
      return true;
    }
    if (answer?.response.status === 401) {
      // Over for every tab; unless another one stored a new login meanwhile.
      if (this.read()?.refresh_token === presented) this.clearStored();
      return this.finish("refused");
    }
    // No answer, or not one about the token (429, 5xx): the session may well be alive.
    this.schedule(RETRY_MS);
    return false;
  }

  private adopt(stored: KeptSession): void {
    this.kept = stored;
    this.schedule();
  }

  // Another tab wrote the key: adopt its tokens, or end when it removed them (a logout there).
  private readonly onStorage = (event: StorageEvent): void => {
    if (this.ended || event.storageArea !== this.storage) return;
    if (event.key !== null && event.key !== this.options.storageKey) return; // null: the storage was cleared
    const stored = this.read();
    if (!stored) this.finish("ended-elsewhere");
    else if (stored.refresh_token !== this.kept.refresh_token) this.adopt(stored);
  };

  private finish(reason: SessionEndReason): false {
    if (!this.ended) {
      this.stop();
      this.options.onEnded?.(reason);
    }
    return false;
  }

  private stop(): void {
    this.ended = true;
    clearTimeout(this.timer);
    this.unshare();
  }

  private unshare(): void {
    if (this.storage) globalThis.removeEventListener?.("storage", this.onStorage);
    this.storage = undefined;
  }

  private read(): KeptSession | undefined {
    return this.storage && readKept(this.storage, this.options.storageKey ?? "");
  }

  private store(): void {
    try {
      this.storage?.setItem(this.options.storageKey ?? "", JSON.stringify(this.kept));
    } catch {
      this.unshare(); // full, or refused: this tab keeps the session alone
    }
  }

  private clearStored(): void {
    this.storage?.removeItem(this.options.storageKey ?? "");
  }
}

// localStorage where there is one: not in Node, and reading it throws where the user blocked it.
function localStorageIfAny(): Storage | undefined {
  try {
    return typeof localStorage === "undefined" ? undefined : localStorage;
  } catch {
    return undefined;
  }
}

// The Web Locks API where there is one: browsers in a secure context (https, localhost).
function webLocks(): LockManager | undefined {
  return typeof navigator === "undefined" ? undefined : navigator.locks ?? undefined;
}

// The session stored under `key`, if it is one and its refresh token still works.
function readKept(storage: Storage, key: string): KeptSession | undefined {
  let value: unknown;
  try {
    value = JSON.parse(storage.getItem(key) ?? "null");
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const kept = value as Partial<KeptSession>;
  if (typeof kept.access_token !== "string" || typeof kept.refresh_token !== "string") return undefined;
  if (typeof kept.refresh_due !== "number" || typeof kept.refresh_expires !== "number") return undefined;
  return kept.refresh_expires > Date.now() ? (kept as KeptSession) : undefined;
}
