// The page's only way to the server: the public JSON API, with the session cookie.
// Every refusal arrives as an RFC 9457 problem document and becomes a `Problem`.
// Commands answer with the log position they reached; later queries pass it as
// `after`, so a list read right after a change already shows it.

/** A server's words as people write a sentence: a capital first, a full stop last. */
export function sentence(text) {
  const t = String(text || "").trim();
  if (!t) return t;
  const capital = t[0].toUpperCase() + t.slice(1);
  return /[.!?…]$/.test(capital) ? capital : `${capital}.`;
}

/** Refusals whose API wording is written for developers, said for people. */
const IN_WORDS = {
  unauthenticated: "Your session has ended. Sign in again.",
  "not-an-owner": "Only the organization's owners can do this.",
  "last-owner": "An organization needs at least one owner. Make another member an owner first.",
  "member-not-found": "This person is no longer a member: another owner may have removed them.",
  "invitation-not-found": "This invitation no longer exists: another owner may have cancelled it.",
  "organization-not-found": "This organization does not exist, or you are no longer a member of it.",
};

function typeOf(doc) {
  return doc && typeof doc.type === "string" ? doc.type.split("/").pop() : "http-error";
}

/** A refusal from the API: `rule` is the last segment of the problem's `type`. */
export class Problem extends Error {
  constructor(status, doc) {
    const rule = typeOf(doc);
    const detail = IN_WORDS[rule] || sentence(doc && (doc.detail || doc.title))
      || `The request failed (HTTP ${status}). Try again in a moment.`;
    super(detail);
    this.status = status;
    this.doc = doc || {};
    this.rule = rule;
    this.fieldErrors = (Array.isArray(this.doc.errors) ? this.doc.errors : [])
      .map((e) => ({ ...e, message: sentence(e.message) }));
  }
}

let position = 0;

/** Called when the API says the session is gone (set by the app shell). */
let onSignedOut = () => {};
export function whenSignedOut(handler) {
  onSignedOut = handler;
}

/**
 * Asked when the session ends while a dialog is open (set by the app shell):
 * resolves to true once the person has signed in again, so the request is sent
 * again and nothing they typed is lost.
 */
let onSessionEnded = async () => false;
export function whenSessionEnds(handler) {
  onSessionEnded = handler;
}

/** The one sign-in-again question open at a time, shared by every refused request. */
let reauthenticating = null;

function signInAgain() {
  if (!reauthenticating) {
    reauthenticating = onSessionEnded().finally(() => {
      reauthenticating = null;
    });
  }
  return reauthenticating;
}

function idempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Makes later queries wait for `seen` too: an event the page saw live. */
export function sawPosition(seen) {
  if (seen > position) position = seen;
}

/** The log position the last change reached (0 before any). */
export function lastPosition() {
  return position;
}

async function request(method, path, body, { quiet401 = false } = {}, key = idempotencyKey(), retried = false) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  // A request sent again after signing in again keeps its key: the first was refused unheard.
  if (method !== "GET") headers["Idempotency-Key"] = key;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new Problem(0, {
      type: "network",
      title: "No connection",
      detail: "Roster could not be reached. Check your connection and try again.",
    });
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch (e) {
      data = null;
    }
  }
  if (!response.ok) {
    const problem = new Problem(response.status, data);
    if (response.status === 401 && problem.rule === "unauthenticated" && !quiet401) {
      // Mid-action (a dialog is open): sign in again in place, then send it again.
      if (!retried && document.querySelector("dialog[open]") && await signInAgain()) {
        return request(method, path, body, { quiet401 }, key, true);
      }
      onSignedOut();
    }
    throw problem;
  }
  if (data && typeof data.position === "number" && data.position > position) {
    position = data.position;
  }
  return data;
}

/** A query; waits (up to 2 s, server-side) for the read models to show our last change. */
export function get(path, params = {}, options = {}) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") query.set(k, String(v));
  }
  if (position > 0 && !query.has("after")) query.set("after", String(position));
  const qs = query.toString();
  return request("GET", qs ? `${path}?${qs}` : path, undefined, options);
}

/** A command or sign-in. */
export function post(path, body = {}, options = {}) {
  return request("POST", path, body, options);
}

/** A partial change. */
export function patch(path, body) {
  return request("PATCH", path, body);
}

/** A replacement (a whole setting). */
export function put(path, body) {
  return request("PUT", path, body);
}

/** A removal. */
export function del(path) {
  return request("DELETE", path);
}

/** Path segment escaping for ids and tokens. */
export function seg(value) {
  return encodeURIComponent(String(value));
}
