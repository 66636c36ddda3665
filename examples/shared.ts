// What the example pages share: finding elements, saying a problem+json
// answer for people, status lines, idempotency keys and number formats. (A
// session kept fresh with its refresh token is the client's SessionKeeper.)

import type { FieldError, Problem } from "../clients/typescript/src/index.ts";

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
    return problem.errors.map((e) => `${e.pointer.replace(/^\//, "") || "request"}: ${ruleBroken(e)}`).join("; ");
  }
  return problem.detail ?? problem.title;
}

/** A field error in the page's own words, from the rule's numbers and names. */
export function ruleBroken(error: FieldError): string {
  const rule = error.params;
  if (rule?.max != null) return `at most ${points.format(rule.max)}`;
  if (rule?.min != null) return `at least ${points.format(rule.min)}`;
  if (rule?.max_length != null) return `at most ${rule.max_length} characters`;
  if (rule?.min_length != null) return `at least ${rule.min_length} characters`;
  if (rule?.pattern != null) return `not a valid ${rule.pattern}`;
  return error.detail;
}

/**
 * Marks the inputs a 422 names (by the JSON Pointer of each field error,
 * matched to the input whose `data-field` is that field) and clears the
 * others of `form`.
 */
export function markInvalid(form: HTMLFormElement, problem: Problem | undefined): void {
  const invalid = new Map((problem?.errors ?? []).map((e) => [e.pointer.replace(/^\//, ""), ruleBroken(e)]));
  for (const input of form.querySelectorAll<HTMLInputElement>("input[data-field]")) {
    const why = invalid.get(input.dataset["field"] ?? "");
    if (why) {
      input.dataset["invalid"] = why;
      input.setAttribute("aria-invalid", "true");
    } else {
      delete input.dataset["invalid"];
      input.removeAttribute("aria-invalid");
    }
  }
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
