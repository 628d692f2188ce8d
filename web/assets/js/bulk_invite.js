// Invite many people at once: paste a list or choose a CSV file, see every row
// checked before anything is sent, then send them in one request and see what
// became of each row (invited, already invited, already a member, over the
// sending limit).

import { post, seg, Problem } from "./api.js";
import { h, replace, alertBox, openDialog, busy, toast, uid } from "./dom.js";
import { roleFields, describe, sameRole } from "./roles.js";

/** The most rows one request takes (the API's limit). */
const MAX_ROWS = 500;

/** The most bytes read from a chosen file. */
const MAX_FILE_BYTES = 512 * 1024;

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

const OUTCOME_WORDS = {
  invited: "Invited",
  "already-invited": "Already invited",
  "already-member": "Already a member",
  invalid: "Not valid",
  "over-sending-limit": "Over the sending limit",
  refused: "Refused",
};

/**
 * Splits CSV (or pasted lines) into rows of fields: commas, semicolons or tabs
 * separate fields, double quotes may wrap a field (`""` is a quote inside).
 */
export function parseRows(text) {
  const rows = [];
  let row = [];
  let cell = "";
  let quoted = false;
  const separator = text.includes("\t") ? "\t" : null;
  const isSeparator = (c) => (separator ? c === separator : c === "," || c === ";");
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 1;
      } else if (c === '"') {
        quoted = false;
      } else {
        cell += c;
      }
    } else if (c === '"' && !cell.trim()) {
      quoted = true;
      cell = "";
    } else if (isSeparator(c)) {
      row.push(cell.trim());
      cell = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i += 1;
      row.push(cell.trim());
      if (row.some((f) => f)) rows.push(row);
      row = [];
      cell = "";
    } else {
      cell += c;
    }
  }
  row.push(cell.trim());
  if (row.some((f) => f)) rows.push(row);
  return rows;
}

/** A header row (`name, email, role…`) is skipped. */
function isHeader(fields) {
  return fields.some((f) => /^e-?mail$/i.test(f)) && !fields.some((f) => f.includes("@"));
}

/**
 * One row read as an invitation, by column: name, email, role, then (multi-
 * account) accounts as `Name=admin` pairs; a row that starts with the email
 * (`email, name`) is read that way round. Answers `{ name, email, role, body, problems }`.
 */
function readRow(fields, ctx, fallback) {
  const multi = ctx.org.shape === "multi";
  const problems = [];
  const [first = "", second = "", third = "", ...rest] = fields;
  const swapped = first.includes("@") && !second.includes("@");
  const email = swapped ? first : second;
  const names = [swapped ? second : first];
  const roleWord = third.toLowerCase();
  const accountPairs = rest.join(";").split(/[|;]/).map((p) => p.trim()).filter(Boolean);
  const name = names.join(" ").trim();
  if (!name) problems.push("no name");
  if (!email) problems.push("no email address");
  else if (!EMAIL.test(email)) problems.push(`“${email}” is not an email address`);
  let body = null;
  let role = null;
  if (!roleWord && fallback) {
    body = fallback.value();
    role = fallback.role();
  } else if (!multi) {
    if (["owner", "admin", "standard"].includes(roleWord)) {
      body = { role: roleWord };
      role = { shape: "single", role: roleWord };
    } else problems.push(roleWord ? `“${roleWord}” is not a role here (owner, admin or standard)` : "no role: choose one for such rows above");
  } else if (roleWord === "owner") {
    body = { org_role: "owner" };
    role = { shape: "multi", org_role: "owner" };
  } else if (roleWord === "contributor" || (!roleWord && accountPairs.length)) {
    const accounts = [];
    for (const pair of accountPairs) {
      const [accountName, accountRole = "standard"] = pair.split("=").map((p) => p.trim());
      const account = ctx.accounts.find((a) => a.name.toLowerCase() === accountName.toLowerCase());
      const r = accountRole.toLowerCase();
      if (!account) problems.push(`no account is called “${accountName}”`);
      else if (r !== "admin" && r !== "standard") problems.push(`“${accountRole}” is not an account role (admin or standard)`);
      else accounts.push({ account_id: account.account_id, role: r });
    }
    if (!accounts.length && !problems.length) problems.push("a contributor needs accounts, e.g. Alpha=admin");
    body = { org_role: "contributor", accounts };
    role = { shape: "multi", org_role: "contributor", accounts: Object.fromEntries(accounts.map((a) => [a.account_id, a.role])) };
  } else {
    problems.push(roleWord ? `“${roleWord}” is not an organization role here (owner or contributor)` : "no role: choose one for such rows above");
  }
  return { name, email, role, body, problems };
}

