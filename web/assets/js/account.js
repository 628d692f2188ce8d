// The signed-in person's own settings: password, and signing out everywhere.

import { post, del, Problem } from "./api.js";
import { h, replace, field, alertBox, busy, toast, confirmDialog } from "./dom.js";
import { showFieldErrors } from "./sign_in.js";

/** The account settings page. */
export async function accountPage(app) {
  const me = await app.requireMe();
  if (!me) return;
  document.title = "Account settings · Roster";

  const current = field("Current password", { type: "password", name: "current_password", autocomplete: "current-password", required: true });
  const next = field("New password", { type: "password", name: "new_password", autocomplete: "new-password", required: true }, "At least 12 characters. Your other sessions end when it changes.");
  const repeat = field("Repeat the new password", { type: "password", name: "repeat", autocomplete: "new-password", required: true });
  const alert = alertBox();
  const save = h("button", { type: "submit", class: "primary" }, "Change password");
  const form = h("form", { class: "stack", novalidate: true }, alert.el, current.row, next.row, repeat.row, h("div", {}, save));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    alert.clear();
    current.setError(current.input.value ? null : "Enter your current password.");
    next.setError(next.input.value.length >= 12 ? null : "Use at least 12 characters.");
    repeat.setError(repeat.input.value === next.input.value ? null : "The two passwords differ.");
    if (!current.input.value || next.input.value.length < 12 || repeat.input.value !== next.input.value) return;
    await busy(save, "Saving…", async () => {
      try {
        await post("/api/me/password", { current_password: current.input.value, new_password: next.input.value });
        form.reset();
        toast("Your password is changed; your other sessions are signed out");
      } catch (e) {
        if (!(e instanceof Problem)) throw e;
        if (!showFieldErrors(e, { current_password: current, new_password: next })) alert.show(e.message);
      }
    });
  });

  const everywhere = h("button", { type: "button", class: "secondary" }, "Sign out everywhere");
  everywhere.addEventListener("click", async () => {
    const yes = await confirmDialog("Sign out everywhere?", "Every session of yours ends, on every device, this one included.", "Sign out everywhere", { danger: true });
    if (!yes) return;
    try {
      await del("/api/sessions");
    } catch (e) {
      if (!(e instanceof Problem)) throw e;
    }
    app.me = null;
    await app.refreshMe();
    app.navigate("/sign-in");
    toast("Every session is signed out");
  });

  replace(app.main,
    h("div", { class: "page-head" }, h("h1", {}, "Account settings")),
    h("section", { class: "panel", "aria-labelledby": "profile-title" },
      h("h2", { id: "profile-title" }, "Profile"),
      h("dl", { class: "facts" },
        h("dt", {}, "Name"), h("dd", {}, me.full_name || ""),
        h("dt", {}, "Email"), h("dd", {}, me.email || ""))),
    h("section", { class: "panel", "aria-labelledby": "password-title" },
      h("h2", { id: "password-title" }, "Change password"), form),
    h("section", { class: "panel", "aria-labelledby": "sessions-title" },
      h("h2", { id: "sessions-title" }, "Sessions"),
      h("p", {}, "Lost a device, or signed in on a shared computer? End every session at once."),
      everywhere));
}
