// The modal dialogs of user management: invite a person, correct an
// invitation's role, edit a member's role(s) or delete them, add or rename an
// account. Every input is checked as it is typed; the server's refusals show in
// the dialog with the way out.

import { post, patch, del, seg, Problem } from "./api.js";
import { h, replace, field, alertBox, openDialog, busy, toast } from "./dom.js";
import { roleFields, sameRole, describe } from "./roles.js";
import { showFieldErrors } from "./sign_in.js";

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** The *Invite user* dialog. */
export function inviteDialog(ctx) {
  return openDialog("Invite user", (close) => {
    const name = field("Full name", { type: "text", name: "full_name", autocomplete: "off", required: true, maxlength: 200 });
    const email = field("Email", { type: "email", name: "email", autocomplete: "off", required: true, maxlength: 254 });
    const touched = new Set();
    const roles = roleFields(ctx.org.shape, ctx.accounts, null, () => {
      touched.add("role");
      check();
    });
    const alert = alertBox();
    const send = h("button", { type: "submit", class: "primary", disabled: true }, "Send invitation");
    const problems = () => ({
      full_name: name.input.value.trim() ? null : "Enter the person's full name.",
      email: !email.input.value.trim() ? "Enter their email address."
        : EMAIL.test(email.input.value.trim()) ? null : "Enter an email address like name@example.com.",
      role: roles.missing(),
    });
    function check() {
      const p = problems();
      if (touched.has("full_name")) name.setError(p.full_name);
      if (touched.has("email")) email.setError(p.email);
      if (touched.has("role")) roles.setError(p.role);
      send.disabled = Boolean(p.full_name || p.email || p.role);
    }
    for (const [key, f] of [["full_name", name], ["email", email]]) {
      f.input.addEventListener("input", () => {
        if (f.input.getAttribute("aria-invalid")) touched.add(key);
        check();
      });
      f.input.addEventListener("blur", () => {
        if (f.input.value) touched.add(key);
        check();
      });
    }
    const form = h("form", { class: "stack", novalidate: true },
      h("p", { class: "hint" }, `They get an email with a link to join ${ctx.org.name}. The link works for a limited time; you can resend it.`),
      alert.el, name.row, email.row, roles.el,
      h("div", { class: "dialog-actions" },
        h("button", { type: "button", class: "secondary", onclick: () => close() }, "Cancel"),
        send));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      ["full_name", "email", "role"].forEach((k) => touched.add(k));
      check();
      if (send.disabled) return;
      alert.clear();
      const body = { full_name: name.input.value.trim(), email: email.input.value.trim(), ...roles.value() };
      await busy(send, "Sending…", async () => {
        try {
          await post(`/api/orgs/${seg(ctx.org.org_id)}/invitations`, body);
          close(true);
          toast(`Invitation sent to ${body.email}`);
          await ctx.refresh({ members: false });
          ctx.show("pending");
        } catch (e) {
          if (!(e instanceof Problem)) throw e;
          refusal(ctx, e, body, alert, close, { full_name: name, email, role: roles, org_role: roles, accounts: roles });
        }
      });
      check();
    });
    return form;
  });
}

/** Shows why an invitation was refused, with the way out. */
function refusal(ctx, e, body, alert, close, fields) {
  if (showFieldErrors(e, fields)) return;
  if (e.rule === "already-invited" && e.doc.invitation_id) {
    const base = `/api/orgs/${seg(ctx.org.org_id)}/invitations/${seg(e.doc.invitation_id)}`;
    const offered = e.doc.invitation_role;
    const wanted = fields.role.role();
    const offeredWords = offered ? describe(offered, ctx.accountNames) : "";
    const expired = e.doc.invitation_status === "expired";
    const resend = h("button", { type: "button", class: "secondary small" },
      offered ? `Resend as ${offeredWords}` : "Resend instead");
    resend.addEventListener("click", () => busy(resend, "Sending…", async () => {
      try {
        await post(`${base}/resend`, {});
        close(true);
        toast(`Invitation sent again to ${body.email}`);
        await ctx.refresh({ members: false });
        ctx.show("pending");
      } catch (again) {
        if (!(again instanceof Problem)) throw again;
        alert.show(again.message);
      }
    }));
    const actions = [resend];
    if (offered && wanted && !sameRole(offered, wanted)) {
      const wantedWords = describe(wanted, ctx.accountNames);
      const change = h("button", { type: "button", class: "primary small" }, `Change to ${wantedWords} and send a new link`);
      change.addEventListener("click", () => busy(change, "Sending…", async () => {
        try {
          await patch(base, fields.role.value());
          close(true);
          toast(`The invitation to ${body.email} now offers ${wantedWords}; a new link is on its way`);
          await ctx.refresh({ members: false });
          ctx.show("pending");
        } catch (again) {
          if (!(again instanceof Problem)) throw again;
          alert.show(again.message);
        }
      }));
      actions.unshift(change);
    }
    const state = expired ? "an expired invitation" : "an invitation";
    alert.show(
      h("p", {}, `${body.email} already has ${state} to ${ctx.org.name}${offered ? `, as ${offeredWords}` : ""}. `
        + (actions.length > 1 ? "Change its role, or send it again as it is." : "Send it again to give them a fresh link.")),
      h("div", { class: "alert-actions" }, actions));
    actions[0].focus();
  } else if (e.rule === "already-member") {
    alert.show(`${body.email} is already a member of ${ctx.org.name}. Change their role from the member list instead.`);
  } else {
    alert.show(e.message);
  }
}