/** The *Invite many* dialog. */
export function bulkInviteDialog(ctx) {
  const multi = ctx.org.shape === "multi";
  return openDialog("Invite many people", (close) => {
    const listId = uid("bulk-list");
    const fileId = uid("bulk-file");
    const hintId = uid("bulk-hint");
    const list = h("textarea", {
      id: listId, name: "people", rows: 6, spellcheck: "false", "aria-describedby": hintId,
      placeholder: multi ? "Ann Lee, ann@example.com, contributor, Alpha=admin; Beta=standard\nBob Roe, bob@example.com, owner"
        : "Ann Lee, ann@example.com, admin\nBob Roe, bob@example.com",
    });
    const file = h("input", { id: fileId, type: "file", accept: ".csv,text/csv,text/plain" });
    const fallback = roleFields(ctx.org.shape, ctx.accounts, null, () => preview());
    const alert = alertBox();
    const summary = h("p", { class: "hint", "aria-live": "polite" });
    const rowsBody = h("tbody");
    const table = h("div", { class: "table-wrap bulk-preview", hidden: true },
      h("table", { class: "list" },
        h("thead", {}, h("tr", {},
          h("th", { scope: "col" }, "Row"),
          h("th", { scope: "col" }, "Name"),
          h("th", { scope: "col" }, "Email"),
          h("th", { scope: "col" }, multi ? "Roles" : "Role"),
          h("th", { scope: "col" }, "Check"))),
        rowsBody));
    const send = h("button", { type: "submit", class: "primary", disabled: true }, "Send invitations");
    const done = h("button", { type: "button", class: "primary", hidden: true }, "Done");
    const cancel = h("button", { type: "button", class: "secondary", onclick: () => close() }, "Cancel");
    done.addEventListener("click", () => close(true));
    let rows = [];

    function preview() {
      const parsed = parseRows(list.value);
      const fields = parsed.length && isHeader(parsed[0]) ? parsed.slice(1) : parsed;
      const open = new Map(ctx.invitations.map((i) => [i.email.toLowerCase(), i]));
      const seen = new Set();
      rows = fields.map((f, k) => {
        const row = readRow(f, ctx, fallback.role() ? fallback : null);
        const key = row.email.toLowerCase();
        const invited = open.get(key);
        if (row.email && seen.has(key)) row.problems.push("repeats an earlier row");
        seen.add(key);
        if (!row.problems.length && invited) {
          row.note = `already invited as ${describe(invited.role, ctx.accountNames)}`
            + (row.role && !sameRole(invited.role, row.role) ? ": change it from Pending" : "");
        }
        return { ...row, line: k + 1 };
      });
      const ready = rows.filter((r) => !r.problems.length && !r.note);
      if (rows.length > MAX_ROWS) alert.show(`${rows.length} rows: at most ${MAX_ROWS} can be sent at once. Split the list.`);
      else alert.clear();
      replace(rowsBody, rows.map((r) => h("tr", { class: r.problems.length ? "bad" : null },
        h("td", { "data-label": "Row" }, String(r.line)),
        h("td", { "data-label": "Name" }, r.name),
        h("td", { "data-label": "Email" }, r.email),
        h("td", { "data-label": multi ? "Roles" : "Role" }, r.role ? describe(r.role, ctx.accountNames) : ""),
        h("td", { "data-label": "Check" }, r.problems.length
          ? h("span", { class: "check-bad" }, `⚠ ${r.problems.join("; ")}`)
          : r.note ? h("span", { class: "hint" }, `Skipped: ${r.note}`) : h("span", { class: "check-ok" }, "✓ Ready")))));
      table.hidden = rows.length === 0;
      const skipped = rows.length - ready.length;
      summary.textContent = rows.length
        ? `${ready.length} of ${rows.length} ${rows.length === 1 ? "row is" : "rows are"} ready${skipped ? `; ${skipped} will not be sent` : ""}.`
        : "";
      send.disabled = !ready.length || rows.length > MAX_ROWS;
      send.textContent = ready.length ? `Send ${ready.length} ${ready.length === 1 ? "invitation" : "invitations"}` : "Send invitations";
    }

    list.addEventListener("input", preview);
    file.addEventListener("change", async () => {
      const chosen = file.files && file.files[0];
      if (!chosen) return;
      if (chosen.size > MAX_FILE_BYTES) {
        alert.show(`${chosen.name} is larger than ${MAX_FILE_BYTES / 1024} KB. Split it into smaller files.`);
        return;
      }
      list.value = await chosen.text();
      preview();
    });

    const form = h("form", { class: "stack", novalidate: true },
      h("p", { class: "hint", id: hintId },
        multi
          ? "One person per line: name, email, and a role (owner or contributor); a contributor's accounts as Name=admin or Name=standard, separated by semicolons. A CSV file with the same columns works too."
          : "One person per line: name, email, and a role (owner, admin or standard). A CSV file with the same columns works too."),
      h("div", { class: "field" }, h("label", { for: listId }, "People"), list),
      h("div", { class: "field" }, h("label", { for: fileId }, "Or choose a CSV file"), file),
      h("details", { class: "fallback-role" },
        h("summary", {}, "Role for rows that name none"),
        fallback.el),
      alert.el, summary, table,
      h("div", { class: "dialog-actions" }, cancel, send, done));

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const ready = rows.filter((r) => !r.problems.length && !r.note);
      if (!ready.length) return;
      await busy(send, "Sending…", async () => {
        try {
          const answer = await post(`/api/orgs/${seg(ctx.org.org_id)}/invitations/bulk`, {
            invitations: ready.map((r) => ({ full_name: r.name, email: r.email, ...r.body })),
          });
          answer.results.forEach((result, k) => {
            const row = ready[k];
            row.outcome = result;
          });
          showOutcomes(ready, answer.invited);
          await ctx.refresh({ members: false });
          ctx.show("pending");
        } catch (e) {
          if (!(e instanceof Problem)) throw e;
          alert.show(e.message);
        }
      });
    });

    function showOutcomes(sent, invited) {
      replace(rowsBody, sent.map((r) => {
        const o = r.outcome || {};
        const good = o.outcome === "invited";
        return h("tr", { class: good ? null : "bad" },
          h("td", { "data-label": "Row" }, String(r.line)),
          h("td", { "data-label": "Name" }, r.name),
          h("td", { "data-label": "Email" }, r.email),
          h("td", { "data-label": multi ? "Roles" : "Role" }, r.role ? describe(r.role, ctx.accountNames) : ""),
          h("td", { "data-label": "Check" },
            h("span", { class: good ? "check-ok" : "check-bad" },
              `${good ? "✓" : "⚠"} ${OUTCOME_WORDS[o.outcome] || o.outcome || "No answer"}`),
            good ? null : h("span", { class: "hint block" }, o.detail || "")));
      }));
      summary.textContent = `${invited} of ${sent.length} invited.`;
      list.disabled = true;
      file.disabled = true;
      fallback.setDisabled(true);
      send.hidden = true;
      cancel.hidden = true;
      done.hidden = false;
      done.focus();
      if (invited) toast(`${invited} ${invited === 1 ? "invitation" : "invitations"} sent`);
    }

    return form;
  }, { large: true });
}
