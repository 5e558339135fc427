// Small helpers every UI uses: element lookup, toasts, dialogs, escaping.

import { t } from "./i18n.js";

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

/** Escape text for use inside innerHTML. */
export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) =>
    ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

let toastTimer = null;

/** Show a short message at the bottom of the screen (`kind` "bad" for errors). */
export function toast(text, kind = "") {
  let el = $(".toast");
  if (!el) {
    el = document.createElement("div");
    el.setAttribute("role", "status");
    document.body.append(el);
  }
  el.className = `toast ${kind}`;
  el.textContent = text;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.remove(), 4000);
}

/** Show an API error as a toast in the user's language. */
export function showError(err) {
  if (err && err.code === "offline") toast(t("error.offline"), "bad");
  else toast(t("error.refused", { message: err && err.message ? err.message : String(err) }), "bad");
}
