// Promotions and coupons: the list with each one's state (running, scheduled, ended, off) and,
// for a role with promotion.write, creating one of the kinds the engine knows (a coupon is a
// promotion the shopper unlocks with its code) in a window of dates, weekdays and hours of the
// store's own clock, and ending one now.

import { api } from "../common/api.js";
import { money, number, t } from "../common/i18n.js";
import { may } from "../common/session.js";
import { $, $$, esc, toast } from "../common/ui.js";
import {
  checkbox, checkForm, confirmDialog, field, fieldError, input, Invalid, moneyInput, oops,
  openDialog, readInt, readMoney, readText, select, storeIso, storeLocal,
} from "./forms.js";
import { frame, named, tableHtml } from "./tables.js";

const KINDS = ["percent_off", "amount_off", "multi_buy", "buy_n_get_m", "spend_save",
  "basket_percent"];
// kind -> the parameter fields its form shows (percent in %, money in major units)
const PARAMETERS = {
  percent_off: ["percent"],
  amount_off: ["amount"],
  multi_buy: ["quantity", "price"],
  buy_n_get_m: ["buy", "get", "percent"],
  spend_save: ["threshold", "amount", "repeat"],
  basket_percent: ["percent", "threshold"],
};
const WEEKDAYS = [1, 2, 3, 4, 5, 6, 7];
const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/;
const CODE = /^[A-Za-z0-9_-]{1,32}$/;

/** Return a promotion's state now: running, scheduled, ended or off. */
export function stateOf(promotion, now = Date.now()) {
  const window = promotion.window || {};
  if (!promotion.active) return "off";
  if (window.ends_at && Date.parse(window.ends_at) <= now) return "ended";
  if (window.starts_at && Date.parse(window.starts_at) > now) return "scheduled";
  return "running";
}

/** Describe what a promotion gives, in the user's language. */
function offer(p) {
  const percent = (bp) => number(bp / 100, 2);
  switch (p.kind) {
    case "percent_off": return t("offer.percent_off", { percent: percent(p.percent_bp) });
    case "amount_off": return t("offer.amount_off", { amount: money(p.amount) });
    case "multi_buy": return t("offer.multi_buy", { quantity: p.quantity, price: money(p.price) });
    case "buy_n_get_m": return t("offer.buy_n_get_m", {
      buy: p.buy, get: p.get, percent: percent(p.percent_bp ?? 10_000) });
    case "spend_save": return t(p.repeat ? "offer.spend_save_repeat" : "offer.spend_save", {
      threshold: money(p.threshold), amount: money(p.amount) });
    case "basket_percent": return t("offer.basket_percent", {
      percent: percent(p.percent_bp), threshold: money(p.threshold || 0) });
    default: return p.kind;
  }
}

function windowText(p) {
  const w = p.window || {};
  const parts = [];
  const when = (iso) => storeLocal(iso).replace("T", " ");
  if (w.starts_at || w.ends_at) {
    parts.push(`${w.starts_at ? when(w.starts_at) : "…"} → ${w.ends_at ? when(w.ends_at) : "…"}`);
  }
  if ((w.weekdays || []).length) parts.push(w.weekdays.map((d) => t(`weekday.${d}`)).join(""));
  if (w.time_from || w.time_to) parts.push(`${w.time_from || "00:00"}-${w.time_to || "24:00"}`);
  return parts.join(" · ") || t("promotion.always");
}

