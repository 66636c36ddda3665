// What the example pages share: finding elements, saying a problem+json
// answer for people, status lines, idempotency keys and number formats. (A
// session kept fresh with its refresh token is the client's SessionKeeper.)

import type { Problem } from "../clients/typescript/src/index.ts";

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
