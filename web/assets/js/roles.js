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

/** The roles of a single-account organization, each with what it allows. */
const SINGLE_CHOICES = [
  ["owner", "Owner", "Manages users and invitations, and sees everything."],
  ["admin", "Admin", "View only for now, like Standard; admins get more as the portal grows."],
  ["standard", "Standard", "View only."],
];

/** A multi-account organization's roles. */
const ORG_CHOICES = [
  ["owner", "Owner", "Manages users and invitations; admin access to every account."],
  ["contributor", "Contributor", "Sees only the accounts chosen below, as admin or standard."],
];

/**
 * Radio buttons under a legend, so every choice and its meaning shows at once.
 * `value()` is the chosen value or "".
 */
function choiceGroup(legend, choices, initial, onChange) {
  const group = uid("choice");
  const error = h("p", { class: "field-error", hidden: true, id: `${group}-error` });
  const inputs = [];
  const options = choices.map(([value, label, hint]) => {
    const id = uid("choice");
    const input = h("input", { type: "radio", name: group, id, value, "aria-describedby": `${id}-hint` });
    input.checked = initial === value;
    input.addEventListener("change", onChange);
    inputs.push(input);
    return h("label", { class: "choice", for: id },
      input,
      h("span", { class: "choice-text" },
        h("span", { class: "choice-title" }, label),
        h("span", { class: "hint", id: `${id}-hint` }, hint)));
  });
  const el = h("fieldset", { class: "choices", "aria-describedby": `${group}-error` },
    h("legend", {}, legend), options, error);
  return {
    el,
    value: () => (inputs.find((i) => i.checked) || { value: "" }).value,
    setDisabled(disabled) { for (const i of inputs) i.disabled = disabled; },
    setError(message) {
      error.textContent = message || "";
      error.hidden = !message;
      for (const i of inputs) {
        if (message) i.setAttribute("aria-invalid", "true");
        else i.removeAttribute("aria-invalid");
      }
    },
    focus() { (inputs.find((i) => i.checked) || inputs[0]).focus(); },
  };
}

function singleFields(initial, onChange) {
  const group = choiceGroup("Role", SINGLE_CHOICES, initial && initial.role, onChange);
  return {
    el: group.el,
    value: () => (group.value() ? { role: group.value() } : null),
    role: () => (group.value() ? { shape: "single", role: group.value() } : null),
    setDisabled: group.setDisabled,
    setError: group.setError,
    focus: group.focus,
    missing: () => (group.value() ? null : "Choose a role."),
  };
}

function multiFields(accounts, initial, onChange) {
  // The group's handler is set below, once the account fields it shows exist.
  let changed = () => {};
  const orgRole = choiceGroup("Organization role", ORG_CHOICES, initial && initial.org_role, () => changed());
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
  const errorId = uid("accounts-error");
  const error = h("p", { class: "field-error", hidden: true, id: errorId });
  const legendId = uid("accounts");
  const accountSet = h("fieldset", { class: "accounts", "aria-describedby": errorId },
    h("legend", { id: legendId }, "Accounts and their roles"),
    accounts.length
      ? h("ul", { class: "account-list" }, rows.map((r) => r.row))
      : h("p", { class: "hint" }, "This organization has no accounts yet: add one under Accounts first."));
  const sync = () => {
    accountSet.hidden = orgRole.value() !== "contributor";
  };
  changed = () => {
    sync();
    onChange();
  };
  sync();
  const el = h("div", { class: "role-fields" }, orgRole.el, accountSet, error);
  const chosen = () => rows.filter((r) => r.check.checked).map((r) => ({ account_id: r.account.account_id, role: r.pick.value }));
  return {
    el,
    value() {
      if (orgRole.value() === "owner") return { org_role: "owner" };
      if (orgRole.value() === "contributor" && chosen().length) return { org_role: "contributor", accounts: chosen() };
      return null;
    },
    role() {
      const v = this.value();
      if (!v) return null;
      if (v.org_role === "owner") return { shape: "multi", org_role: "owner" };
      return { shape: "multi", org_role: "contributor", accounts: Object.fromEntries(v.accounts.map((a) => [a.account_id, a.role])) };
    },
    setDisabled(disabled) {
      orgRole.setDisabled(disabled);
      for (const r of rows) {
        r.check.disabled = disabled;
        r.pick.disabled = disabled || !r.check.checked;
      }
    },
    setError(message) {
      error.textContent = message || "";
      error.hidden = !message;
    },
    focus: orgRole.focus,
    missing() {
      if (!orgRole.value()) return "Choose an organization role.";
      if (orgRole.value() === "contributor" && !chosen().length) return "Choose at least one account for a contributor.";
      return null;
    },
  };
}
