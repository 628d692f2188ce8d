// User management for owners: members, pending and expired invitations under
// tabs with counts (one search for all three, invitations sortable), the time
// left and email delivery of each invitation, the accounts of a multi-account
// organization, and the dialogs that invite, edit, remove, resend and cancel.

import { get, post, del, seg, Problem } from "./api.js";
import { h, replace, debounce, timeEl, timeLeft, confirmDialog, infoDialog, toast } from "./dom.js";
import { describe } from "./roles.js";
import { inviteDialog, editDialog, invitationDialog, accountDialog } from "./member_dialogs.js";
import { follow } from "./live.js";
import { bulkInviteDialog } from "./bulk_invite.js";

const PAGE = 50;

/** Events that change the member list (the rest change only invitations). */
const MEMBER_EVENTS = new Set([
  "InvitationAccepted", "RoleChanged", "MemberRemoved", "AccountRenamed", "MemberProvisioned",
  "MemberSuspended", "MemberRestored", "MemberDetailsChanged", "MemberJoinedBySso", "ready",
]);

/** Events that change the accounts. */
const ACCOUNT_EVENTS = new Set(["AccountAdded", "AccountRenamed", "ready"]);

const DELIVERY = {
  queued: "Sending",
  sent: "Delivered",
  retrying: "Retrying",
  failed: "Failed",
};

/** The tabs, by the name the address keeps (`?tab=`). */
const TABS = ["members", "pending", "expired"];

/** How invitations can be ordered: label, and the comparison. */
const SORTS = {
  sent: ["Newest sent first", null],
  expiry: ["Expiring soonest", (a, b) => a.expires_at.localeCompare(b.expires_at)],
  name: ["Name (A–Z)", (a, b) => a.full_name.localeCompare(b.full_name, undefined, { sensitivity: "base" })],
  email: ["Email (A–Z)", (a, b) => a.email.localeCompare(b.email)],
};

