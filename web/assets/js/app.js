// The page's shell: picks the view from the address, keeps the signed-in person
// (`/api/me`) and the header's user menu, and moves between views without reloads.

import { get, post, del, whenSignedOut, whenSessionEnds, Problem } from "./api.js";
import { h, replace, toast, openDialog, field, alertBox, busy } from "./dom.js";
import { signInPage, forgotPasswordPage, resetPasswordPage } from "./sign_in.js";
import { homePage } from "./home.js";
import { usersPage } from "./users.js";
import { acceptPage } from "./accept.js";
import { activityPage } from "./activity.js";
import { accountPage } from "./account.js";
import { apiKeysPage } from "./api_keys.js";
import { ssoPage } from "./sso.js";

const main = document.getElementById("main");

/** What every view gets: where to draw, who is signed in, how to move on. */
export const app = {
  main,
  me: null,
  /** Work to stop when the view changes (timers). */
  cleanups: [],
  navigate,
  refreshMe,
  requireMe,
};

const ROUTES = [
  [/^\/$/, () => homePage(app)],
  [/^\/sign-in$/, () => signInPage(app)],
  [/^\/forgot-password$/, () => forgotPasswordPage(app)],
  [/^\/reset-password\/([^/]+)\/([^/]+)$/, (m) => resetPasswordPage(app, decodeURIComponent(m[1]), decodeURIComponent(m[2]))],
  [/^\/account$/, () => accountPage(app)],
  [/^\/orgs\/([^/]+)\/users$/, (m) => usersPage(app, decodeURIComponent(m[1]))],
  [/^\/orgs\/([^/]+)\/activity$/, (m) => activityPage(app, decodeURIComponent(m[1]))],
  [/^\/orgs\/([^/]+)\/api-keys$/, (m) => apiKeysPage(app, decodeURIComponent(m[1]))],
  [/^\/orgs\/([^/]+)\/sso$/, (m) => ssoPage(app, decodeURIComponent(m[1]))],
  [/^\/invitations\/([^/]+)$/, (m) => acceptPage(app, decodeURIComponent(m[1]))],
];

/** Shows the view for `path` (pushing it onto the history unless `replaceState`). */
function navigate(path, { replaceState = false } = {}) {
  if (replaceState) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  render();
}

/** Loads the signed-in person again (after a change to their own roles). */
async function refreshMe() {
  try {
    app.me = await get("/api/me", {}, { quiet401: true });
  } catch (e) {
    if (e instanceof Problem && e.status === 401) app.me = null;
    else throw e;
  }
  drawUserMenu();
  return app.me;
}

/** The signed-in person, or a move to the sign-in page (coming back here after). */
async function requireMe() {
  if (!app.me) await refreshMe();
  if (!app.me) {
    const next = location.pathname + location.search;
    navigate(`/sign-in?next=${encodeURIComponent(next)}`, { replaceState: true });
    return null;
  }
  return app.me;
}

async function render() {
  for (const stop of app.cleanups.splice(0)) stop();
  closeUserMenu();
  const path = location.pathname;
  for (const [pattern, view] of ROUTES) {
    const m = path.match(pattern);
    if (m) {
      replace(main, h("p", { class: "loading" }, "Loading…"));
      try {
        await view(m);
      } catch (e) {
        showFailure(e);
      }
      return;
    }
  }
  document.title = "Not found · Roster";
  replace(main, h("section", { class: "panel narrow" },
    h("h1", {}, "Page not found"),
    h("p", {}, "There is nothing at this address."),
    h("p", {}, h("a", { href: "/", "data-link": true }, "Go to your organizations"))));
}

/** A view that could not load says why, in words. */
export function showFailure(e) {
  const message = e instanceof Problem ? e.message : "Something went wrong while drawing this page.";
  const title = e instanceof Problem && e.status === 403 ? "Not available to you"
    : e instanceof Problem && e.status === 404 ? "Not found"
      : "This page could not be loaded";
  document.title = `${title} · Roster`;
  replace(main, h("section", { class: "panel narrow" },
    h("h1", {}, title),
    h("p", { role: "alert" }, message),
    h("p", {}, h("a", { href: "/", "data-link": true }, "Go to your organizations"))));
  if (!(e instanceof Problem)) console.error(e);
}

// --- the header's user menu -------------------------------------------------

const menu = document.getElementById("user-menu");
const menuButton = document.getElementById("user-menu-button");
const menuList = document.getElementById("user-menu-list");