function promotionForm(coupon, categories) {
  const nameField = t("name.field");
  const params = `<div class="grid3 params">
    ${field("percent", "promotion.percent", input("percent", "", { inputmode: "decimal" }),
      { hint: "promotion.percent_hint" })}
    ${field("amount", "promotion.amount", moneyInput("amount", null))}
    ${field("quantity", "promotion.quantity", input("quantity", "", { inputmode: "numeric" }))}
    ${field("price", "promotion.price", moneyInput("price", null))}
    ${field("buy", "promotion.buy", input("buy", "", { inputmode: "numeric" }))}
    ${field("get", "promotion.get", input("get", "", { inputmode: "numeric" }))}
    ${field("threshold", "promotion.threshold", moneyInput("threshold", null))}
    ${checkbox("repeat", "promotion.repeat", false)}
  </div>`;
  return `<div class="grid3">
    ${field("id", "col.id", input("id", "", { required: true, maxlength: 40,
      spellcheck: "false" }))}
    ${field("name_zh", "col.name_zh", input("name_zh", "", { required: true, maxlength: 80 }))}
    ${field("name_en", "col.name_en", input("name_en", "", { maxlength: 80 }))}
    ${field("kind", "col.kind", select("kind", KINDS.map((k) => [k, `kind.${k}`]),
      coupon ? "spend_save" : "percent_off"))}
    ${field("coupon_code", "col.coupon_code", input("coupon_code", "", {
      maxlength: 32, spellcheck: "false", required: coupon, autocapitalize: "characters" }),
      { hint: coupon ? "promotion.code_hint" : "promotion.code_optional" })}
    ${field("priority", "promotion.priority", input("priority", "0", { inputmode: "numeric" }))}
  </div>
  ${params}
  <fieldset class="scope"><legend data-i18n="promotion.scope">${esc(t("promotion.scope"))}</legend>
    ${field("products", "promotion.products", input("products", "", { spellcheck: "false" }),
      { hint: "promotion.products_hint", wide: true })}
    <div class="field" data-field="categories"><span class="muted" data-i18n="promotion.categories">${
      esc(t("promotion.categories"))}</span><div class="row">${categories.map((c) =>
      `<label class="check"><input type="checkbox" name="category" value="${esc(c.id)}">
        <span>${esc(c[nameField] || c.name_zh)}</span></label>`).join("")}</div>
      <small class="field-error" role="alert"></small></div>
  </fieldset>
  <fieldset class="window"><legend data-i18n="promotion.window">${esc(t("promotion.window"))}</legend>
    <div class="grid4">
      ${field("starts_at", "promotion.starts_at", input("starts_at", "", { type: "datetime-local" }))}
      ${field("ends_at", "promotion.ends_at", input("ends_at", "", { type: "datetime-local" }))}
      ${field("time_from", "promotion.time_from", input("time_from", "", { type: "time" }))}
      ${field("time_to", "promotion.time_to", input("time_to", "", { type: "time" }),
        { hint: "promotion.time_hint" })}
    </div>
    <div class="field" data-field="weekdays"><span class="muted" data-i18n="promotion.weekdays">${
      esc(t("promotion.weekdays"))}</span><div class="row">${WEEKDAYS.map((d) =>
      `<label class="check"><input type="checkbox" name="weekday" value="${d}">
        <span data-i18n="weekday.${d}">${esc(t(`weekday.${d}`))}</span></label>`).join("")}</div>
      <small class="field-error" role="alert"></small></div>
  </fieldset>
  <div class="row checks">
    ${checkbox("members_only", "promotion.members_only", false)}
    ${checkbox("exclusive", "promotion.exclusive", false)}
  </div>`;
}

function showParameters(form) {
  const wanted = PARAMETERS[form.elements.kind.value] || [];
  for (const box of $$(".params [data-field]", form)) {
    box.classList.toggle("hidden", !wanted.includes(box.dataset.field));
  }
}

function readPercent(form, name, { required }) {
  const text = form.elements[name].value.trim().replace(",", ".");
  if (!text) {
    if (required) fieldError(form, name, t("problem.required"));
    return null;
  }
  const value = Number(text);
  if (!/^\d+(\.\d{1,2})?$/.test(text) || value <= 0 || value > 100) {
    fieldError(form, name, t("problem.percent"));
    return null;
  }
  return Math.round(value * 100);
}

/** Read the promotion form into an API body (throws Invalid with the fields marked). */
function readPromotion(form, coupon) {
  const id = readText(form, "id", { required: true });
  if (id && !ID.test(id)) fieldError(form, "id", t("problem.id"));
  const nameZh = readText(form, "name_zh", { required: true });
  const kind = form.elements.kind.value;
  const wanted = PARAMETERS[kind];
  const code = readText(form, "coupon_code", { required: coupon }).toUpperCase();
  if (code && !CODE.test(code)) fieldError(form, "coupon_code", t("problem.code"));
  const body = {
    id, name_zh: nameZh, name_en: readText(form, "name_en") || nameZh, kind,
    priority: readInt(form, "priority", { min: -1000, max: 1000 }) ?? 0,
    members_only: form.elements.members_only.checked,
    exclusive: form.elements.exclusive.checked,
    coupon_code: code || null,
  };
  const has = (name) => wanted.includes(name);
  if (has("percent")) {
    body.percent_bp = readPercent(form, "percent", { required: kind !== "buy_n_get_m" });
  }
  if (has("amount")) body.amount = readMoney(form, "amount", { required: true });
  if (has("price")) body.price = readMoney(form, "price", { required: true });
  if (has("threshold")) {
    body.threshold = readMoney(form, "threshold", { required: kind === "spend_save" });
  }
  for (const name of ["quantity", "buy", "get"]) {
    if (has(name)) body[name] = readInt(form, name, { required: true, min: 1, max: 9999 });
  }
  if (has("repeat")) body.repeat = form.elements.repeat.checked;
  for (const [name, value] of Object.entries(body)) {
    if (value === null && ["percent_bp", "threshold"].includes(name)) delete body[name];
  }
  const products = readText(form, "products").split(/[\s,，]+/).filter(Boolean);
  if (products.some((p) => !ID.test(p))) fieldError(form, "products", t("problem.id"));
  const categories = $$("input[name=category]:checked", form).map((box) => box.value);
  body.scope = { products, categories };
  const startsAt = form.elements.starts_at.value;
  const endsAt = form.elements.ends_at.value;
  if (startsAt && endsAt && endsAt <= startsAt) fieldError(form, "ends_at", t("problem.after_start"));
  const timeFrom = form.elements.time_from.value || null;
  const timeTo = form.elements.time_to.value || null;
  if (timeFrom && timeFrom === timeTo) fieldError(form, "time_to", t("problem.same_time"));
  body.window = {
    starts_at: startsAt ? storeIso(startsAt) : null,
    ends_at: endsAt ? storeIso(endsAt) : null,
    weekdays: $$("input[name=weekday]:checked", form).map((box) => Number(box.value)),
    time_from: timeFrom,
    time_to: timeTo,
  };
  checkForm(form);
  return body;
}

