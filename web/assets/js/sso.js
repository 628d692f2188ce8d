// An organization's single sign-on, for its owners: connect the company's own
// OpenID Connect provider (issuer, client id and secret, email domains), require
// it for members at those domains, let people there join without an invitation,
// or disconnect it. The secret is sent once and never shown again.

import { get, put, del, seg, Problem } from "./api.js";
import { h, replace, field, alertBox, busy, toast, confirmDialog, uid } from "./dom.js";
import { showFieldErrors } from "./sign_in.js";

/** The single sign-on page of organization `orgId`. */
export async function ssoPage(app, orgId) {
  const me = await app.requireMe();
  if (!me) return;
  const org = me.organizations.find((o) => o.org_id === orgId);
  if (!org) throw new Problem(404, { detail: "You are not a member of this organization." });
  if (org.role !== "owner") throw new Problem(403, { detail: "Only the organization's owners set up its single sign-on." });
  document.title = `Single sign-on · ${org.name} · Roster`;
  const url = `/api/orgs/${seg(orgId)}/sso`;
  const single = org.shape !== "multi";
  const [settings, accounts] = await Promise.all([
    get(url),
    single ? Promise.resolve({ accounts: [] }) : get(`/api/orgs/${seg(orgId)}/accounts`),
  ]);

  const status = h("p", { class: `sso-status${settings.connected ? " on" : ""}`, role: "status" },
    settings.connected ? `Connected to ${settings.issuer}` : "Not connected: everyone signs in with a Roster password.");
  const issuer = field("Issuer URL", { type: "url", name: "issuer", autocomplete: "off", required: true },
    "Your provider's issuer, e.g. https://acme.okta.com or https://login.microsoftonline.com/<tenant>/v2.0. Roster reads its /.well-known/openid-configuration.");
  const clientId = field("Client ID", { type: "text", name: "client_id", autocomplete: "off", required: true });
  const clientSecret = field("Client secret", { type: "password", name: "client_secret", autocomplete: "new-password" },
    settings.connected ? "Saved and never shown again. Leave empty to keep it." : "Roster keeps it encrypted and never shows it again.");
  const domains = field("Email domains", { type: "text", name: "domains", autocomplete: "off", required: true },
    "The addresses your provider signs in, e.g. acme.io, acme.co.uk (comma-separated).");
  issuer.input.value = settings.issuer || "";
  clientId.input.value = settings.client_id || "";
  domains.input.value = (settings.domains || []).join(", ");

  const enforceId = uid("enforce");
  const enforced = h("input", { type: "checkbox", id: enforceId, name: "enforced", "aria-describedby": `${enforceId}-hint` });
  enforced.checked = Boolean(settings.enforced);
  const joinId = uid("join");
  const join = h("input", { type: "checkbox", id: joinId, name: "join", "aria-describedby": `${joinId}-hint` });
  join.checked = Boolean(settings.join_role);
  const joinRoleId = uid("join-role");
  const joinRole = h("select", { id: joinRoleId, name: "join_role" },
    single
      ? [h("option", { value: "standard" }, "Standard"), h("option", { value: "admin" }, "Admin")]
      : [h("option", { value: "contributor" }, "Contributor, Standard on every account")]);
  if (settings.join_role && settings.join_role.role) joinRole.value = settings.join_role.role;
  const joinRoleRow = h("div", { class: "field" }, h("label", { for: joinRoleId }, "They join as"), joinRole);
  joinRoleRow.hidden = !join.checked;
  join.addEventListener("change", () => { joinRoleRow.hidden = !join.checked; });

  const alert = alertBox();
  const save = h("button", { type: "submit", class: "primary" }, settings.connected ? "Save changes" : "Connect");
  const disconnect = h("button", { type: "button", class: "danger-quiet" }, "Disconnect");
  disconnect.hidden = !settings.connected;
  const form = h("form", { class: "stack", novalidate: true },
    alert.el, issuer.row, clientId.row, clientSecret.row, domains.row,
    h("label", { class: "choice", for: enforceId }, enforced,
      h("span", { class: "choice-text" },
        h("span", { class: "choice-title" }, "Require single sign-on"),
        h("span", { class: "hint", id: `${enforceId}-hint` },
          "Members at these domains can no longer sign in or reset their password with Roster. This includes owners at these domains: if the provider fails, the portal's operator can lift the requirement (roster org lift-sso)."))),
    h("label", { class: "choice", for: joinId }, join,
      h("span", { class: "choice-text" },
        h("span", { class: "choice-title" }, "Let people at these domains join without an invitation"),
        h("span", { class: "hint", id: `${joinId}-hint` },
          "Off by default. They sign in through the sign-in link above and join with the role you choose (never owner); each join is in the history."))),
    joinRoleRow,
    h("div", { class: "dialog-actions" }, disconnect, save));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    alert.clear();
    const list = domains.input.value.split(/[\s,;]+/).map((d) => d.trim()).filter(Boolean);
    issuer.setError(issuer.input.value.trim() ? null : "Enter the provider's issuer URL.");
    clientId.setError(clientId.input.value.trim() ? null : "Enter the client ID.");
    domains.setError(list.length ? null : "Enter at least one email domain.");
    if (!issuer.input.value.trim() || !clientId.input.value.trim() || !list.length) return;
    const body = {
      issuer: issuer.input.value.trim(),
      client_id: clientId.input.value.trim(),
      domains: list,
      enforced: enforced.checked,
      join_role: join.checked ? (single ? { role: joinRole.value } : joinRoleFor(accounts.accounts)) : null,
    };
    if (clientSecret.input.value) body.client_secret = clientSecret.input.value;
    await busy(save, "Checking the provider…", async () => {
      try {
        await put(url, body);
        toast(settings.connected ? "Single sign-on is saved" : "Single sign-on is connected");
        await ssoPage(app, orgId);
      } catch (e) {
        if (!(e instanceof Problem)) throw e;
        if (!showFieldErrors(e, { issuer, client_id: clientId, client_secret: clientSecret, domains })) alert.show(e.message);
      }
    });
  });
  disconnect.addEventListener("click", async () => {
    const yes = await confirmDialog("Disconnect single sign-on?",
      "Everyone signs in with a Roster password again. People who joined through single sign-on set one with “Forgot password?”.",
      "Disconnect", { danger: true });
    if (!yes) return;
    try {
      await del(url);
      toast("Single sign-on is disconnected");
      await ssoPage(app, orgId);
    } catch (e) {
      if (!(e instanceof Problem)) throw e;
      alert.show(e.message);
    }
  });

  replace(app.main,
    h("div", { class: "page-head" },
      h("div", {}, h("p", { class: "eyebrow" }, org.name), h("h1", {}, "Single sign-on"))),
    h("section", { class: "panel", "aria-labelledby": "sso-title" },
      h("h2", { id: "sso-title" }, "Your company's sign-in provider"),
      status,
      h("p", { class: "hint" }, "Members at your domains sign in with your OpenID Connect provider (Okta, Microsoft Entra ID, Google Workspace…). Register Roster there as a web application with this redirect URI:"),
      h("dl", { class: "facts" },
        h("dt", {}, "Redirect URI"), h("dd", {}, h("code", { class: "endpoint" }, settings.callback_url)),
        h("dt", {}, "Sign-in link"), h("dd", {}, h("code", { class: "endpoint" }, settings.sign_in_url))),
      form));
  issuer.input.focus();
}

/** A multi-account organization's default role: contributor, Standard on every account. */
function joinRoleFor(accounts) {
  return { org_role: "contributor", accounts: accounts.map((a) => ({ account_id: a.account_id, role: "standard" })) };
}
