// What the example pages share: finding elements, saying a problem+json
// answer for people, status lines, idempotency keys, number formats, and a
// session kept fresh with its refresh token.

import type { PointshareClient, Problem, TokenView } from "../clients/typescript/src/index.ts";

export const $ = <T extends HTMLElement>(id: string): T => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as T;
};

/** The API's base URL, from the page's query: ?api=http://127.0.0.1:8080 */
export const apiBase = new URLSearchParams(location.search).get("api") ?? "http://127.0.0.1:8080";

// What a problem+json answer says, for people: each field at fault, or the detail.
export function describe(problem: Problem | undefined, fallback: string): string {
  if (!problem) return fallback;
  if (problem.errors?.length) {
    return problem.errors.map((e) => `${e.pointer.replace(/^\//, "") || "request"}: ${e.detail}`).join("; ");
  }
  return problem.detail ?? problem.title;
}

export function setStatus(id: string, text: string, state: "idle" | "busy" | "done" | "error"): void {
  const element = $(id);
  element.textContent = text;
  element.dataset["state"] = state;
}

/** A fresh `Idempotency-Key`. */
export function newKey(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export const points = new Intl.NumberFormat();
export const when = new Intl.DateTimeFormat(undefined, {
  month: "short",
  day: "numeric",
  hour: "numeric",
  minute: "2-digit",
});

/**
 * A logged-in session that stays so: trades its refresh token for a new pair
 * a while before the access token expires, again and again, until `end()`
 * (which logs out) or the server ends the session (`onEnded`).
 */
export class FreshSession {
  accessToken: string;
  refreshToken: string;
  private timer = 0;
  private ended = false;

  constructor(
    private readonly api: PointshareClient,
    tokens: TokenView,
    private readonly onEnded: () => void,
  ) {
    this.accessToken = tokens.access_token;
    this.refreshToken = tokens.refresh_token;
    this.schedule(tokens.expires_in);
  }

  private schedule(expiresIn: number): void {
    const seconds = Math.max(5, Math.floor(expiresIn * 0.8));
    this.timer = window.setTimeout(() => void this.refresh(), seconds * 1000);
  }

  private async refresh(): Promise<void> {
    const { data } = await this.api.POST("/v1/auth/refresh", { body: { refresh_token: this.refreshToken } });
    if (this.ended) return;
    if (!data) {
      this.ended = true;
      this.onEnded();
      return;
    }
    this.accessToken = data.access_token;
    this.refreshToken = data.refresh_token;
    this.schedule(data.expires_in);
  }

  /** Logs out: the session's tokens stop working. */
  end(): void {
    this.ended = true;
    window.clearTimeout(this.timer);
    void this.api.POST("/v1/auth/logout", { body: { refresh_token: this.refreshToken } });
  }
}