/** Open the create dialog (a coupon when `coupon`); resolve the saved id or null. */
export function createPromotion(coupon, categories, known) {
  return openDialog({
    id: coupon ? "coupon" : "promotion",
    title: coupon ? "coupon.new" : "promotion.new",
    wide: true,
    body: promotionForm(coupon, categories),
    onOpen: (form) => {
      form.elements.kind.addEventListener("change", () => showParameters(form));
      showParameters(form);
    },
    onSubmit: async (form) => {
      const body = readPromotion(form, coupon);
      if (known.some((p) => p.id === body.id)) {
        fieldError(form, "id", t("problem.id_taken", { id: body.id }));
        throw new Invalid();
      }
      if (body.coupon_code && known.some((p) => p.coupon_code === body.coupon_code
        && stateOf(p) !== "ended" && stateOf(p) !== "off")) {
        fieldError(form, "coupon_code", t("problem.code_taken", { code: body.coupon_code }));
        throw new Invalid();
      }
      await api("PUT", `/api/v1/promotions/${encodeURIComponent(body.id)}`, body);
      toast(t("promotion.saved", { id: body.id }));
      return body.id;
    },
  });
}

/** End a promotion now: its window closes at this minute (a scheduled one is switched off). */
export async function endPromotion(promotion) {
  const name = promotion[t("name.field")] || promotion.name_zh;
  if (!await confirmDialog("end-promotion", "promotion.end_title", "promotion.end_question",
    { name }, "promotion.end")) return null;
  const now = new Date().toISOString();
  const body = { ...promotion };
  const window = { ...(promotion.window || {}) };
  if (stateOf(promotion) === "scheduled") body.active = false;
  else window.ends_at = storeIso(storeLocal(now));
  if (window.starts_at && window.ends_at && window.ends_at <= window.starts_at) body.active = false;
  body.window = window;
  await api("PUT", `/api/v1/promotions/${encodeURIComponent(promotion.id)}`, body);
  toast(t("promotion.ended", { name }));
  return promotion.id;
}

/** The promotions screen: every promotion and coupon, and the changes the role may make. */
export async function promotions(main, today, session) {
  const canWrite = may(session, "promotion.write");
  const body = frame(main, "promotions", canWrite ? `<div class="row toolbar">
    <button type="button" class="new-promotion">${esc(t("promotion.new_button"))}</button>
    <button type="button" class="new-coupon">${esc(t("coupon.new_button"))}</button></div>` : "");
  let shown = [];
  let categories = [];
  async function load() {
    shown = (await api("GET", "/api/v1/promotions")).promotions;
    const rows = named(shown).map((p) => ({
      ...p,
      kind: t(`kind.${p.kind}`),
      offer: offer(p),
      coupon_code: p.coupon_code,
      window: windowText(p),
      status: t(`promotion.state.${stateOf(p)}`),
    }));
    body.innerHTML = tableHtml(["id", "name", "kind", "offer", "coupon_code", "window", "status"],
      rows, null, {
        key: "id",
        actions: canWrite ? (p) => (["running", "scheduled"].includes(stateOf(shown.find(
          (x) => x.id === p.id))) ? `<button type="button" class="small" data-end="${esc(p.id)}">${
          esc(t("promotion.end"))}</button>` : "") : null,
      });
    for (const row of $$("tbody tr", body)) {
      const state = stateOf(shown.find((p) => p.id === row.dataset.key));
      row.dataset.state = state;
      $("[data-col=status]", row).classList.add(state === "running" ? "ok" : "muted");
    }
  }
  async function act(run) {
    try {
      if (await run()) await load();
    } catch (err) {
      oops(err);
    }
  }
  if (canWrite) {
    categories = (await api("GET", "/api/v1/categories")).categories;
    $(".new-promotion", main).addEventListener("click", () =>
      act(() => createPromotion(false, categories, shown)));
    $(".new-coupon", main).addEventListener("click", () =>
      act(() => createPromotion(true, categories, shown)));
    body.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-end]");
      const promotion = button && shown.find((p) => p.id === button.dataset.end);
      if (promotion) act(() => endPromotion(promotion));
    });
  }
  await load();
}

