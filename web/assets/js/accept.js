// The page an invitation email links to. Opening it only previews the invitation
// (the link is not used up); a new person sets their name and password, a person
// with an account signs in first; a link that no longer works says what to do.

import { get, post, del, seg, Problem } from "./api.js";
import { h, replace, field, alertBox, busy, toast, when, timeLeft } from "./dom.js";
import { describe } from "./roles.js";
import { showFieldErrors, goToProvider } from "./sign_in.js";

/** The accept page for `token`. */
export async function acceptPage(app, token) {
  document.title = "Invitation · Roster";
  let preview;
  try {
    preview = await get(`/api/invitations/${seg(token)}`);
  } catch (e) {
    if (!(e instanceof Problem) || e.status >= 500 || e.status === 0) throw e;
    // The API tells the holder of a real link why it stopped working.
    if (e.rule === "invitation-cancelled") {
      closedPage(app, "This invitation was cancelled",
        "An owner cancelled this invitation, so the link no longer works. If you still need access, ask an owner of the organization to invite you again.");
    } else if (e.rule === "invitation-already-accepted") {
      closedPage(app, "This invitation was already used",
        "Somebody has joined with this link already; it works only once. If that was you, sign in.", true);
    } else if (e.rule === "invitation-link-replaced") {
      closedPage(app, "A newer invitation replaced this link",
        "The invitation was sent again, and only the link in the most recent email works. Open that email, or ask the owner who invited you to resend it.");
    } else {
      closedPage(app, "This invitation link does not work",
        "The link may be incomplete or mistyped. Open the link from the most recent invitation email, or ask the owner who invited you to resend it. If you already joined, sign in.", true);
    }
    return;
  }
  const org = preview.organization.name;
  if (preview.status === "expired" || (preview.status === "pending" && !timeLeft(preview.expires_at))) {
    closedPage(app, "This invitation has expired",
      `The invitation to ${org} stopped working on ${when(preview.expires_at)}. Ask ${preview.invited_by || "an owner of the organization"} to resend it; the new email brings a fresh link.`);
    return;
  }
  if (preview.status === "cancelled") {
    closedPage(app, "This invitation was cancelled",
      `An owner of ${org} cancelled this invitation. If you still need access, ask ${preview.invited_by || "an owner"} to invite you again.`);
    return;
  }
  if (preview.status === "accepted") {
    closedPage(app, "This invitation was already used",
      `You have already joined ${org} with this link. Sign in to continue.`, true);
    return;
  }

  if (!app.me) await app.refreshMe();
  const facts = h("dl", { class: "facts" },
    h("dt", {}, "Organization"), h("dd", {}, org),
    h("dt", {}, "Invited by"), h("dd", {}, preview.invited_by || "The portal's operator"),
    h("dt", {}, "Your role"), h("dd", {}, describe(preview.role, new Map((preview.accounts || []).map((a) => [a.account_id, a.name])))),
    h("dt", {}, "For"), h("dd", {}, preview.email),
    h("dt", {}, "Link works until"), h("dd", {}, `${when(preview.expires_at)} (${timeLeft(preview.expires_at)})`));
  const panel = h("section", { class: "panel narrow" },
    h("p", { class: "eyebrow" }, "Invitation"),
    h("h1", {}, `Join ${org}`),
    facts);
  replace(app.main, panel);

  const joined = async () => {
    await app.refreshMe();
    app.navigate("/", { replaceState: true });
    toast(`Welcome to ${org}`);
  };

  const signedInAs = app.me && app.me.email;
  const mine = app.me && app.me.email && app.me.email.toLowerCase() === preview.email.toLowerCase();
  if (signedInAs && signedInAs.toLowerCase() !== preview.email.toLowerCase()) {
    // Said before anything is typed: only the invited address can accept.
    panel.append(someoneElse(app, preview, signedInAs, () => acceptPage(app, token)));
  } else if (preview.single_sign_on && !mine) {
    panel.append(singleSignOn(preview, token));
    if (preview.single_sign_on === "optional") {
      panel.append(h("p", { class: "divider" }, "or"),
        preview.existing_account ? signInThenAccept(app, preview, token, joined) : newPersonForm(preview, token, joined));
    }
  } else if (!preview.existing_account) {
    panel.append(newPersonForm(preview, token, joined));
  } else if (mine) {
    panel.append(signedInAccept(token, joined));
  } else {
    panel.append(signInThenAccept(app, preview, token, joined));
  }
  const first = panel.querySelector("input, button.primary");
  if (first) first.focus();
}

