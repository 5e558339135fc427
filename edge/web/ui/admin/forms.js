// Edit dialogs of the back office: a <dialog> with one form (Enter saves, Esc cancels), fields
// with their own error line, the server's refusals shown next to the field they name and in
// the user's language, money and store-local date/time conversions.

import { ApiError } from "../common/api.js";
import { applyI18n, parseMoney, plain, storeTimeZone, t } from "../common/i18n.js";
import { $, $$, esc, toast } from "../common/ui.js";

/** Return the HTML of one labelled field with its error line (`name` is the data-field). */
export function field(name, label, control, { hint = "", wide = false } = {}) {
  return `<div class="field${wide ? " wide" : ""}" data-field="${esc(name)}">
    <label><span data-i18n="${esc(label)}">${esc(t(label))}</span>${control}</label>
    ${hint ? `<small class="muted" data-i18n="${esc(hint)}">${esc(t(hint))}</small>` : ""}
    <small class="field-error" role="alert"></small></div>`;
}

/** Return an <input> (attributes escaped; `value` null/undefined leaves it empty). */
export function input(name, value = "", attrs = {}) {
  const extra = Object.entries(attrs).filter(([, v]) => v !== false && v !== null)
    .map(([k, v]) => (v === true ? ` ${k}` : ` ${k}="${esc(v)}"`)).join("");
  return `<input name="${esc(name)}" value="${esc(value ?? "")}"${extra}>`;
}

/** Return a checkbox row (a label around the box and its text). */
export function checkbox(name, label, checked) {
  return `<div class="field check" data-field="${esc(name)}"><label class="check">
    <input type="checkbox" name="${esc(name)}"${checked ? " checked" : ""}>
    <span data-i18n="${esc(label)}">${esc(t(label))}</span></label>
    <small class="field-error" role="alert"></small></div>`;
}

/** Return a <select> of [value, message key or text] options. */
export function select(name, options, value, { raw = false } = {}) {
  return `<select name="${esc(name)}">${options.map(([v, label]) => `<option value="${esc(v)}"${
    String(v) === String(value ?? "") ? " selected" : ""}${raw ? "" : ` data-i18n="${esc(label)}"`}>${
    esc(raw ? label : t(label))}</option>`).join("")}</select>`;
}

/** Return a money input showing `minor` in major units ("12.50"). */
export function moneyInput(name, minor, attrs = {}) {
  return input(name, minor === null || minor === undefined ? "" : plain(minor),
    { inputmode: "decimal", autocomplete: "off", ...attrs });
}

// ------------------------------------------------------------------ dialogs

/**
 * Open a modal edit dialog. `body` is the form's fields (HTML); `onSubmit(form, dialog)` saves
 * and may throw (an ApiError's fields go next to their inputs). Resolves with what onSubmit
 * returned, or null when cancelled. `onOpen(form, dialog)` wires extra behaviour.
 */
export function openDialog({ id, title, titleVars = {}, body, submit = "save", onSubmit,
  onOpen = () => {}, wide = false, extraButtons = "" }) {
  const dialog = document.createElement("dialog");
  dialog.className = `edit-dialog${wide ? " wide" : ""}`;
  dialog.dataset.dialog = id;
  dialog.innerHTML = `<form class="edit-form" autocomplete="off" novalidate>
    <h2>${esc(t(title, titleVars))}</h2>
    <div class="form-body">${body}</div>
    <p class="form-error" role="alert"></p>
    <div class="row end">${extraButtons}
      <button type="button" value="cancel" data-i18n="cancel">${esc(t("cancel"))}</button>
      <button type="submit" class="primary" data-i18n="${esc(submit)}">${esc(t(submit))}</button>
    </div></form>`;
  document.body.append(dialog);
  const form = $("form", dialog);
  return new Promise((resolve) => {
    let result = null;
    let busy = false;
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(result);
    });
    $("button[value=cancel]", dialog).addEventListener("click", () => dialog.close());
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (busy) return;
      busy = true;
      clearErrors(form);
      const button = $("button[type=submit]", form);
      button.disabled = true;
      try {
        result = await onSubmit(form, dialog);
        if (result !== undefined && result !== false) dialog.close();
        else result = null;
      } catch (err) {
        showErrors(form, err);
      } finally {
        busy = false;
        button.disabled = false;
      }
    });
    onOpen(form, dialog);
    dialog.showModal();
    const first = $$("input:not([type=hidden]):not([readonly]):not([disabled]), select, textarea",
      form)[0];
    (first || $("button[type=submit]", form)).focus(); // a question: Enter answers yes
  });
}

