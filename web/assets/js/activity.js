// An organization's history for its owners: one line per event, filters, a
// download as CSV or JSON Lines, and the member list as it was at any moment.

import { get, seg, Problem } from "./api.js";
import { h, replace, field, alertBox, busy, timeEl } from "./dom.js";
import { describe } from "./roles.js";
import { follow } from "./live.js";

/** Event types as people say them: the filter's choices and the list's words. */
const TYPES = [
  ["OrganizationCreated", "Organization created"],
  ["AccountAdded", "Account added"],
  ["AccountRenamed", "Account renamed"],
  ["UserInvited", "User invited"],
  ["InvitationChanged", "Invitation role changed"],
  ["InvitationResent", "Invitation resent"],
  ["InvitationEmailSent", "Invitation email sent"],
  ["InvitationEmailFailed", "Invitation email failed"],
  ["InvitationCancelled", "Invitation cancelled"],
  ["InvitationExpired", "Invitation expired"],
  ["InvitationAccepted", "Invitation accepted"],
  ["RoleChanged", "Role changed"],
  ["MemberRemoved", "Member removed"],
  ["ApiKeyCreated", "API key created"],
  ["ApiKeyRevoked", "API key revoked"],
  ["MemberProvisioned", "Member added by the directory"],
  ["MemberSuspended", "Member suspended"],
  ["MemberRestored", "Member restored"],
  ["MemberDetailsChanged", "Member details changed"],
  ["SsoConnectionConfigured", "Single sign-on connected"],
  ["SsoConnectionChanged", "Single sign-on changed"],
  ["SsoConnectionRemoved", "Single sign-on disconnected"],
  ["SsoIdentityLinked", "Single sign-on identity linked"],
  ["MemberJoinedBySso", "Member joined by single sign-on"],
];

const TYPE_WORDS = new Map(TYPES);

/** A download reads at most this many pages (of up to 200 events). */
const MAX_DOWNLOAD_PAGES = 250;

