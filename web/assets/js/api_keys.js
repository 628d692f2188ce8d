// An organization's API keys and directory sync, for its owners: the SCIM
// endpoint, the last sync and the latest refused requests; each key's name,
// first characters, scopes, creator, expiry, last use and state; creating one
// (the key is shown once, to copy) and revoking one (it stops working at once).

import { get, post, del, seg, Problem } from "./api.js";
import { h, replace, field, alertBox, openDialog, busy, toast, timeEl, confirmDialog, infoDialog, uid } from "./dom.js";
import { follow } from "./live.js";

/** What each scope allows, as the create dialog explains it. */
const SCOPES = [
  ["read", "Read", "Members, invitations, accounts, history and the event feed."],
  ["manage", "Manage", "Invite, resend, correct and cancel invitations; change roles; remove members; add and rename accounts."],
  ["scim", "Directory sync", "Provision members from your identity provider over SCIM."],
];

/** Expiry choices, in days (0: never). */
const EXPIRIES = [["0", "Never"], ["30", "In 30 days"], ["90", "In 90 days"], ["365", "In a year"]];

const KEY_EVENTS = new Set(["ApiKeyCreated", "ApiKeyRevoked", "ready"]);

/** The API keys page of organization `orgId`. */
export async function apiKeysPage(app, orgId) {
  const me = await app.requireMe();
  if (!me) return;
  const org = me.organizations.find((o) => o.org_id === orgId);
  if (!org) throw new Problem(404, { detail: "You are not a member of this organization." });
  if (org.role !== "owner") throw new Problem(403, { detail: "Only the organization's owners manage its API keys." });
  document.title = `API keys · ${org.name} · Roster`;

  const rows = h("tbody");
  const empty = h("p", { class: "empty", hidden: true }, "No API keys yet.");
  const create = h("button", { type: "button", class: "primary" }, "+ Create API key");
  const ctx = { org, reload };
  create.addEventListener("click", () => createDialog(ctx));
  const sync = syncSection(ctx, orgId);
  replace(app.main,
    h("div", { class: "page-head" },
      h("div", {},
        h("p", { class: "eyebrow" }, org.name),
        h("h1", {}, "API keys")),
      create),
    sync.el,
    h("section", { class: "panel", "aria-labelledby": "keys-title" },
      h("h2", { id: "keys-title" }, "Keys"),
      h("p", { class: "hint" },
        "Integrations send a key as ", h("code", {}, "Authorization: Bearer rst_…"),
        ". A key acts only for this organization and within its scopes; what it changes is recorded in its name. Only owners, signed in, create and revoke keys."),
      h("div", { class: "table-wrap" },
        h("table", { class: "list" },
          h("thead", {}, h("tr", {},
            h("th", { scope: "col" }, "Name"),
            h("th", { scope: "col" }, "Key"),
            h("th", { scope: "col" }, "Scopes"),
            h("th", { scope: "col" }, "Created"),
            h("th", { scope: "col" }, "Expires"),
            h("th", { scope: "col" }, "Last used"),
            h("th", { scope: "col" }, "State"),
            h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
          rows)),
      empty));

  let shown = null;
  async function reload() {
    const [body] = await Promise.all([get(`/api/orgs/${seg(orgId)}/api-keys`), sync.load()]);
    const seen = JSON.stringify(body.api_keys);
    if (seen === shown) return;
    shown = seen;
    replace(rows, body.api_keys.map((k) => keyRow(ctx, k)));
    empty.hidden = body.api_keys.length > 0;
  }
  await reload();
  app.cleanups.push(follow(orgId, (kinds) => {
    if ([...kinds].some((k) => KEY_EVENTS.has(k))) reload().catch(() => {});
  }, () => reload().then(() => true, () => false)));
}

const STATE_WORDS = { active: "Active", revoked: "Revoked", expired: "Expired" };

function keyRow(ctx, k) {
  const revoke = h("button", { type: "button", class: "danger-quiet small", "aria-label": `Revoke ${k.name}` }, "Revoke");
  revoke.hidden = k.status !== "active";
  revoke.addEventListener("click", async () => {
    const yes = await confirmDialog(
      `Revoke ${k.name}?`,
      `Every request with this key (${k.prefix}…) is refused from now on, on every server. What it did stays in the history. This cannot be undone.`,
      "Revoke key",
      { danger: true },
    );
    if (!yes) return;
    try {
      await del(`/api/orgs/${seg(ctx.org.org_id)}/api-keys/${seg(k.key_id)}`);
      toast(`${k.name} is revoked`);
      await ctx.reload();
    } catch (e) {
      if (!(e instanceof Problem)) throw e;
      await infoDialog("The key was not revoked", e.message);
    }
  });
  const scopes = k.scopes.map((s) => (SCOPES.find(([v]) => v === s) || [s, s])[1]).join(", ");
  return h("tr", { class: k.status === "active" ? null : "inactive", dataset: { key: k.key_id } },
    h("td", { "data-label": "Name" }, k.name),
    h("td", { "data-label": "Key" }, h("code", {}, `${k.prefix}…`)),
    h("td", { "data-label": "Scopes" }, scopes),
    h("td", { "data-label": "Created" }, timeEl(k.created_at),
      h("span", { class: "hint block" }, `by ${k.created_by_name || "a former owner"}`)),
    h("td", { "data-label": "Expires" }, k.expires_at ? timeEl(k.expires_at) : "Never"),
    h("td", { "data-label": "Last used" }, k.last_used_at ? timeEl(k.last_used_at) : "Not yet"),
    h("td", { "data-label": "State" }, h("span", { class: `badge key-${k.status}` }, STATE_WORDS[k.status] || k.status)),
    h("td", { class: "actions" }, revoke));
}

/** The directory sync: where the identity provider connects, how it goes. */
function syncSection(ctx, orgId) {
  const endpoint = h("code", { class: "endpoint" });
  const copy = h("button", { type: "button", class: "secondary small" }, "Copy URL");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(endpoint.textContent);
      toast("Endpoint copied");
    } catch (e) {
      // No clipboard permission: the URL is on screen to copy by hand.
    }
  });
  const lastSync = h("span", {});
  const setUp = h("button", { type: "button", class: "secondary" }, "+ Create a directory sync key");
  setUp.addEventListener("click", () => createDialog(ctx, { name: "Directory sync", scopes: ["scim"] }));
  const errors = h("tbody");
  const noErrors = h("p", { class: "empty" }, "No refused requests.");
  const errorTable = h("div", { class: "table-wrap", hidden: true },
    h("table", { class: "list" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, "When"),
        h("th", { scope: "col" }, "Request"),
        h("th", { scope: "col" }, "Answer"),
        h("th", { scope: "col" }, "Why"))),
      errors));
  const el = h("section", { class: "panel", "aria-labelledby": "sync-title" },
    h("div", { class: "section-head" },
      h("div", {},
        h("h2", { id: "sync-title" }, "Directory sync"),
        h("p", { class: "hint" }, "Your identity provider (Okta, Microsoft Entra ID…) adds, suspends and removes members over SCIM 2.0 with a key that has the Directory sync scope.")),
      setUp),
    h("dl", { class: "facts" },
      h("dt", {}, "SCIM endpoint"), h("dd", {}, endpoint, " ", copy),
      h("dt", {}, "Last sync"), h("dd", {}, lastSync)),
    h("h3", {}, "Latest refused requests"),
    errorTable, noErrors);
  let shown = null;
  return {
    el,
    async load() {
      const body = await get(`/api/orgs/${seg(orgId)}/directory`);
      const seen = JSON.stringify(body);
      if (seen === shown) return;
      shown = seen;
      endpoint.textContent = body.endpoint;
      replace(lastSync, body.last_sync_at ? timeEl(body.last_sync_at)
        : body.keys.some((k) => k.status === "active") ? "Not yet" : "No directory sync key yet");
      replace(errors, body.errors.map((e) => h("tr", {},
        h("td", { "data-label": "When" }, timeEl(e.at)),
        h("td", { "data-label": "Request" }, h("code", {}, e.request)),
        h("td", { "data-label": "Answer" }, String(e.status)),
        h("td", { "data-label": "Why" }, e.detail))));
      errorTable.hidden = body.errors.length === 0;
      noErrors.hidden = body.errors.length > 0;
    },
  };
}

