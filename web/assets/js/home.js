// The signed-in person's organizations, their role and accounts in each, and the
// way into user management for the ones they own.

import { del, Problem } from "./api.js";
import { h, replace, confirmDialog, infoDialog, toast } from "./dom.js";
import { title } from "./roles.js";

/** The home page. */
export async function homePage(app) {
  const me = await app.requireMe();
  if (!me) return;
  document.title = "Your organizations · Roster";
  const orgs = me.organizations;
  replace(app.main,
    h("div", { class: "page-head" },
      h("div", {},
        h("h1", {}, "Your organizations"),
        h("p", { class: "lead" }, `Signed in as ${me.full_name || ""} (${me.email || ""})`))),
    orgs.length
      ? h("ul", { class: "org-cards" }, orgs.map((o) => orgCard(app, o)))
      : h("section", { class: "panel" },
        h("p", {}, "You are not a member of any organization yet. An owner can invite you by email.")));
}

function orgCard(app, org) {
  const owner = org.role === "owner";
  const shape = org.shape === "multi" ? "Multi-account" : "Single account";
  const accounts = org.shape === "multi"
    ? h("div", { class: "accounts-held" },
      h("h3", {}, "Accounts"),
      org.accounts.length
        ? h("ul", {}, org.accounts.map((a) => h("li", {}, h("span", {}, a.name || "Unnamed account"), h("span", { class: "badge" }, title(a.role)))))
        : h("p", { class: "hint" }, "No accounts assigned to you yet."))
    : null;
  const leave = h("button", { type: "button", class: "link-button" }, "Leave organization");
  leave.addEventListener("click", async () => {
    const yes = await confirmDialog(
      "Leave organization?",
      `You lose access to ${org.name || "this organization"} at once. An owner can invite you again.`,
      "Leave organization",
      { danger: true },
    );
    if (!yes) return;
    try {
      await del(`/api/orgs/${org.org_id}/membership`);
      toast(`You left ${org.name || "the organization"}`);
      await app.refreshMe();
      app.navigate("/", { replaceState: true });
    } catch (e) {
      if (!(e instanceof Problem)) throw e;
      await infoDialog("You cannot leave yet", e.message);
    }
  });
  return h("li", { class: "org-card panel" },
    h("div", { class: "org-card-head" },
      h("h2", {}, org.name || "Organization"),
      h("span", { class: "badge" }, shape)),
    h("p", {}, "Your role: ", h("strong", {}, title(org.role))),
    accounts,
    h("div", { class: "card-actions" },
      owner ? h("a", { class: "button primary", href: `/orgs/${org.org_id}/users`, "data-link": true }, "User management") : null,
      owner ? h("a", { class: "button secondary", href: `/orgs/${org.org_id}/activity`, "data-link": true }, "Activity") : null,
      leave));
}