/**
 * The *Edit* dialog of a pending or expired invitation: correct the role it
 * offers. Saving sends a fresh link; the earlier email's link stops working.
 */
export function invitationDialog(ctx, invitation) {
  return openDialog(`Edit the invitation to ${invitation.full_name}`, (close) => {
    const alert = alertBox();
    const save = h("button", { type: "submit", class: "primary", disabled: true }, "Save and send a new link");
    const roles = roleFields(ctx.org.shape, ctx.accounts, invitation.role, () => {
      const chosen = roles.role();
      save.disabled = !chosen || sameRole(chosen, invitation.role);
      roles.setError(roles.missing());
    });
    const form = h("form", { class: "stack", novalidate: true },
      h("dl", { class: "facts" },
        h("dt", {}, "Email"), h("dd", {}, invitation.email),
        h("dt", {}, "Offered role"), h("dd", {}, describe(invitation.role, ctx.accountNames))),
      h("p", { class: "hint" }, `Saving emails ${invitation.email} a new link with the new role. The link in the earlier email stops working.`),
      alert.el, roles.el,
      h("div", { class: "dialog-actions" },
        h("button", { type: "button", class: "secondary", onclick: () => close() }, "Cancel"),
        save));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = roles.value();
      if (!body) return;
      alert.clear();
      await busy(save, "Sending…", async () => {
        try {
          await patch(`/api/orgs/${seg(ctx.org.org_id)}/invitations/${seg(invitation.invitation_id)}`, body);
          close(true);
          toast(`The invitation to ${invitation.email} now offers ${describe(roles.role(), ctx.accountNames)}; a new link is on its way`);
          await ctx.refresh({ members: false });
          ctx.show("pending");
        } catch (e) {
          if (!(e instanceof Problem)) throw e;
          if (!showFieldErrors(e, { role: roles, org_role: roles, accounts: roles })) alert.show(e.message);
        }
      });
      save.disabled = !roles.role() || sameRole(roles.role(), invitation.role);
    });
    return form;
  }, { wide: ctx.org.shape === "multi" });
}

/** Adds an account (`account` null) or renames one. */
export function accountDialog(ctx, account) {
  return openDialog(account ? `Rename ${account.name}` : "Add account", (close) => {
    const alert = alertBox();
    const name = field("Account name", { type: "text", name: "name", autocomplete: "off", required: true, maxlength: 200 },
      "Unique in the organization, whatever the case of its letters.");
    if (account) name.input.value = account.name;
    const save = h("button", { type: "submit", class: "primary" }, account ? "Rename" : "Add account");
    const form = h("form", { class: "stack", novalidate: true },
      alert.el, name.row,
      h("div", { class: "dialog-actions" },
        h("button", { type: "button", class: "secondary", onclick: () => close() }, "Cancel"),
        save));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      alert.clear();
      const wanted = name.input.value.trim();
      if (!wanted) {
        name.setError("Enter the account's name.");
        name.input.focus();
        return;
      }
      name.setError(null);
      await busy(save, "Saving…", async () => {
        try {
          const base = `/api/orgs/${seg(ctx.org.org_id)}/accounts`;
          if (account) await patch(`${base}/${seg(account.account_id)}`, { name: wanted });
          else await post(base, { name: wanted });
          close(true);
          toast(account ? `${account.name} is now called ${wanted}` : `Account ${wanted} added`);
          await ctx.refresh({ accounts: true });
        } catch (e) {
          if (!(e instanceof Problem)) throw e;
          if (e.rule === "account-name-taken") name.setError(`Another account is already called “${wanted}”. Choose another name.`);
          else if (!showFieldErrors(e, { name })) alert.show(e.message);
          name.input.focus();
        }
      });
    });
    return form;
  });
}