/** The user management page of organization `orgId`. */
export async function usersPage(app, orgId) {
  const me = await app.requireMe();
  if (!me) return;
  const org = me.organizations.find((o) => o.org_id === orgId);
  if (!org) throw new Problem(404, { detail: "You are not a member of this organization." });
  if (org.role !== "owner") {
    throw new Problem(403, { detail: "Only the organization's owners manage users. Ask an owner if you need a change." });
  }
  document.title = `User management · ${org.name} · Roster`;

  const ctx = {
    app,
    org,
    me,
    accounts: [],
    accountNames: new Map(),
    members: [],
    invitations: [],
    cursor: null,
    search: "",
    owners: 0,
    inviterNames: new Map([[me.user_id, "you"]]),
    refresh,
    show,
  };

  const memberRows = h("tbody");
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Show more members");
  const count = h("p", { class: "hint", "aria-live": "polite" });
  const inviteRows = h("tbody");
  const noInvites = h("p", { class: "empty", hidden: true }, "No pending invitations.");
  const expiredRows = h("tbody");
  const noExpired = h("p", { class: "empty", hidden: true }, "No expired invitations.");
  const searchId = "people-search";
  const searchBox = h("input", {
    id: searchId, type: "search", name: "search", placeholder: "Name or email", autocomplete: "off", maxlength: 100,
  });
  const sortId = "invite-sort";
  const sortPick = h("select", { id: sortId, name: "sort" },
    Object.entries(SORTS).map(([value, [label]]) => h("option", { value }, label)));
  const inviteButton = h("button", { type: "button", class: "primary" }, "+ Invite user");
  inviteButton.addEventListener("click", () => inviteDialog(ctx));
  const bulkButton = h("button", { type: "button", class: "secondary" }, "Invite many");
  bulkButton.addEventListener("click", () => bulkInviteDialog(ctx));

  // The tabs: Members, Pending, Expired, each with its count.
  const tabs = {};
  const panels = {};
  const counts = {};
  const roleHead = org.shape === "multi" ? "Roles" : "Role";
  const inviteTable = (rows) => h("div", { class: "table-wrap" },
    h("table", { class: "list" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, "Name"),
        h("th", { scope: "col" }, "Email"),
        h("th", { scope: "col" }, roleHead),
        h("th", { scope: "col" }, "Sent"),
        h("th", { scope: "col" }, "Expires"),
        h("th", { scope: "col" }, "Delivery"),
        h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
      rows));
  const panelBodies = {
    members: [
      h("div", { class: "table-wrap" },
        h("table", { class: "list" },
          h("thead", {}, h("tr", {},
            h("th", { scope: "col" }, "Name"),
            h("th", { scope: "col" }, "Email"),
            h("th", { scope: "col" }, roleHead),
            h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
          memberRows)),
      count,
      more,
    ],
    pending: [inviteTable(inviteRows), noInvites],
    expired: [
      h("p", { class: "hint" }, "Their links no longer work. Resend one to give a fresh link, or cancel it."),
      inviteTable(expiredRows),
      noExpired,
    ],
  };
  const titles = { members: "Members", pending: "Pending", expired: "Expired" };
  const ids = { members: "members-title", pending: "invites-title", expired: "expired-title" };
  for (const name of TABS) {
    counts[name] = h("span", { class: "tab-count" });
    tabs[name] = h("button", {
      type: "button", role: "tab", id: ids[name], "aria-controls": `${name}-panel`, class: "tab",
    }, titles[name], " ", counts[name]);
    tabs[name].addEventListener("click", () => show(name, { focus: false }));
    panels[name] = h("section", { role: "tabpanel", id: `${name}-panel`, "aria-labelledby": ids[name], tabindex: 0 },
      panelBodies[name]);
  }
  const tabList = h("div", { role: "tablist", "aria-label": "People", class: "tabs" }, TABS.map((n) => tabs[n]));
  // Arrow keys move between tabs (the WAI-ARIA tabs pattern).
  tabList.addEventListener("keydown", (event) => {
    const at = TABS.findIndex((n) => tabs[n] === document.activeElement);
    if (at < 0) return;
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    const to = event.key === "Home" ? 0 : event.key === "End" ? TABS.length - 1 : step ? (at + step + TABS.length) % TABS.length : -1;
    if (to < 0) return;
    event.preventDefault();
    show(TABS[to], { focus: true });
  });
  const sortField = h("div", { class: "search sort" }, h("label", { for: sortId }, "Sort invitations"), sortPick);

  const accountsPanel = org.shape === "multi" ? accountsSection(ctx) : null;
  const noAccounts = h("div", { class: "note", hidden: true },
    h("p", {}, "This organization has no accounts yet, so contributors cannot be invited. Add its first account."),
    h("button", { type: "button", class: "secondary small", onclick: () => accountDialog(ctx, null) }, "+ Add account"));

  replace(app.main,
    h("div", { class: "page-head" },
      h("div", {},
        h("p", { class: "eyebrow" }, org.name),
        h("h1", {}, "User management")),
      h("div", { class: "button-row" }, bulkButton, inviteButton)),
    noAccounts,
    h("section", { class: "panel", "aria-label": "Members and invitations" },
      tabList,
      h("div", { class: "toolbar" },
        h("div", { class: "search" }, h("label", { for: searchId }, "Search people"), searchBox),
        sortField),
      TABS.map((n) => panels[n])),
    accountsPanel ? accountsPanel.el : null);

  /** Shows tab `name`, keeping it in the address so a reload comes back to it. */
  function show(name, { focus = false } = {}) {
    if (!TABS.includes(name)) name = "members";
    for (const n of TABS) {
      const on = n === name;
      tabs[n].setAttribute("aria-selected", on ? "true" : "false");
      tabs[n].tabIndex = on ? 0 : -1;
      panels[n].hidden = !on;
    }
    sortField.hidden = name === "members";
    if (focus) tabs[name].focus();
    const url = new URL(location.href);
    if (name === "members") url.searchParams.delete("tab");
    else url.searchParams.set("tab", name);
    history.replaceState(history.state, "", url.pathname + url.search);
  }
  show(new URLSearchParams(location.search).get("tab") || "members");

  const searched = debounce(() => {
    if (searchBox.value.trim() === ctx.search) return;
    ctx.search = searchBox.value.trim();
    drawInvites();
    loadMembers(true).catch(report);
  }, 250);
  // Typing, the field's own clear button, and a clear that only fires `change`.
  for (const kind of ["input", "search", "change"]) searchBox.addEventListener(kind, searched);
  sortPick.addEventListener("change", drawInvites);
  more.addEventListener("click", () => loadMembers(false).catch(report));

  /** What the lists show now, to redraw only on a change. */
  let shownMembers = null;
  let shownInvites = null;

  async function loadMembers(reset) {
    // A refresh keeps as many rows as were shown (up to the API's 200).
    const limit = reset ? Math.min(200, Math.max(PAGE, ctx.members.length)) : PAGE;
    const body = await get(`/api/orgs/${seg(orgId)}/members`, {
      search: ctx.search, limit, cursor: reset ? null : ctx.cursor,
    });
    // A refresh that finds the same rows leaves the list alone: no flicker, and
    // no button swapped out from under a click.
    const seen = JSON.stringify([ctx.search, body.members, body.next_cursor, [...ctx.accountNames]]);
    if (reset && seen === shownMembers) return;
    shownMembers = reset ? seen : null;
    ctx.members = reset ? body.members : ctx.members.concat(body.members);
    ctx.cursor = body.next_cursor;
    for (const m of ctx.members) ctx.inviterNames.set(m.user_id, m.full_name);
    ctx.inviterNames.set(ctx.me.user_id, "you");
    drawMembers();
  }

  function drawMembers() {
    redraw(memberRows, ctx.members.map((m) => memberRow(ctx, m)));
    if (!ctx.members.length) {
      const invited = matching().length;
      redraw(memberRows, h("tr", {}, h("td", { colspan: 4, class: "empty" },
        `No member matches “${ctx.search}”.`,
        invited ? ` ${invited} ${invited === 1 ? "invitation does" : "invitations do"}: see Pending and Expired.` : "")));
    }
    more.hidden = !ctx.cursor;
    const n = ctx.members.length;
    count.textContent = ctx.cursor
      ? `Showing the first ${n} members.`
      : `${n} ${n === 1 ? "member" : "members"}${ctx.search ? " found" : ""}.`;
    counts.members.textContent = ctx.cursor ? `(${n}+)` : `(${n})`;
  }

  async function loadOwners() {
    const body = await get(`/api/orgs/${seg(orgId)}/members`, { role: "owner", limit: 2 });
    ctx.owners = body.members.filter((m) => m.role_label === "owner").length;
  }

  async function loadInvites() {
    const body = await get(`/api/orgs/${seg(orgId)}/invitations`);
    // The countdown ticks on the page; only a change of the rows redraws them.
    const seen = JSON.stringify([body.invitations, [...ctx.accountNames]],
      (k, v) => (k === "resend_in_seconds" ? undefined : v));
    if (seen === shownInvites) return;
    shownInvites = seen;
    ctx.invitations = body.invitations;
    drawInvites();
  }

  /** The invitations the search matches, in the chosen order. */
  function matching() {
    const needle = ctx.search.toLowerCase();
    const found = ctx.invitations.filter((i) => !needle
      || i.full_name.toLowerCase().includes(needle) || i.email.toLowerCase().includes(needle));
    const order = SORTS[sortPick.value] && SORTS[sortPick.value][1];
    return order ? [...found].sort(order) : found;
  }

  function drawInvites() {
    const all = matching();
    const expired = all.filter(isExpired);
    const pending = all.filter((i) => !isExpired(i));
    redraw(inviteRows, pending.map((i) => inviteRow(ctx, i)));
    redraw(expiredRows, expired.map((i) => inviteRow(ctx, i)));
    const filtered = ctx.search ? ` matching “${ctx.search}”` : "";
    noInvites.textContent = `No pending invitations${filtered}.`;
    noExpired.textContent = `No expired invitations${filtered}.`;
    noInvites.hidden = pending.length > 0;
    noExpired.hidden = expired.length > 0;
    counts.pending.textContent = `(${pending.length})`;
    counts.expired.textContent = `(${expired.length})`;
    if (!ctx.members.length && ctx.search) drawMembers();
  }

  async function loadAccounts() {
    if (org.shape !== "multi") return;
    const body = await get(`/api/orgs/${seg(orgId)}/accounts`);
    ctx.accounts = body.accounts;
    ctx.accountNames = new Map(body.accounts.map((a) => [a.account_id, a.name]));
    noAccounts.hidden = ctx.accounts.length > 0;
    if (accountsPanel) accountsPanel.draw();
  }

  /** Reloads what changed; every read waits for the change just made (read-your-writes). */
  async function refresh({ members = true, invites = true, accounts = false } = {}) {
    if (accounts) await loadAccounts();
    const work = [];
    if (members) work.push(loadMembers(true), loadOwners());
    if (invites) work.push(loadInvites());
    await Promise.all(work);
  }

  function report(e) {
    if (!(e instanceof Problem)) throw e;
    count.textContent = e.message;
  }

  await refresh({ accounts: true });
  // Other owners' changes and email delivery show as they happen.
  app.cleanups.push(follow(orgId, (kinds) => {
    const has = (set) => [...kinds].some((k) => set.has(k));
    refresh({ members: has(MEMBER_EVENTS), invites: true, accounts: has(ACCOUNT_EVENTS) }).catch(report);
  }, () => refresh().then(() => true, (e) => {
    report(e);
    return false;
  })));
  // The time left ticks on its own.
  const ticker = setInterval(() => {
    for (const cell of app.main.querySelectorAll("[data-expires]")) {
      cell.replaceChildren(expiryText(cell.dataset.expires, cell.dataset.status));
    }
  }, 15000);
  // So do the resend buttons' cooldowns, by the second.
  const cooldowns = setInterval(() => {
    for (const button of app.main.querySelectorAll("[data-resend-after]")) cooldown(button);
  }, 1000);
  app.cleanups.push(() => clearInterval(ticker), () => clearInterval(cooldowns));
}

/**
 * Redraws `container` without losing the focus: a button that had it gets it
 * back in its new row (found by its label), or, when its row is gone (a member
 * removed, an invitation cancelled), the nearest panel takes it.
 */
function redraw(container, ...children) {
  const active = document.activeElement;
  const inside = active && container.contains(active);
  const label = inside && active.getAttribute("aria-label");
  replace(container, ...children);
  if (!inside) return;
  const again = label && [...container.querySelectorAll("button")].find((b) => b.getAttribute("aria-label") === label);
  const panel = container.closest("[tabindex], section");
  if (again) again.focus();
  else if (panel) {
    if (!panel.hasAttribute("tabindex")) panel.tabIndex = -1;
    panel.focus();
  }
}

/** Whether an invitation's link no longer works (recorded, or its deadline passed). */
function isExpired(i) {
  return i.status === "expired" || Date.parse(i.expires_at) <= Date.now();
}

/** The accounts of a multi-account organization: list, add, rename. */
function accountsSection(ctx) {
  const rows = h("tbody");
  const add = h("button", { type: "button", class: "secondary" }, "+ Add account");
  add.addEventListener("click", () => accountDialog(ctx, null));
  const empty = h("p", { class: "empty", hidden: true }, "No accounts yet.");
  const el = h("section", { class: "panel", "aria-labelledby": "accounts-title" },
    h("div", { class: "section-head" },
      h("div", {},
        h("h2", { id: "accounts-title" }, "Accounts"),
        h("p", { class: "hint" }, "Owners are admin on every account; contributors see the accounts you give them.")),
      add),
    h("div", { class: "table-wrap" },
      h("table", { class: "list" },
        h("thead", {}, h("tr", {},
          h("th", { scope: "col" }, "Name"),
          h("th", { scope: "col" }, "Added"),
          h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
        rows)),
    empty);
  let shown = null;
  return {
    el,
    draw() {
      // Unchanged accounts are left alone, so no button goes stale under a click.
      const seen = JSON.stringify(ctx.accounts);
      if (seen === shown) return;
      shown = seen;
      redraw(rows, ctx.accounts.map((a) => {
        const rename = h("button", { type: "button", class: "secondary small", "aria-label": `Rename ${a.name}` }, "Rename");
        rename.addEventListener("click", () => accountDialog(ctx, a));
        return h("tr", { dataset: { account: a.account_id } },
          h("td", { "data-label": "Name" }, a.name),
          h("td", { "data-label": "Added" }, timeEl(a.added_at)),
          h("td", { class: "actions" }, rename));
      }));
      empty.hidden = ctx.accounts.length > 0;
    },
  };
}

function memberRow(ctx, m) {
  const you = m.user_id === ctx.me.user_id;
  const edit = h("button", { type: "button", class: "secondary small", "aria-label": `Edit ${m.full_name}` }, "Edit");
  edit.addEventListener("click", () => editDialog(ctx, m));
  return h("tr", { class: you ? "you" : null, dataset: { user: m.user_id } },
    h("td", { "data-label": "Name" }, m.full_name,
      you ? h("span", { class: "badge you-badge" }, "You") : null,
      m.managed ? h("span", { class: "badge", title: "Added by the organization's directory (SCIM)" }, "Directory") : null,
      m.suspended ? h("span", { class: "badge expired", title: "Suspended by the directory: no access until restored" }, "Suspended") : null),
    h("td", { "data-label": "Email" }, m.email),
    h("td", { "data-label": ctx.org.shape === "multi" ? "Roles" : "Role" }, describe(m.role, ctx.accountNames)),
    h("td", { class: "actions" }, edit));
}

/**
 * A resend button waits out the minute after the last send, counting down on
 * itself ("Resend in 42 s"), instead of being refused when pressed.
 */
function cooldown(button) {
  if (button.dataset.busy) return;
  const wait = Math.ceil((Number(button.dataset.resendAfter) - Date.now()) / 1000);
  if (wait > 0) {
    button.disabled = true;
    button.textContent = `Resend in ${wait} s`;
  } else if (button.disabled) {
    button.disabled = false;
    button.textContent = "Resend";
  }
}

function expiryText(expiresAt, status) {
  const left = status === "expired" ? null : timeLeft(expiresAt);
  return left ? h("span", {}, left) : h("span", { class: "badge expired" }, "Expired");
}

function inviteRow(ctx, i) {
  const edit = h("button", { type: "button", class: "secondary small", "aria-label": `Edit the invitation to ${i.full_name}` }, "Edit");
  edit.addEventListener("click", () => invitationDialog(ctx, i));
  const resend = h("button", {
    type: "button", class: "secondary small", "aria-label": `Resend the invitation to ${i.full_name}`,
    // Counted from when this answer arrived, so the client's clock does not matter.
    dataset: { resendAfter: String(Date.now() + (i.resend_in_seconds || 0) * 1000) },
  }, "Resend");
  cooldown(resend);
  const cancel = h("button", { type: "button", class: "danger-quiet small", "aria-label": `Cancel the invitation to ${i.full_name}` }, "Cancel");
  const base = `/api/orgs/${seg(ctx.org.org_id)}/invitations/${seg(i.invitation_id)}`;
  resend.addEventListener("click", async () => {
    resend.disabled = true;
    resend.dataset.busy = "true";
    try {
      await post(`${base}/resend`, {});
      toast(`Invitation sent again to ${i.email}`);
      await ctx.refresh({ members: false });
      ctx.show("pending");
    } catch (e) {
      delete resend.dataset.busy;
      resend.disabled = false;
      cooldown(resend);
      if (!(e instanceof Problem)) throw e;
      await infoDialog("The invitation was not sent", e.message);
    }
  });
  cancel.addEventListener("click", async () => {
    const yes = await confirmDialog(
      "Cancel invitation?",
      `The link sent to ${i.email} stops working at once. You can invite them again later.`,
      "Cancel invitation",
      { danger: true },
    );
    if (!yes) return;
    try {
      await del(base);
      toast(`Invitation to ${i.email} cancelled`);
      await ctx.refresh({ members: false });
    } catch (e) {
      if (!(e instanceof Problem)) throw e;
      await infoDialog("The invitation was not cancelled", e.message);
    }
  });
  const inviter = ctx.inviterNames.get(i.invited_by) || (i.invited_by === "system" ? "the operator" : "another owner");
  const delivery = DELIVERY[i.delivery] || i.delivery;
  return h("tr", { dataset: { invitation: i.invitation_id } },
    h("td", { "data-label": "Name" }, i.full_name),
    h("td", { "data-label": "Email" }, i.email),
    h("td", { "data-label": ctx.org.shape === "multi" ? "Roles" : "Role" }, describe(i.role, ctx.accountNames)),
    h("td", { "data-label": "Sent" }, timeEl(i.last_sent_at), h("span", { class: "hint block" }, `by ${inviter}`)),
    h("td", { "data-label": "Expires", dataset: { expires: i.expires_at, status: i.status } }, expiryText(i.expires_at, i.status)),
    h("td", { "data-label": "Delivery" },
      h("span", { class: `delivery ${i.delivery}`, title: i.delivery_detail || "" }, delivery)),
    h("td", { class: "actions" }, edit, resend, cancel));
}