/** Ask a yes/no question in a small dialog; resolve true when confirmed. */
export async function confirmDialog(id, title, message, vars = {}, yes = "ok") {
  const answer = await openDialog({
    id, title, titleVars: vars, submit: yes,
    body: `<p class="confirm-text">${esc(t(message, vars))}</p>`,
    onSubmit: () => true,
  });
  return answer === true;
}

// ------------------------------------------------------------------ errors

/** Remove every error shown in the form. */
export function clearErrors(form) {
  for (const line of $$(".field-error", form)) line.textContent = "";
  for (const el of $$("[aria-invalid]", form)) el.removeAttribute("aria-invalid");
  const top = $(".form-error", form.closest("dialog") || form);
  if (top) top.textContent = "";
}

/** Show a message next to the field `name` (the form's own check or the server's). */
export function fieldError(form, name, message) {
  const box = $(`[data-field="${CSS.escape(name)}"]`, form);
  if (!box) return false;
  const line = $(".field-error", box);
  line.textContent = line.textContent ? `${line.textContent} ${message}` : message;
  for (const control of $$("input, select, textarea", box)) {
    control.setAttribute("aria-invalid", "true");
  }
  return true;
}

/** Show a message for the whole form. */
export function formError(form, message) {
  const top = $(".form-error", form.closest("dialog") || form);
  if (top) top.textContent = message;
}

// a server problem text -> a message key with the values it carries
const PROBLEMS = [
  [/^is required$/, "problem.required"],
  [/^must be between (-?\d+) and (-?\d+)$/, "problem.range", ["min", "max"]],
  [/^must be an integer from (-?\d+) to (-?\d+)$/, "problem.range", ["min", "max"]],
  [/^must be an integer$/, "problem.integer"],
  [/^must have at most (\d+) characters$/, "problem.too_long", ["max"]],
  [/^must not exceed list_price$/, "problem.member_price_high"],
  [/^(?:PLU )?(\S+) already belongs to (\S+)$/, "problem.taken", ["value", "owner"]],
  [/^unknown category (\S+)$/, "problem.unknown_category", ["value"]],
  [/^must be 1-5 digits$/, "problem.plu"],
  [/^must be after starts_at$/, "problem.after_start"],
  [/^must differ from time_from$/, "problem.same_time"],
  [/^is required for (\w+)$/, "problem.required"],
  [/^must be 1-40 letters, digits/, "problem.id"],
  [/^must be 1-32 letters, digits/, "problem.code"],
  [/^is for pieces; goods sold by weight are weighed$/, "problem.unit_grams_weighed"],
  [/^does not match/, "problem.format"],
  [/check digit/, "problem.check_digit"],
  [/cannot be a product barcode/, "problem.barcode"],
  [/^a member needs a phone number or a card number$/, "problem.phone_or_card"],
  [/^must be one of/, "problem.choice"],
];

/** Return a server's problem with a field in the user's language. */
export function problemText(problem) {
  for (const [pattern, key, names = []] of PROBLEMS) {
    const match = pattern.exec(problem);
    if (!match) continue;
    const vars = Object.fromEntries(names.map((name, i) => [name, match[i + 1]]));
    if (key === "problem.range") {
      vars.min = Number(vars.min).toLocaleString();
      vars.max = Number(vars.max).toLocaleString();
    }
    return t(key, vars);
  }
  return t("problem.other", { problem });
}

/** Return the form field a server path names: "$.window.ends_at" -> "ends_at", "barcodes[1]". */
export function fieldOf(path) {
  const plainPath = String(path).replace(/^\$\.?/, "").replace(/^query\./, "");
  return plainPath.replace(/\[\d+\]/g, "").split(".").pop();
}

// error codes with their own sentence in the catalogs (err.<code>)
const EXPLAINED = new Set([
  "unknown_barcode", "approval_required", "approval_refused", "forbidden", "unknown_product",
  "unknown_category", "unknown_staff", "unknown_member", "member_conflict", "badge_conflict",
  "weak_pin", "bad_pin", "pin_required", "count_closed", "not_in_count", "unknown_count",
  "id_reused", "bad_rota", "out_of_stock", "sign_in_required", "unauthorized", "not_found",
  "inactive_product", "till_closed",
]);