/** The *Edit* dialog of a member: change role(s), or delete them after confirming. */
export function editDialog(ctx, member) {
  const you = member.user_id === ctx.me.user_id;
  const isOwner = member.role_label === "owner";
  const lastOwner = isOwner && ctx.owners <= 1;
  return openDialog(`Edit ${member.full_name}`, (close, { heading }) => {
    const alert = alertBox();
    const save = h("button", { type: "submit", class: "primary", disabled: true }, "Save changes");
    const roles = roleFields(ctx.org.shape, ctx.accounts, member.role, () => {
      const chosen = roles.role();
      save.disabled = !chosen || sameRole(chosen, member.role);
      roles.setError(roles.missing());
    });
    const remove = h("button", { type: "button", class: "danger-quiet" }, you ? "Remove yourself" : "Delete user");
    const notes = [];
    if (lastOwner) {
      roles.setDisabled(true);
      remove.disabled = true;
      notes.push(h("p", { class: "note", id: "last-owner-note" },
        `${you ? "You are" : `${member.full_name} is`} the organization's only owner: the role cannot change and ${you ? "you" : "they"} cannot be removed. Make another member an owner first.`));
    }
    const form = h("form", { class: "stack", novalidate: true },
      h("dl", { class: "facts" },
        h("dt", {}, "Email"), h("dd", {}, member.email),
        h("dt", {}, "Current role"), h("dd", {}, describe(member.role, ctx.accountNames))),
      notes, alert.el, roles.el,
      h("div", { class: "dialog-actions split" },
        remove,
        h("div", {},
          h("button", { type: "button", class: "secondary", onclick: () => close() }, "Cancel"),
          save)));
    // A question that replaces the form inside the same dialog; resolves to true
    // on yes. The safe answer has the focus, so Enter never does the harm.
    const confirmInPlace = (title, message, yesLabel, noLabel, { danger = true } = {}) => new Promise((resolve) => {
      const host = form.parentElement;
      const yes = h("button", { type: "button", class: danger ? "danger" : "primary" }, yesLabel);
      const no = h("button", { type: "button", class: "secondary" }, noLabel);
      const confirmAlert = alertBox();
      heading.textContent = title;
      replace(host, h("div", { class: "stack" }, h("p", {}, message), confirmAlert.el, h("div", { class: "dialog-actions" }, no, yes)));
      const restore = () => {
        heading.textContent = `Edit ${member.full_name}`;
        replace(host, form);
      };
      no.focus();
      no.addEventListener("click", () => {
        restore();
        resolve(false);
      });
      yes.addEventListener("click", () => resolve({ yes, confirmAlert, restore }));
    });
    const ownerRole = (role) => role && (role.role === "owner" || role.org_role === "owner");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = roles.value();
      if (!body) return;
      alert.clear();
      if (you && isOwner && !ownerRole(roles.role())) {
        const chosen = describe(roles.role(), ctx.accountNames);
        const answer = await confirmInPlace(
          "Give up your owner role?",
          `You will be ${chosen} in ${ctx.org.name} and can no longer manage its users. Only another owner can make you an owner again.`,
          `Become ${chosen}`, "Stay an owner");
        if (!answer) {
          save.focus();
          return;
        }
        answer.restore();
      }
      await busy(save, "Saving…", async () => {
        try {
          await patch(`/api/orgs/${seg(ctx.org.org_id)}/members/${seg(member.user_id)}`, body);
          close(true);
          toast(`${member.full_name} is now ${describe(roles.role(), ctx.accountNames)}`);
          if (you) {
            await ctx.app.refreshMe();
            if (!ctx.app.me.organizations.some((o) => o.org_id === ctx.org.org_id && o.role === "owner")) {
              ctx.app.navigate("/");
              return;
            }
          }
          await ctx.refresh({ invites: false });
        } catch (e) {
          if (!(e instanceof Problem)) throw e;
          if (!showFieldErrors(e, { role: roles, org_role: roles, accounts: roles })) alert.show(e.message);
        }
      });
      save.disabled = !roles.role() || sameRole(roles.role(), member.role);
    });
    remove.addEventListener("click", async () => {
      const answer = await confirmInPlace(
        you ? "Remove yourself?" : `Delete ${member.full_name}?`,
        you
          ? `You lose access to ${ctx.org.name} at once. The history keeps what you did. Only an owner can invite you again.`
          : `${member.full_name} (${member.email}) loses access to ${ctx.org.name} at once. The history keeps what they did. You can invite them again later.`,
        you ? "Remove myself" : "Delete user", you ? "Stay" : "Keep member");
      if (!answer) {
        remove.focus();
        return;
      }
      const { yes, confirmAlert } = answer;
      await busy(yes, "Deleting…", async () => {
        try {
          await del(`/api/orgs/${seg(ctx.org.org_id)}/members/${seg(member.user_id)}`);
          close(true);
          toast(you ? `You left ${ctx.org.name}` : `${member.full_name} was removed from ${ctx.org.name}`);
          if (you) {
            await ctx.app.refreshMe();
            ctx.app.navigate("/");
            return;
          }
          await ctx.refresh({ invites: false });
        } catch (e) {
          if (!(e instanceof Problem)) throw e;
          confirmAlert.show(e.message);
        }
      });
    });
    return form;
  }, { wide: ctx.org.shape === "multi" });
}
