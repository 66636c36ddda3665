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
export type MeView = Schemas["MeView"];
export type TokenView = Schemas["TokenView"];
export type Problem = Schemas["Problem"];
export type ProblemCode = Schemas["ProblemCode"];
export type FieldError = Schemas["FieldError"];
// The support desk's views (admins only).
export type AdminMemberView = Schemas["AdminMemberView"];
export type AdminMemberDetail = Schemas["AdminMemberDetail"];
export type ApprovalView = Schemas["ApprovalView"];
export type ReviewItemView = Schemas["ReviewItemView"];
export type AuditRecordView = Schemas["AuditRecordView"];
export type TimelineView = Schemas["TimelineView"];
/** The query `listTransfers` takes: `limit`, `cursor`, `direction`, `state`, `since`, `until`. */
export type ListTransfersQuery = NonNullable<operations["listTransfers"]["parameters"]["query"]>;

/** The data of a `reset` event: the stream could not resume, so refetch balance and history. */
export interface ResetEvent {
  reason: string;
}

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
  on<Record<string, never>>("ready", () => handlers.ready?.());
  on<TransferView>("transfer", (data, id) => handlers.transfer?.(data, id));
  on<BalanceView>("balance", (data, id) => handlers.balance?.(data, id));
  on<ResetEvent>("reset", (data) => handlers.reset?.(data));
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
