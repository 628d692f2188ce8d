// Live updates: a page follows its organization's own event feed (Server-Sent
// Events) and reads again what the events change, so owners working at the same
// time see each other's changes, and email delivery, without reloading. The
// browser resumes a dropped stream by itself (from the last event's id); each
// (re)connection begins with `ready` and the page reads its lists again up to
// where the stream starts, so nothing falls between a read and the stream.

import { seg, sawPosition } from "./api.js";

/** The organization events the feed names (its SSE event types). */
const KINDS = [
  "OrganizationCreated", "AccountAdded", "AccountRenamed", "UserInvited", "InvitationChanged",
  "InvitationResent", "InvitationCancelled",
  "InvitationExpired", "InvitationAccepted", "RoleChanged", "MemberRemoved", "InvitationEmailSent",
  "InvitationEmailFailed", "ApiKeyCreated", "ApiKeyRevoked",
  "MemberProvisioned", "MemberSuspended", "MemberRestored", "MemberDetailsChanged",
  "SsoConnectionConfigured", "SsoConnectionChanged", "SsoConnectionRemoved", "SsoIdentityLinked",
  "MemberJoinedBySso",
];

/** Events arriving within this long are answered with one read. */
const GATHER_MS = 150;

/**
 * Follows organization `orgId` from now on: `onChange(kinds)` runs (at most once
 * per GATHER_MS) with the kinds of event seen, and `onEnded()` when the server
 * ends the stream because the session or the ownership is gone (resolving to
 * true when access is back, to follow on). Answers the function that stops
 * following (for the page's cleanups).
 */
export function follow(orgId, onChange, onEnded = () => false) {
  if (typeof EventSource === "undefined") return () => {};
  let source = null;
  let stopped = false;
  let timer = null;
  let kinds = new Set();
  const changed = (kind) => {
    kinds.add(kind);
    clearTimeout(timer);
    timer = setTimeout(() => {
      const seen = kinds;
      kinds = new Set();
      onChange(seen);
    }, GATHER_MS);
  };
  const connect = () => {
    source = new EventSource(`/api/orgs/${seg(orgId)}/events?from=now`);
    // Each (re)connection first says where it starts: the page reads its lists
    // again up to there, and everything later arrives as events.
    source.addEventListener("ready", (event) => {
      const start = Number(event.data);
      if (Number.isFinite(start)) sawPosition(start);
      changed("ready");
    });
    for (const kind of KINDS) {
      source.addEventListener(kind, (event) => {
        try {
          const body = JSON.parse(event.data);
          // The next reads wait until the read models show this event.
          if (typeof body.position === "number") sawPosition(body.position);
        } catch (e) {
          // An event that does not parse still means something changed.
        }
        changed(kind);
      });
    }
    // The session or the ownership ended: `onEnded` may win it back (the
    // person signs in again), and then the page follows on.
    source.addEventListener("access-ended", () => {
      source.close();
      Promise.resolve(onEnded()).then((again) => {
        if (again === true && !stopped) connect();
      }, () => {});
    });
  };
  connect();
  return () => {
    stopped = true;
    clearTimeout(timer);
    source.close();
  };
}
