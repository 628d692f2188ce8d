// Small DOM helpers: elements built from data (text is never parsed as HTML),
// modal dialogs, success banners, form fields with inline errors, and times.

/** Builds an element: `h("button", { class: "primary", onclick }, "Save")`. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

let ids = 0;
/** A page-unique id for label/aria wiring. */
export function uid(prefix = "f") {
  ids += 1;
  return `${prefix}-${ids}`;
}

/**
 * A labelled input with a slot for its error, announced to screen readers.
 * Returns `{ row, input, setError }`.
 */
export function field(label, attrs = {}, hint) {
  const id = uid("field");
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : undefined;
  const input = attrs.tag === "select"
    ? h("select", { id, name: attrs.name, required: attrs.required }, attrs.options || [])
    : h("input", { id, ...attrs, "aria-describedby": hintId });
  const error = h("p", { class: "field-error", id: errorId, hidden: true });
  const row = h("div", { class: "field" },
    h("label", { for: id }, label),
    hint ? h("p", { class: "hint", id: hintId }, hint) : null,
    input,
    error);
  function setError(message) {
    if (message) {
      error.textContent = message;
      error.hidden = false;
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", [hintId, errorId].filter(Boolean).join(" "));
    } else {
      error.textContent = "";
      error.hidden = true;
      input.removeAttribute("aria-invalid");
      if (hintId) input.setAttribute("aria-describedby", hintId);
      else input.removeAttribute("aria-describedby");
    }
  }
  return { row, input, setError };
}

/** An alert box for a refusal; empty and hidden until `show` is called. */
export function alertBox() {
  // Focusable, so a refusal takes the focus from the button that was busy
  // (disabled buttons drop it to the page's body).
  const box = h("div", { class: "alert", role: "alert", hidden: true, tabindex: -1 });
  return {
    el: box,
    show(...children) {
      replace(box, ...children);
      box.hidden = false;
      box.focus();
    },
    clear() {
      replace(box);
      box.hidden = true;
    },
  };
}

/**
 * A native modal dialog (focus is trapped and restored by the browser; Escape
 * closes it). `build(close)` returns the dialog's content. Resolves when closed.
 */
export function openDialog(title, build, { wide = false, large = false } = {}) {
  const titleId = uid("dialog-title");
  const size = large ? " large" : wide ? " wide" : "";
  const dialog = h("dialog", { class: `dialog${size}`, "aria-labelledby": titleId });
  const opener = document.activeElement;
  let resolve;
  const closed = new Promise((r) => { resolve = r; });
  const close = (value) => {
    if (dialog.open) dialog.close();
    dialog.remove();
    // The opener may have been redrawn meanwhile (a live update): its twin, found
    // by its label, takes the focus back.
    const label = opener && opener.getAttribute && opener.getAttribute("aria-label");
    const twin = opener && !opener.isConnected && label
      ? [...document.querySelectorAll("button")].find((b) => b.getAttribute("aria-label") === label)
      : null;
    const back = opener && opener.isConnected ? opener : twin;
    if (back && typeof back.focus === "function") back.focus();
    resolve(value);
  };
  dialog.addEventListener("cancel", (event) => {
    event.preventDefault();
    close(undefined);
  });
  const heading = h("h2", { id: titleId }, title);
  const closeButton = h("button", {
    type: "button", class: "icon-button dialog-close", "aria-label": "Close", onclick: () => close(undefined),
  }, "×");
  dialog.append(h("div", { class: "dialog-head" }, heading, closeButton));
  const body = h("div", { class: "dialog-body" });
  dialog.append(body);
  append(body, [build(close, { heading, body })]);
  document.body.append(dialog);
  dialog.showModal();
  const first = dialog.querySelector("[autofocus]") || dialog.querySelector("input, select, textarea");
  if (first) first.focus();
  return closed;
}

/** Asks a yes/no question in a dialog; resolves to true on confirmation. */
export function confirmDialog(title, message, confirmLabel, { danger = false } = {}) {
  // A harmful answer never has the focus: Enter keeps things as they are.
  return openDialog(title, (close) => h("div", {},
    h("p", {}, message),
    h("div", { class: "dialog-actions" },
      h("button", { type: "button", class: "secondary", autofocus: danger, onclick: () => close(false) }, "Keep"),
      h("button", {
        type: "button", class: danger ? "danger" : "primary", autofocus: !danger, onclick: () => close(true),
      }, confirmLabel))));
}

/** Tells the person something that needs no choice, in a dialog with one button. */
export function infoDialog(title, message) {
  return openDialog(title, (close) => h("div", {},
    h("p", {}, message),
    h("div", { class: "dialog-actions" },
      h("button", { type: "button", class: "primary", autofocus: true, onclick: () => close(true) }, "OK"))));
}

/** The green banner in the upper right, with a check mark; fades after ~3 s. */
export function toast(message) {
  const host = document.getElementById("toasts");
  const note = h("div", { class: "toast" }, h("span", { class: "check", "aria-hidden": "true" }, "✓"), h("span", {}, message));
  host.append(note);
  setTimeout(() => note.classList.add("leaving"), 2700);
  setTimeout(() => note.remove(), 3300);
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** A timestamp for people, in their own time zone. */
export function when(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : dateTime.format(d);
}

/** "12 min left", "40 s left", or null once the moment has passed. */
export function timeLeft(iso, now = Date.now()) {
  const ms = new Date(iso).getTime() - now;
  if (!(ms > 0)) return null;
  const s = Math.ceil(ms / 1000);
  if (s < 60) return `${s} s left`;
  const m = Math.ceil(s / 60);
  if (m < 120) return `${m} min left`;
  const hours = Math.round(m / 60);
  if (hours < 48) return `${hours} h left`;
  return `${Math.round(hours / 24)} days left`;
}

/** A `<time>` element showing `iso` for people. */
export function timeEl(iso) {
  return h("time", { datetime: iso }, when(iso));
}

/** Runs `fn` at most once per `ms`, after the last call. */
export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** Disables a button while `work` runs, showing `busyLabel`. */
export async function busy(button, busyLabel, work) {
  const label = button.textContent;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.textContent = busyLabel;
  try {
    return await work();
  } finally {
    button.textContent = label;
    button.removeAttribute("aria-busy");
    button.disabled = false;
  }
}
