// User management for owners: the member list (you first), search and paging,
// the pending invitations with their time left and email delivery, and the
// dialogs that invite, edit, remove, resend and cancel.

import { get, post, del, seg, Problem } from "./api.js";
import { h, replace, debounce, timeEl, timeLeft, confirmDialog, infoDialog, toast } from "./dom.js";
import { describe } from "./roles.js";
import { inviteDialog, editDialog } from "./member_dialogs.js";
import { follow } from "./live.js";

const PAGE = 50;

/** Events that change the member list (the rest change only invitations). */
const MEMBER_EVENTS = new Set(["InvitationAccepted", "RoleChanged", "MemberRemoved", "ready"]);

const DELIVERY = {
  queued: "Sending",
  sent: "Delivered",
  retrying: "Retrying",
  failed: "Failed",
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
    cursor: null,
    search: "",
    owners: 0,
    inviterNames: new Map([[me.user_id, "you"]]),
    refresh,
  };
  if (org.shape === "multi") {
    const body = await get(`/api/orgs/${seg(orgId)}/accounts`);
    ctx.accounts = body.accounts;
    ctx.accountNames = new Map(body.accounts.map((a) => [a.account_id, a.name]));
  }

  const memberRows = h("tbody");
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Show more members");
  const count = h("p", { class: "hint", "aria-live": "polite" });
  const inviteRows = h("tbody");
  const noInvites = h("p", { class: "empty", hidden: true }, "No pending invitations.");
  const searchId = "member-search";
  const searchBox = h("input", {
    id: searchId, type: "search", name: "search", placeholder: "Name or email", autocomplete: "off", maxlength: 100,
  });
  const inviteButton = h("button", { type: "button", class: "primary" }, "+ Invite user");
  inviteButton.addEventListener("click", () => inviteDialog(ctx));

  replace(app.main,
    h("div", { class: "page-head" },
      h("div", {},
        h("p", { class: "eyebrow" }, org.name),
        h("h1", {}, "User management")),
      inviteButton),
    h("section", { class: "panel", "aria-labelledby": "members-title" },
      h("div", { class: "section-head" },
        h("h2", { id: "members-title" }, "Members"),
        h("div", { class: "search" },
          h("label", { for: searchId }, "Search members"),
          searchBox)),
      h("div", { class: "table-wrap" },
        h("table", { class: "list" },
          h("thead", {}, h("tr", {},
            h("th", { scope: "col" }, "Name"),
            h("th", { scope: "col" }, "Email"),
            h("th", { scope: "col" }, org.shape === "multi" ? "Roles" : "Role"),
            h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
          memberRows)),
      count,
      more),
    h("section", { class: "panel", "aria-labelledby": "invites-title" },
      h("div", { class: "section-head" }, h("h2", { id: "invites-title" }, "Pending invites")),
      h("div", { class: "table-wrap" },
        h("table", { class: "list" },
          h("thead", {}, h("tr", {},
            h("th", { scope: "col" }, "Name"),
            h("th", { scope: "col" }, "Email"),
            h("th", { scope: "col" }, org.shape === "multi" ? "Roles" : "Role"),
            h("th", { scope: "col" }, "Sent"),
            h("th", { scope: "col" }, "Expires"),
            h("th", { scope: "col" }, "Delivery"),
            h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
          inviteRows)),
      noInvites));

  searchBox.addEventListener("input", debounce(() => {
    ctx.search = searchBox.value.trim();
    loadMembers(true).catch(report);
  }, 250));
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
    const seen = JSON.stringify([ctx.search, body.members, body.next_cursor]);
    if (reset && seen === shownMembers) return;
    shownMembers = reset ? seen : null;
    ctx.members = reset ? body.members : ctx.members.concat(body.members);
    ctx.cursor = body.next_cursor;
    for (const m of ctx.members) ctx.inviterNames.set(m.user_id, m.full_name);
    ctx.inviterNames.set(ctx.me.user_id, "you");
    replace(memberRows, ctx.members.map((m) => memberRow(ctx, m)));
    if (!ctx.members.length) {
      replace(memberRows, h("tr", {}, h("td", { colspan: 4, class: "empty" }, `No member matches “${ctx.search}”.`)));
    }
    more.hidden = !ctx.cursor;
    count.textContent = ctx.cursor
      ? `Showing the first ${ctx.members.length} members.`
      : `${ctx.members.length} ${ctx.members.length === 1 ? "member" : "members"}${ctx.search ? " found" : ""}.`;
  }

  async function loadOwners() {
    const body = await get(`/api/orgs/${seg(orgId)}/members`, { role: "owner", limit: 2 });
    ctx.owners = body.members.filter((m) => m.role_label === "owner").length;
  }

  async function loadInvites() {
    const body = await get(`/api/orgs/${seg(orgId)}/invitations`);
    // The countdown ticks on the page; only a change of the rows redraws them.
    const seen = JSON.stringify(body.invitations, (k, v) => (k === "resend_in_seconds" ? undefined : v));
    if (seen === shownInvites) return;
    shownInvites = seen;
    replace(inviteRows, body.invitations.map((i) => inviteRow(ctx, i)));
    noInvites.hidden = body.invitations.length > 0;
  }

  /** Reloads what changed; every read waits for the change just made (read-your-writes). */
  async function refresh({ members = true, invites = true } = {}) {
    const work = [];
    if (members) work.push(loadMembers(true), loadOwners());
    if (invites) work.push(loadInvites());
    await Promise.all(work);
  }

  function report(e) {
    if (!(e instanceof Problem)) throw e;
    count.textContent = e.message;
  }

  await refresh();
  // Other owners' changes and email delivery show as they happen.
  app.cleanups.push(follow(orgId, (kinds) => {
    const members = [...kinds].some((k) => MEMBER_EVENTS.has(k));
    refresh({ members, invites: true }).catch(report);
  }, () => refresh().catch(report)));
  // The time left ticks on its own.
  const ticker = setInterval(() => {
    for (const cell of inviteRows.querySelectorAll("[data-expires]")) {
      cell.replaceChildren(expiryText(cell.dataset.expires, cell.dataset.status));
    }
  }, 15000);
  // So do the resend buttons' cooldowns, by the second.
  const cooldowns = setInterval(() => {
    for (const button of inviteRows.querySelectorAll("[data-resend-after]")) cooldown(button);
  }, 1000);
  app.cleanups.push(() => clearInterval(ticker), () => clearInterval(cooldowns));
}

function memberRow(ctx, m) {
  const you = m.user_id === ctx.me.user_id;
  const edit = h("button", { type: "button", class: "secondary small", "aria-label": `Edit ${m.full_name}` }, "Edit");
  edit.addEventListener("click", () => editDialog(ctx, m));
  return h("tr", { class: you ? "you" : null, dataset: { user: m.user_id } },
    h("td", { "data-label": "Name" }, m.full_name, you ? h("span", { class: "badge you-badge" }, "You") : null),
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
    h("td", { class: "actions" }, resend, cancel));
}