/** Return an API error as one sentence in the user's language. */
export function explain(err) {
  if (err instanceof ApiError) {
    if (err.code === "offline") return t("error.offline");
    if (EXPLAINED.has(err.code)) return t(`err.${err.code}`);
    if (err.status === 403) return t("err.forbidden");
    return t("error.refused", { message: err.message });
  }
  return String((err && err.message) || err);
}

/** Show an API error outside a form as a toast, in the user's language. */
export function oops(err) {
  toast(explain(err), "bad");
}

/** Show an error in the form: each field problem next to its field, the rest on top. */
export function showErrors(form, err) {
  if (!(err instanceof ApiError)) {
    formError(form, String((err && err.message) || err));
    return;
  }
  const left = [];
  for (const { path, problem } of err.fields || []) {
    if (!fieldError(form, fieldOf(path), problemText(problem))) left.push(problemText(problem));
  }
  if (!(err.fields || []).length) formError(form, explain(err));
  else if (left.length) formError(form, left.join(" "));
  else formError(form, t("form.fix"));
}

/** Thrown by a form's own checks: the messages are already next to the fields. */
export class Invalid extends Error {
  constructor() {
    super(t("form.fix"));
  }
}

// ------------------------------------------------------------------ reading values

/** Read a money field: minor units, null when empty and optional; marks the field if wrong. */
export function readMoney(form, name, { required = false } = {}) {
  const text = form.elements[name].value.trim();
  if (!text) {
    if (required) fieldError(form, name, t("problem.required"));
    return required ? NaN : null;
  }
  const value = parseMoney(text);
  if (!Number.isFinite(value)) fieldError(form, name, t("problem.money"));
  return value;
}

/** Read a whole-number field (null when empty and optional); marks the field if wrong. */
export function readInt(form, name, { required = false, min = 0, max = 10_000_000 } = {}) {
  const text = form.elements[name].value.trim();
  if (!text) {
    if (required) fieldError(form, name, t("problem.required"));
    return required ? NaN : null;
  }
  const value = /^-?\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(value) || value < min || value > max) {
    fieldError(form, name, t("problem.range", {
      min: min.toLocaleString(), max: max.toLocaleString(),
    }));
    return NaN;
  }
  return value;
}

/** Read a required text field; marks it when empty. */
export function readText(form, name, { required = false } = {}) {
  const value = form.elements[name].value.trim();
  if (required && !value) fieldError(form, name, t("problem.required"));
  return value;
}

/** Throw Invalid when any field of the form shows an error. */
export function checkForm(form) {
  if ($$(".field-error", form).some((line) => line.textContent)) throw new Invalid();
}

/** Translate a freshly built piece of the page. */
export function translate(root) {
  applyI18n(root);
}

// ------------------------------------------------------------------ the store's clock

const pad = (n) => String(n).padStart(2, "0");

function offsetMinutes(utcMs) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: storeTimeZone(), hourCycle: "h23", year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(new Date(utcMs));
  const get = (type) => Number(parts.find((p) => p.type === type).value);
  const asUtc = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"),
    get("second"));
  return Math.round((asUtc - Math.floor(utcMs / 1000) * 1000) / 60000);
}

/** Turn a store-local "YYYY-MM-DDTHH:MM" into ISO 8601 with the store's UTC offset. */
export function storeIso(local) {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(local);
  if (!match) return null;
  const [, y, m, d, h, mi] = match.map(Number);
  const wall = Date.UTC(y, m - 1, d, h, mi);
  let offset = offsetMinutes(wall);
  offset = offsetMinutes(wall - offset * 60000);
  const sign = offset >= 0 ? "+" : "-";
  const abs = Math.abs(offset);
  return `${match[0]}:00${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** Turn an ISO 8601 moment into the store-local "YYYY-MM-DDTHH:MM" a datetime input shows. */
export function storeLocal(iso) {
  if (!iso) return "";
  const utc = Date.parse(iso);
  if (Number.isNaN(utc)) return "";
  return new Date(utc + offsetMinutes(utc) * 60000).toISOString().slice(0, 16);
}

/** Return the store-local "YYYY-MM-DDTHH:MM" of now. */
export function storeNow() {
  return storeLocal(new Date().toISOString());
}
