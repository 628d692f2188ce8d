// Roles as people read them, and the form fields that choose one. A single-account
// organization has one role per member; a multi-account one has an org role and,
// for contributors, a role on each assigned account.

import { h, uid } from "./dom.js";

const TITLES = { owner: "Owner", admin: "Admin", standard: "Standard", contributor: "Contributor" };

/** "Admin", "Contributor" … */
export function title(word) {
  return TITLES[word] || (word ? word[0].toUpperCase() + word.slice(1) : "");
}

/** What the role lets them do, in one line. */
export function describe(role, accountNames = new Map()) {
  if (!role) return "";
  if (role.shape === "single") return title(role.role);
  if (role.org_role === "owner") return "Owner · admin on every account";
  const parts = Object.entries(role.accounts || {}).map(
    ([id, r]) => `${accountNames.get(id) || "Unknown account"}: ${title(r)}`,
  );
  return parts.length ? `Contributor · ${parts.join(", ")}` : "Contributor";
}

/** Whether two role documents mean the same. */
export function sameRole(a, b) {
  const norm = (r) => JSON.stringify({
    shape: r.shape, role: r.role || null, org_role: r.org_role || null,
    accounts: Object.entries(r.accounts || {}).sort(([x], [y]) => x.localeCompare(y)),
  });
  return norm(a) === norm(b);
}

/**
 * Fields to choose a role for an organization of `shape` with `accounts`
 * (`[{account_id, name}]`), starting from `initial` (a role document or null).
 * `value()` gives the API's role fields, or null while incomplete.
 */
export function roleFields(shape, accounts, initial, onChange = () => {}) {
  return shape === "multi"
    ? multiFields(accounts, initial, onChange)
    : singleFields(initial, onChange);
}

function singleFields(initial, onChange) {
  const id = uid("role");
  const select = h("select", { id, name: "role", required: true, onchange: onChange },
    h("option", { value: "" }, "Choose a role"),
    h("option", { value: "owner" }, "Owner — manages users"),
    h("option", { value: "admin" }, "Admin"),
    h("option", { value: "standard" }, "Standard — view only"));
  if (initial && initial.role) select.value = initial.role;
  const error = h("p", { class: "field-error", hidden: true, id: `${id}-error` });
  const el = h("div", { class: "field" }, h("label", { for: id }, "Role"), select, error);
  return {
    el,
    value: () => (select.value ? { role: select.value } : null),
    role: () => (select.value ? { shape: "single", role: select.value } : null),
    setDisabled(disabled) { select.disabled = disabled; },
    setError(message) {
      error.textContent = message || "";
      error.hidden = !message;
      if (message) select.setAttribute("aria-invalid", "true");
      else select.removeAttribute("aria-invalid");
    },
    missing: () => (select.value ? null : "Choose a role."),
  };
}

function multiFields(accounts, initial, onChange) {
  const orgId = uid("org-role");
  const orgRole = h("select", { id: orgId, name: "org_role", required: true },
    h("option", { value: "" }, "Choose an organization role"),
    h("option", { value: "owner" }, "Owner — manages users, admin on every account"),
    h("option", { value: "contributor" }, "Contributor — only the accounts chosen below"));
  if (initial && initial.org_role) orgRole.value = initial.org_role;
  const rows = accounts.map((account) => {
    const checkId = uid("account");
    const check = h("input", { type: "checkbox", id: checkId, name: "account", value: account.account_id });
    const pick = h("select", { "aria-label": `Role on ${account.name}`, name: "account_role" },
      h("option", { value: "standard" }, "Standard"),
      h("option", { value: "admin" }, "Admin"));
    const held = initial && initial.accounts && initial.accounts[account.account_id];
    if (held) {
      check.checked = true;
      pick.value = held;
    }
    pick.disabled = !check.checked;
    check.addEventListener("change", () => {
      pick.disabled = !check.checked;
      onChange();
    });
    pick.addEventListener("change", onChange);
    const row = h("li", { class: "account-row" }, h("label", { for: checkId }, check, " ", account.name), pick);
    return { account, check, pick, row };
  });
  const error = h("p", { class: "field-error", hidden: true, id: `${orgId}-error` });
  const ownerNote = h("p", { class: "hint" }, "Owners have admin access to every account.");
  const legendId = uid("accounts");
  const accountSet = h("fieldset", { class: "accounts", "aria-describedby": `${orgId}-error` },
    h("legend", { id: legendId }, "Accounts and their roles"),
    accounts.length
      ? h("ul", { class: "account-list" }, rows.map((r) => r.row))
      : h("p", { class: "hint" }, "This organization has no accounts yet."));
  const sync = () => {
    const contributor = orgRole.value === "contributor";
    accountSet.hidden = !contributor;
    ownerNote.hidden = orgRole.value !== "owner";
  };
  orgRole.addEventListener("change", () => {
    sync();
    onChange();
  });
  sync();
  const el = h("div", { class: "role-fields" },
    h("div", { class: "field" }, h("label", { for: orgId }, "Organization role"), orgRole),
    ownerNote, accountSet, error);
  const chosen = () => rows.filter((r) => r.check.checked).map((r) => ({ account_id: r.account.account_id, role: r.pick.value }));
  return {
    el,
    value() {
      if (orgRole.value === "owner") return { org_role: "owner" };
      if (orgRole.value === "contributor" && chosen().length) return { org_role: "contributor", accounts: chosen() };
      return null;
    },
    role() {
      const v = this.value();
      if (!v) return null;
      if (v.org_role === "owner") return { shape: "multi", org_role: "owner" };
      return { shape: "multi", org_role: "contributor", accounts: Object.fromEntries(v.accounts.map((a) => [a.account_id, a.role])) };
    },
    setDisabled(disabled) {
      orgRole.disabled = disabled;
      for (const r of rows) {
        r.check.disabled = disabled;
        r.pick.disabled = disabled || !r.check.checked;
      }
    },
    setError(message) {
      error.textContent = message || "";
      error.hidden = !message;
    },
    missing() {
      if (!orgRole.value) return "Choose an organization role.";
      if (orgRole.value === "contributor" && !chosen().length) return "Choose at least one account for a contributor.";
      return null;
    },
  };
}
