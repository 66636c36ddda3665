// An app as a team using @hey-api/openapi-ts would write it: every type comes
// from the types that generator makes of /openapi.json (put beside this file
// as generated/ by scripts/check-client, which type-checks it with --strict),
// none is written by hand: the stream's events, a refusal's field, limit and
// field-error params, and the share's request headers.
import type {
  CreateTransferData,
  FieldError,
  Problem,
  RecentRecipients,
  StreamEvent,
} from "./generated/types.gen";

/** What a page shows for each event of GET /v1/me/events. */
export function onEvent(message: StreamEvent): string {
  switch (message.event) {
    case "ready":
      return "live";
    case "transfer":
      return `${message.data.to_handle}: ${message.data.state}`;
    case "balance":
      return `${message.data.balance} points`;
    case "reset":
      return message.data.reason;
  }
}

/** A field error in the page's own words, from its numbers and names. */
export function fieldMessage(error: FieldError): string {
  const rule = error.params;
  if (rule?.max_length != null) return `${error.pointer}: at most ${rule.max_length} characters`;
  if (rule?.min_length != null) return `${error.pointer}: at least ${rule.min_length} characters`;
  if (rule?.min != null) return `${error.pointer}: at least ${rule.min}`;
  if (rule?.pattern != null) return `${error.pointer}: not a ${rule.pattern}`;
  return `${error.pointer}: ${error.code}`;
}

/** What to do about a refusal, without reading its English. */
export function refusal(problem: Problem): string {
  switch (problem.code) {
    case "token_expired":
      return "refresh the access token";
    case "unauthenticated":
      return "log in again";
    case "limit_exceeded":
      return problem.limit != null ? `at most ${problem.limit} points` : "over the daily limit";
    case "validation_failed":
      return (problem.errors ?? []).map(fieldMessage).join("; ");
    default:
      return problem.pointer ?? problem.code;
  }
}

/** A share's headers, typed: the key is required, the preference optional. */
export const shareHeaders: CreateTransferData["headers"] = { "Idempotency-Key": "k-1", Prefer: "respond-async" };

/** The recipient picker's recent list, by handle. */
export const recentHandles = (recent: RecentRecipients): string[] => recent.items.map((item) => item.handle);