/** Creates a key (with `preset` name and scopes, if given), then shows it once. */
function createDialog(ctx, preset = null) {
  return openDialog("Create API key", (close, { heading, body }) => {
    const name = field("Name", { type: "text", name: "name", autocomplete: "off", required: true, maxlength: 200 },
      "What uses it, e.g. “HR system” or “Okta directory sync”.");
    if (preset) name.input.value = preset.name;
    const group = uid("scopes");
    const checks = SCOPES.map(([value, label, hint]) => {
      const id = uid("scope");
      const input = h("input", { type: "checkbox", id, name: group, value, "aria-describedby": `${id}-hint` });
      input.checked = Boolean(preset && preset.scopes.includes(value));
      return {
        input,
        el: h("label", { class: "choice", for: id }, input,
          h("span", { class: "choice-text" },
            h("span", { class: "choice-title" }, label),
            h("span", { class: "hint", id: `${id}-hint` }, hint))),
      };
    });
    const scopeError = h("p", { class: "field-error", hidden: true, id: `${group}-error` });
    const expiryId = uid("expiry");
    const expiry = h("select", { id: expiryId, name: "expires" },
      EXPIRIES.map(([v, label]) => h("option", { value: v }, label)));
    const alert = alertBox();
    const save = h("button", { type: "submit", class: "primary" }, "Create key");
    const form = h("form", { class: "stack", novalidate: true },
      alert.el, name.row,
      h("fieldset", { class: "choices", "aria-describedby": `${group}-error` },
        h("legend", {}, "Scopes"), checks.map((c) => c.el), scopeError),
      h("div", { class: "field" }, h("label", { for: expiryId }, "Expires"), expiry),
      h("div", { class: "dialog-actions" },
        h("button", { type: "button", class: "secondary", onclick: () => close() }, "Cancel"),
        save));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      alert.clear();
      const scopes = checks.filter((c) => c.input.checked).map((c) => c.input.value);
      name.setError(name.input.value.trim() ? null : "Enter a name.");
      scopeError.textContent = scopes.length ? "" : "Choose at least one scope.";
      scopeError.hidden = scopes.length > 0;
      if (!name.input.value.trim()) {
        name.input.focus();
        return;
      }
      if (!scopes.length) {
        checks[0].input.focus();
        return;
      }
      const days = Number(expiry.value);
      const payload = { name: name.input.value.trim(), scopes };
      if (days > 0) payload.expires_at = new Date(Date.now() + days * 86400000).toISOString();
      await busy(save, "Creating…", async () => {
        try {
          const created = await post(`/api/orgs/${seg(ctx.org.org_id)}/api-keys`, payload);
          heading.textContent = `Your new key: ${payload.name}`;
          replace(body, shownOnce(created, close));
          ctx.reload().catch(() => {});
        } catch (e) {
          if (!(e instanceof Problem)) throw e;
          if (e.rule === "api-key-name-taken") name.setError(e.message);
          else alert.show(e.message);
        }
      });
    });
    return form;
  });
}

/** The key, once, to copy. */
function shownOnce(created, close) {
  const id = uid("key");
  const key = h("input", { id, type: "text", readonly: true, value: created.key, class: "secret", spellcheck: "false" });
  const copy = h("button", { type: "button", class: "secondary" }, "Copy");
  copy.addEventListener("click", async () => {
    key.select();
    try {
      await navigator.clipboard.writeText(created.key);
      toast("Key copied");
    } catch (e) {
      // No clipboard permission: the key is selected for the person to copy.
    }
  });
  const done = h("button", { type: "button", class: "primary", onclick: () => close(true) }, "Done");
  setTimeout(() => key.select(), 0);
  return h("div", { class: "stack" },
    h("p", { class: "note", role: "status" }, "Copy this key now and keep it somewhere safe: Roster does not keep it and will never show it again."),
    h("div", { class: "field" }, h("label", { for: id }, "Key"), h("div", { class: "copy-row" }, key, copy)),
    h("div", { class: "dialog-actions" }, done));
}