function drawUserMenu() {
  const me = app.me;
  if (!me) {
    menu.hidden = true;
    return;
  }
  menu.hidden = false;
  const name = me.full_name || me.email || "You";
  menuButton.querySelector(".user-menu-name").textContent = name;
  menuButton.querySelector(".avatar").textContent = initials(name);
  const owned = me.organizations.filter((o) => o.role === "owner");
  const item = (label, href) => h("li", {}, h("a", { href, "data-link": true }, label));
  replace(menuList,
    h("li", { class: "menu-who" }, h("strong", {}, name), h("span", {}, me.email || "")),
    item("Your organizations", "/"),
    owned.map((o) => item(owned.length > 1 ? `User management — ${o.name}` : "User management", `/orgs/${o.org_id}/users`)),
    owned.map((o) => item(owned.length > 1 ? `Activity — ${o.name}` : "Activity", `/orgs/${o.org_id}/activity`)),
    owned.map((o) => item(owned.length > 1 ? `API keys — ${o.name}` : "API keys", `/orgs/${o.org_id}/api-keys`)),
    owned.map((o) => item(owned.length > 1 ? `Single sign-on — ${o.name}` : "Single sign-on", `/orgs/${o.org_id}/sso`)),
    item("Account settings", "/account"),
    h("li", {}, h("button", { type: "button", class: "menu-action", onclick: signOut }, "Sign out")));
}

function initials(name) {
  return name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join("");
}

function openUserMenu() {
  menuList.hidden = false;
  menuButton.setAttribute("aria-expanded", "true");
  const first = menuList.querySelector("a, button");
  if (first) first.focus();
}

function closeUserMenu() {
  menuList.hidden = true;
  menuButton.setAttribute("aria-expanded", "false");
}

menuButton.addEventListener("click", () => (menuList.hidden ? openUserMenu() : closeUserMenu()));
menu.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && !menuList.hidden) {
    closeUserMenu();
    menuButton.focus();
  }
});
document.addEventListener("click", (event) => {
  if (!menu.contains(event.target)) closeUserMenu();
});

async function signOut() {
  try {
    await del("/api/sessions/current");
  } catch (e) {
    // Signed out already, or the server is away: the page forgets the session either way.
  }
  app.me = null;
  drawUserMenu();
  navigate("/sign-in");
  toast("You are signed out");
}

// --- moving between views -------------------------------------------------

document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest("a[data-link]");
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  navigate(link.getAttribute("href"));
});
window.addEventListener("popstate", render);

/**
 * The session ended while a dialog was open (signed out elsewhere, a password
 * change, a timeout): ask for the password in a dialog above it, as the same
 * person, and resolve true once signed in, so the dialog's work goes on.
 */
whenSessionEnds(() => {
  const email = app.me && app.me.email;
  if (!email) return Promise.resolve(false);
  return openDialog("Sign in again", (close) => {
    const who = field("Email", { type: "email", name: "email", autocomplete: "username", readonly: true, value: email });
    const password = field("Password", { type: "password", name: "password", autocomplete: "current-password", required: true });
    const alert = alertBox();
    const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
    const form = h("form", { class: "stack", novalidate: true },
      h("p", {}, "Your session ended. Sign in again to finish: what you typed is kept."),
      alert.el, who.row, password.row,
      h("div", { class: "dialog-actions" },
        h("button", { type: "button", class: "secondary", onclick: () => close(false) }, "Sign out"),
        submit));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      alert.clear();
      if (!password.input.value) {
        password.setError("Enter your password.");
        password.input.focus();
        return;
      }
      password.setError(null);
      await busy(submit, "Signing in…", async () => {
        try {
          await post("/api/sessions", { email, password: password.input.value }, { quiet401: true });
          close(true);
        } catch (e) {
          if (!(e instanceof Problem)) throw e;
          alert.show(e.message);
          password.input.value = "";
          password.input.focus();
        }
      });
    });
    setTimeout(() => password.input.focus(), 0);
    return form;
  }).then((signedIn) => signedIn === true);
});

whenSignedOut(() => {
  if (!app.me) return;
  // No dialog stays on top of the sign-in page.
  for (const dialog of document.querySelectorAll("dialog")) {
    if (dialog.open) dialog.close();
    dialog.remove();
  }
  app.me = null;
  drawUserMenu();
  const next = location.pathname + location.search;
  navigate(`/sign-in?next=${encodeURIComponent(next)}`, { replaceState: true });
});

render();