/** The activity page of organization `orgId`. */
export async function activityPage(app, orgId) {
  const me = await app.requireMe();
  if (!me) return;
  const org = me.organizations.find((o) => o.org_id === orgId);
  if (!org) throw new Problem(404, { detail: "You are not a member of this organization." });
  if (org.role !== "owner") throw new Problem(403, { detail: "Only the organization's owners see its activity." });
  document.title = `Activity · ${org.name} · Roster`;

  let accountNames = new Map();
  if (org.shape === "multi") {
    const body = await get(`/api/orgs/${seg(orgId)}/accounts`);
    accountNames = new Map(body.accounts.map((a) => [a.account_id, a.name]));
  }

  // To the second: a minute is too coarse for "who had access when".
  const since = field("From", { type: "datetime-local", name: "since", step: 1 });
  const until = field("Until", { type: "datetime-local", name: "until", step: 1 });
  const type = field("Event", {
    tag: "select",
    name: "type",
    options: [h("option", { value: "" }, "Every event"), TYPES.map(([v, label]) => h("option", { value: v }, label))],
  });
  const alert = alertBox();
  const rows = h("tbody");
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Show older events");
  const apply = h("button", { type: "submit", class: "primary" }, "Apply filters");
  const csv = h("button", { type: "button", class: "secondary" }, "Download CSV");
  const jsonl = h("button", { type: "button", class: "secondary" }, "Download JSONL");
  let cursor = null;
  /** Whether older pages were added below the first. */
  let paged = false;

  const filters = h("form", { class: "filters", novalidate: true }, since.row, until.row, type.row,
    h("div", { class: "filter-actions" }, apply));

  const asOf = field("Members as of", { type: "datetime-local", name: "as_of", required: true, step: 1 });
  const asOfShow = h("button", { type: "submit", class: "secondary" }, "Show members");
  const asOfAlert = alertBox();
  const asOfResult = h("div", { class: "as-of-result", "aria-live": "polite" });
  const asOfForm = h("form", { class: "filters", novalidate: true }, asOf.row, h("div", { class: "filter-actions" }, asOfShow));

  replace(app.main,
    h("div", { class: "page-head" },
      h("div", {}, h("p", { class: "eyebrow" }, org.name), h("h1", {}, "Activity")),
      h("div", { class: "button-row" }, csv, jsonl)),
    h("section", { class: "panel", "aria-labelledby": "history-title" },
      h("h2", { id: "history-title" }, "History"),
      h("p", { class: "hint" }, "Newest first, one line per recorded event."),
      filters, alert.el,
      h("div", { class: "table-wrap" },
        h("table", { class: "list" },
          h("thead", {}, h("tr", {},
            h("th", { scope: "col" }, "When"),
            h("th", { scope: "col" }, "What happened"),
            h("th", { scope: "col" }, "Event"))),
          rows)),
      more),
    h("section", { class: "panel", "aria-labelledby": "as-of-title" },
      h("h2", { id: "as-of-title" }, "Who had access, and when"),
      h("p", { class: "hint" }, "Pick a moment to see the member list exactly as it was then, rebuilt from the history."),
      asOfForm, asOfAlert.el, asOfResult));

  function params() {
    const iso = (input) => (input.value ? new Date(input.value).toISOString() : undefined);
    return { since: iso(since.input), until: iso(until.input), type: type.input.value || undefined };
  }

  async function load(reset) {
    alert.clear();
    paged = !reset;
    try {
      const body = await get(`/api/orgs/${seg(orgId)}/history`, { ...params(), order: "newest", cursor: reset ? undefined : cursor, limit: 50 });
      cursor = body.next_cursor;
      const drawn = body.events.map((e) => h("tr", {},
        h("td", { "data-label": "When" }, timeEl(e.recorded_at)),
        h("td", { "data-label": "What happened" }, e.summary),
        h("td", { "data-label": "Event" }, TYPE_WORDS.get(e.event_type) || e.event_type)));
      if (reset) replace(rows, drawn);
      else rows.append(...drawn);
      if (reset && !body.events.length) {
        replace(rows, h("tr", {}, h("td", { colspan: 3, class: "empty" }, "No event matches these filters.")));
      }
      more.hidden = cursor === null || cursor === undefined;
    } catch (e) {
      if (!(e instanceof Problem)) throw e;
      alert.show(e.message);
    }
  }

  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(apply, "Loading…", () => load(true));
  });
  more.addEventListener("click", () => busy(more, "Loading…", () => load(false)));
  csv.addEventListener("click", () => busy(csv, "Preparing…", () => download("csv")));
  jsonl.addEventListener("click", () => busy(jsonl, "Preparing…", () => download("jsonl")));

  async function download(format) {
    alert.clear();
    const events = [];
    let next;
    try {
      for (let page = 0; page < MAX_DOWNLOAD_PAGES; page += 1) {
        const body = await get(`/api/orgs/${seg(orgId)}/history`, { ...params(), cursor: next, limit: 200 });
        events.push(...body.events);
        next = body.next_cursor;
        if (next === null || next === undefined) break;
      }
    } catch (e) {
      if (!(e instanceof Problem)) throw e;
      alert.show(e.message);
      return;
    }
    const columns = ["position", "recorded_at", "event_type", "summary", "actor_id", "subject", "source", "event_id"];
    const text = format === "csv"
      ? [columns.join(","), ...events.map((e) => columns.map((c) => csvCell(e[c])).join(","))].join("\r\n") + "\r\n"
      : events.map((e) => JSON.stringify(e)).join("\n") + (events.length ? "\n" : "");
    const blob = new Blob([text], { type: format === "csv" ? "text/csv" : "application/x-ndjson" });
    const link = h("a", { href: URL.createObjectURL(blob), download: `${slug(org.name)}-history.${format}` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }

  asOfForm.addEventListener("submit", (event) => {
    event.preventDefault();
    asOfAlert.clear();
    if (!asOf.input.value) {
      asOf.setError("Pick a date and time.");
      return;
    }
    asOf.setError(null);
    const at = new Date(asOf.input.value);
    busy(asOfShow, "Loading…", async () => {
      try {
        const body = await get(`/api/orgs/${seg(orgId)}/members`, { as_of: at.toISOString() });
        replace(asOfResult,
          h("p", {}, `${body.members.length} ${body.members.length === 1 ? "member" : "members"} on ${at.toLocaleString()}:`),
          body.members.length
            ? h("ul", { class: "plain" }, body.members.map((m) => h("li", {},
              h("strong", {}, m.full_name), ` (${m.email}) — ${describe(m.role, accountNames)}`)))
            : null);
      } catch (e) {
        if (!(e instanceof Problem)) throw e;
        asOfAlert.show(e.message);
      }
    });
  });

  await load(true);
  // New events appear at the top as they happen, unless older pages are open
  // or the filters end in the past.
  app.cleanups.push(follow(orgId, () => {
    if (paged || until.input.value) return;
    load(true);
  }, () => Promise.resolve(load(true)).then(() => true, () => false)));
}

function csvCell(value) {
  const s = value === undefined || value === null ? "" : String(value);
  // A leading formula character is neutralised so spreadsheets show text, not run it.
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

function slug(name) {
  return (name || "organization").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "organization";
}
