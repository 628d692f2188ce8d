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

/** What a single sign-on refusal means, for the person who was sent back. */
const SSO_WORDS = {
  "sso-provider-unavailable": "Your organization's sign-in provider is not answering. Try again in a few minutes, or ask an owner.",
  "sso-provider-misconfigured": "Your organization's single sign-on is not set up correctly. Ask one of its owners to check it.",
  "sso-state-unknown": "That sign-in took too long or was already used. Start again.",
  "sso-other-browser": "That sign-in was started in another browser or tab. Start again here.",
  "sso-token-refused": "Your organization's sign-in provider sent an answer Roster cannot trust. Try again; if it happens again, tell an owner.",
  "sso-email-missing": "Your sign-in provider did not give Roster your email address. Ask your organization's owners to check the connection.",
  "sso-email-unverified": "Your sign-in provider has not verified your email address yet.",
  "sso-domain-not-connected": "You signed in at the provider with an address this organization's single sign-on does not cover.",
  "sso-not-a-member": "You are not a member of this organization yet. Ask one of its owners to invite you.",
  "sso-identity-linked-elsewhere": "This sign-in belongs to another person in Roster. Sign out at your provider and sign in as yourself.",
  "sso-person-linked-elsewhere": "Your Roster account is linked to another sign-in at this provider. Ask an owner for help.",
  "sso-code-refused": "Your sign-in provider refused the sign-in. Try again.",
  "sso-provider-declined": "You were not signed in at your organization's provider.",
  "member-suspended": "Your membership is suspended. Ask one of the organization's owners.",
  "wrong-identity": "This invitation is for someone else: sign in at the provider as the person invited.",
  "sso-unavailable": "Single sign-on failed on our side. Try again in a moment.",
};

/** Sends the browser to an organization's provider (see `/api/sso/start`). */
export async function goToProvider(body) {
  const started = await post("/api/sso/start", body);
  location.assign(started.url);
}

/** The sign-in page: the email first, then a password or the organization's single sign-on. */
export async function signInPage(app) {
  if (app.me) {
    app.navigate(nextPath(), { replaceState: true });
    return;
  }
  const params = new URLSearchParams(location.search);
  if (params.get("sso_confirm")) {
    confirmLinkPage(app, params.get("sso_confirm"), params.get("organization") || "your organization");
    return;
  }
  document.title = "Sign in · Roster";
  const org = params.get("org");
  const email = field("Email", { type: "email", name: "email", autocomplete: "username", required: true });
  const password = field("Password", { type: "password", name: "password", autocomplete: "current-password", required: true });
  password.row.hidden = true;
  const alert = alertBox();
  const submit = h("button", { type: "submit", class: "primary wide" }, "Continue");
  const ssoNote = h("p", { class: "note", hidden: true });
  const sso = h("button", { type: "button", class: "primary wide", hidden: true }, "Continue with single sign-on");
  const usePassword = h("button", { type: "button", class: "secondary wide", hidden: true }, "Use my Roster password instead");
  const forgot = h("p", { class: "aside" }, h("a", { href: "/forgot-password", "data-link": true }, "Forgot password?"));
  /** Which step shows: "email", "password" or "sso". */
  let step = "email";
  function show(next) {
    step = next;
    password.row.hidden = next !== "password";
    submit.hidden = next === "sso";
    submit.textContent = next === "password" ? "Sign in" : "Continue";
    sso.hidden = next !== "sso";
    ssoNote.hidden = next !== "sso";
  }
  email.input.addEventListener("input", () => {
    if (step !== "email") {
      show("email");
      usePassword.hidden = true;
    }
  });
  sso.addEventListener("click", () => busy(sso, "Going to your sign-in provider…", async () => {
    alert.clear();
    try {
      await goToProvider({ email: email.input.value.trim(), org: org || undefined });
    } catch (e) {
      if (!(e instanceof Problem)) throw e;
      alert.show(e.message);
    }
  }));
  usePassword.addEventListener("click", () => {
    usePassword.hidden = true;
    show("password");
    password.input.focus();
  });
  const form = h("form", { class: "stack", novalidate: true },
    alert.el, email.row, password.row, submit, ssoNote, sso, usePassword, forgot);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    alert.clear();
    const address = email.input.value.trim();
    email.setError(address ? null : "Enter your email address.");
    if (!address) return;
    if (step === "email") {
      const how = await busy(submit, "Checking…", () => post("/api/sso/method", { email: address, org: org || undefined }));
      if (how.method === "sso") {
        replace(ssoNote, how.required
          ? `${how.organization} signs its people in with its own single sign-on.`
          : `${how.organization} lets you sign in with its single sign-on.`);
        usePassword.hidden = how.required;
        show("sso");
        sso.focus();
      } else {
        show("password");
        password.input.focus();
      }
      return;
    }
    password.setError(password.input.value ? null : "Enter your password.");
    if (!password.input.value) return;
    await busy(submit, "Signing in…", async () => {
      try {
        await post("/api/sessions", { email: address, password: password.input.value }, { quiet401: true });
        await app.refreshMe();
        app.navigate(nextPath(), { replaceState: true });
      } catch (e) {
        if (!(e instanceof Problem)) throw e;
        if (e.rule === "sso-required") {
          alert.show(`${e.doc.organization || "Your organization"} requires its single sign-on: use it to sign in.`);
          show("sso");
          usePassword.hidden = true;
          replace(ssoNote, "");
          return;
        }
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
  const refused = params.get("sso_error");
  if (refused) {
    alert.show(SSO_WORDS[refused] || "Single sign-on did not work. Try again.");
    email.input.focus();
  } else {
    email.input.focus();
  }
}

/** After single sign-on: a person who also belongs to other organizations confirms once with their Roster password. */
function confirmLinkPage(app, email, organization) {
  document.title = "Confirm it's you · Roster";
  const password = field("Your Roster password", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const alert = alertBox();
  const submit = h("button", { type: "submit", class: "primary wide" }, "Confirm and sign in");
  const form = h("form", { class: "stack", novalidate: true }, alert.el,
    h("input", { type: "email", name: "email", autocomplete: "username", value: email, hidden: true, readonly: true }),
    password.row, submit,
    h("p", { class: "aside" }, h("a", { href: "/sign-in", "data-link": true }, "Cancel")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    alert.clear();
    password.setError(password.input.value ? null : "Enter your password.");
    if (!password.input.value) return;
    await busy(submit, "Confirming…", async () => {
      try {
        await post("/api/sso/confirm", { password: password.input.value }, { quiet401: true });
        await app.refreshMe();
        app.navigate("/", { replaceState: true });
      } catch (e) {
        if (!(e instanceof Problem)) throw e;
        if (e.rule === "sso-link-expired") {
          alert.show(e.message, " ", h("a", { href: "/sign-in", "data-link": true }, "Sign in again"));
          return;
        }
        if (!showFieldErrors(e, { password })) alert.show(e.message);
        password.input.value = "";
        password.input.focus();
      }
    });
  });
  replace(app.main, h("section", { class: "panel narrow" },
    h("h1", {}, "Confirm it's you"),
    h("p", { class: "lead" },
      `You signed in with ${organization}'s single sign-on as ${email}. Your Roster account also belongs to other organizations, so enter your Roster password once to link the two. Next time, single sign-on is enough.`),
    form));
  password.input.focus();
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