/** The browser is signed in as another person: sign out here, then accept. */
function someoneElse(app, preview, signedInAs, again) {
  const out = h("button", { type: "button", class: "primary wide" }, `Sign out and continue as ${preview.email}`);
  const alert = alertBox();
  out.addEventListener("click", () => busy(out, "Signing out…", async () => {
    try {
      await del("/api/sessions/current");
    } catch (e) {
      if (!(e instanceof Problem)) throw e;
      // Already signed out: carry on.
    }
    await app.refreshMe();
    await again();
  }));
  return h("div", { class: "stack" },
    h("div", { class: "note", role: "status" },
      h("p", {}, `You are signed in as ${signedInAs}, but this invitation is for ${preview.email}.`),
      h("p", {}, `Only ${preview.email} can accept it. Sign out here, then accept it as ${preview.email}. Your own account and access stay as they are.`)),
    alert.el, out);
}

/** Accepting through the organization's own sign-in provider. */
function singleSignOn(preview, token) {
  const alert = alertBox();
  const go = h("button", { type: "button", class: "primary wide" }, "Accept with single sign-on");
  go.addEventListener("click", () => busy(go, "Going to your sign-in provider…", async () => {
    alert.clear();
    try {
      await goToProvider({ invitation_token: token });
    } catch (e) {
      if (!(e instanceof Problem)) throw e;
      alert.show(e.message);
    }
  }));
  return h("div", { class: "stack" },
    h("p", {}, preview.single_sign_on === "required"
      ? `${preview.organization.name} signs its people in with its own single sign-on. Sign in there as ${preview.email} to join; no Roster password is needed.`
      : `${preview.organization.name} uses single sign-on: sign in there as ${preview.email} to join, without a Roster password.`),
    alert.el, go);
}

function closedPage(app, title, message, signIn = false) {
  document.title = `${title} · Roster`;
  replace(app.main, h("section", { class: "panel narrow" },
    h("h1", {}, title),
    h("p", { role: "alert" }, message),
    signIn ? h("p", {}, h("a", { class: "button primary", href: "/sign-in", "data-link": true }, "Sign in")) : null));
}

function newPersonForm(preview, token, joined) {
  const name = field("Full name", { type: "text", name: "full_name", autocomplete: "name", required: true, maxlength: 200 });
  name.input.value = preview.full_name;
  const password = field("Choose a password", { type: "password", name: "password", autocomplete: "new-password", required: true }, "At least 12 characters.");
  const confirm = field("Repeat the password", { type: "password", name: "confirm", autocomplete: "new-password", required: true });
  const alert = alertBox();
  const submit = h("button", { type: "submit", class: "primary wide" }, "Accept invitation");
  const form = h("form", { class: "stack", novalidate: true },
    h("h2", {}, "Set up your account"),
    alert.el, name.row, password.row, confirm.row, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    alert.clear();
    name.setError(name.input.value.trim() ? null : "Enter your full name.");
    password.setError(password.input.value.length >= 12 ? null : "Use at least 12 characters.");
    confirm.setError(confirm.input.value === password.input.value ? null : "The two passwords differ.");
    if (!name.input.value.trim() || password.input.value.length < 12 || confirm.input.value !== password.input.value) return;
    await busy(submit, "Joining…", async () => {
      try {
        await post("/api/invitations/accept", { token, full_name: name.input.value.trim(), password: password.input.value });
        await post("/api/sessions", { email: preview.email, password: password.input.value });
        await joined();
      } catch (e) {
        if (!(e instanceof Problem)) throw e;
        if (!showFieldErrors(e, { full_name: name, password })) alert.show(e.message);
      }
    });
  });
  return form;
}

function signedInAccept(token, joined) {
  const alert = alertBox();
  const submit = h("button", { type: "button", class: "primary wide" }, "Accept invitation");
  submit.addEventListener("click", () => busy(submit, "Joining…", async () => {
    try {
      await post("/api/invitations/accept", { token });
      await joined();
    } catch (e) {
      if (!(e instanceof Problem)) throw e;
      alert.show(e.message);
    }
  }));
  return h("div", { class: "stack" }, h("p", {}, "You are signed in with this address."), alert.el, submit);
}

function signInThenAccept(app, preview, token, joined) {
  const password = field("Password", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const alert = alertBox();
  const submit = h("button", { type: "submit", class: "primary wide" }, "Sign in and accept");
  const form = h("form", { class: "stack", novalidate: true },
    h("h2", {}, "Sign in to accept"),
    h("p", {}, `${preview.email} already has a Roster account. Sign in with it to join.`),
    h("input", { type: "email", name: "email", autocomplete: "username", value: preview.email, hidden: true, readonly: true }),
    alert.el, password.row, submit,
    h("p", { class: "aside" }, h("a", { href: "/forgot-password", "data-link": true }, "Forgot password?")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    alert.clear();
    if (!password.input.value) {
      password.setError("Enter your password.");
      return;
    }
    password.setError(null);
    await busy(submit, "Joining…", async () => {
      try {
        await post("/api/sessions", { email: preview.email, password: password.input.value }, { quiet401: true });
        await post("/api/invitations/accept", { token });
        await joined();
      } catch (e) {
        if (!(e instanceof Problem)) throw e;
        alert.show(e.message);
      }
    });
  });
  return form;
}
