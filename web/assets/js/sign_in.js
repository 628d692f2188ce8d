// Signing in, asking for a password reset link, and setting a new password with it.

import { post, Problem } from "./api.js";
import { h, replace, field, alertBox, busy, toast } from "./dom.js";

/** Where to go after signing in: the `next` a guarded page asked for, if it is ours. */
function nextPath() {
  const next = new URLSearchParams(location.search).get("next");
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

/** Shows a problem's field errors beside their inputs; true if any matched. */
export function showFieldErrors(problem, fields) {
  let shown = false;
  for (const e of problem.fieldErrors) {
    const f = fields[e.field];
    if (f) {
      f.setError(e.message);
      shown = true;
    }
  }
  return shown;
}

/** The sign-in page. */
export async function signInPage(app) {
  if (app.me) {
    app.navigate(nextPath(), { replaceState: true });
    return;
  }
  document.title = "Sign in · Roster";
  const email = field("Email", { type: "email", name: "email", autocomplete: "username", required: true });
  const password = field("Password", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const alert = alertBox();
  const submit = h("button", { type: "submit", class: "primary wide" }, "Sign in");
  const form = h("form", { class: "stack", novalidate: true },
    alert.el, email.row, password.row, submit,
    h("p", { class: "aside" }, h("a", { href: "/forgot-password", "data-link": true }, "Forgot password?")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    alert.clear();
    email.setError(email.input.value.trim() ? null : "Enter your email address.");
    password.setError(password.input.value ? null : "Enter your password.");
    if (!email.input.value.trim() || !password.input.value) return;
    await busy(submit, "Signing in…", async () => {
      try {
        await post("/api/sessions", { email: email.input.value.trim(), password: password.input.value }, { quiet401: true });
        await app.refreshMe();
        app.navigate(nextPath(), { replaceState: true });
      } catch (e) {
        if (!(e instanceof Problem)) throw e;
        if (!showFieldErrors(e, { email, password })) alert.show(e.message);
        password.input.value = "";
        password.input.focus();
      }
    });
  });
  replace(app.main, h("section", { class: "panel narrow" },
    h("h1", {}, "Sign in"),
    h("p", { class: "lead" }, "Manage who in your organization can use the partner portal."),
    form));
  email.input.focus();
}

/** Asks for a reset link; the answer is the same whether or not the address has an account. */
export async function forgotPasswordPage(app) {
  document.title = "Forgot password · Roster";
  const email = field("Email", { type: "email", name: "email", autocomplete: "username", required: true });
  const alert = alertBox();
  const submit = h("button", { type: "submit", class: "primary wide" }, "Email me a reset link");
  const panel = h("section", { class: "panel narrow" });
  const form = h("form", { class: "stack", novalidate: true }, alert.el, email.row, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    alert.clear();
    if (!email.input.validity.valid || !email.input.value.trim()) {
      email.setError("Enter the email address you sign in with.");
      return;
    }
    email.setError(null);
    await busy(submit, "Sending…", async () => {
      try {
        await post("/api/password-resets", { email: email.input.value.trim() });
        replace(panel,
          h("h1", {}, "Check your email"),
          h("p", { role: "status" }, `If ${email.input.value.trim()} has a Roster account, a link to set a new password is on its way. It works once, within 30 minutes.`),
          h("p", {}, h("a", { href: "/sign-in", "data-link": true }, "Back to sign in")));
      } catch (e) {
        if (!(e instanceof Problem)) throw e;
        if (!showFieldErrors(e, { email })) alert.show(e.message);
      }
    });
  });
  replace(panel,
    h("h1", {}, "Forgot your password?"),
    h("p", { class: "lead" }, "Enter your email address and we will send you a link to set a new one."),
    form,
    h("p", { class: "aside" }, h("a", { href: "/sign-in", "data-link": true }, "Back to sign in")));
  replace(app.main, panel);
  email.input.focus();
}

/** Sets a new password with the link from a reset email. */
export async function resetPasswordPage(app, userId, token) {
  document.title = "Set a new password · Roster";
  const password = field("New password", { type: "password", name: "new_password", autocomplete: "new-password", required: true }, "At least 12 characters.");
  const confirm = field("Repeat the new password", { type: "password", name: "confirm", autocomplete: "new-password", required: true });
  const alert = alertBox();
  const submit = h("button", { type: "submit", class: "primary wide" }, "Set password");
  const panel = h("section", { class: "panel narrow" });
  const form = h("form", { class: "stack", novalidate: true }, alert.el, password.row, confirm.row, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    alert.clear();
    password.setError(password.input.value ? null : "Enter a new password.");
    confirm.setError(confirm.input.value === password.input.value ? null : "The two passwords differ.");
    if (!password.input.value || confirm.input.value !== password.input.value) return;
    await busy(submit, "Saving…", async () => {
      try {
        await post("/api/password-resets/complete", { user_id: userId, token, new_password: password.input.value });
        app.me = null;
        app.navigate("/sign-in", { replaceState: true });
        toast("Your password is set. Sign in with it.");
      } catch (e) {
        if (!(e instanceof Problem)) throw e;
        if (!showFieldErrors(e, { new_password: password })) {
          alert.show(e.message, " ", h("a", { href: "/forgot-password", "data-link": true }, "Ask for a new link"));
        }
      }
    });
  });
  replace(panel, h("h1", {}, "Set a new password"), form);
  replace(app.main, panel);
  password.input.focus();
}
