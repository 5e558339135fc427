// Stock: levels and alerts, and for the roles that may, an adjustment with a reason (damage,
// theft, expiry, found, correction, own use) and goods received from a supplier. Items are
// found by scanning or typing a barcode, PLU or product id; weighed goods count in grams.

import { api, ApiError, newId } from "../common/api.js";
import { grams, number, t } from "../common/i18n.js";
import { may } from "../common/session.js";
import { $, esc, toast } from "../common/ui.js";
import {
  checkForm, field, fieldError, formError, input, oops, openDialog, readText, select,
} from "./forms.js";
import { frame, named, tableHtml } from "./tables.js";

const REASONS = ["damage", "theft", "expiry", "found", "correction", "own_use"];

/** Find the product a scanned or typed code names (id, PLU or barcode); null if none. */
export async function findProduct(code) {
  const text = code.trim();
  if (!text) return null;
  const { products } = await api("GET",
    `/api/v1/products?q=${encodeURIComponent(text)}&limit=20`);
  const bare = text.replace(/^0+/, "");
  return products.find((p) => p.id === text)
    || products.find((p) => p.plu && p.plu === bare)
    || products.find((p) => (p.barcodes || []).some((b) => b.replace(/^0+/, "") === bare))
    || (products.length === 1 ? products[0] : null);
}

/** Return a quantity in the product's unit: pieces, or grams shown as kg. */
export function amountOf(product, quantity) {
  return product && product.sold_by_weight ? grams(quantity) : number(quantity);
}

function itemsEditor(signed) {
  return `<div class="row items-entry">
    ${field("item_code", "stock.item_code", input("item_code", "", {
      spellcheck: "false", maxlength: 48, "data-i18n-placeholder": "stock.item_code_hint",
      placeholder: t("stock.item_code_hint") }))}
    ${field("item_quantity", signed ? "stock.item_change" : "stock.item_quantity",
      input("item_quantity", "", { inputmode: "numeric", maxlength: 9 }),
      { hint: signed ? "stock.signed_hint" : "stock.unit_hint" })}
    <button type="button" data-action="add-item" data-i18n="stock.add_item">${
      esc(t("stock.add_item"))}</button>
  </div>
  <div class="field wide" data-field="items"><table class="items">
    <thead><tr><th data-i18n="col.product">${esc(t("col.product"))}</th>
      <th data-i18n="col.name">${esc(t("col.name"))}</th>
      <th class="num" data-i18n="col.quantity">${esc(t("col.quantity"))}</th><th></th></tr></thead>
    <tbody></tbody></table><small class="field-error" role="alert"></small></div>`;
}

/** Wire an items editor; return a function that gives the items added ({product, quantity}). */
function wireItems(form, signed) {
  const items = []; // {product, quantity}
  const code = form.elements.item_code;
  const quantity = form.elements.item_quantity;
  let found = null;
  let foundFor = null; // the code `found` was looked up for
  const nameField = t("name.field");
  function render() {
    $("table.items tbody", form).innerHTML = items.map((item, index) => `<tr data-item="${
      esc(item.product.id)}"><td>${esc(item.product.id)}</td><td>${
      esc(item.product[nameField] || item.product.name_zh)}</td><td class="num">${
      esc((item.quantity > 0 && signed ? "+" : "") + amountOf(item.product, item.quantity))}</td>
      <td><button type="button" class="small" data-remove-item="${index}" aria-label="${
      esc(t("stock.remove_item"))}">✕</button></td></tr>`).join("");
  }
  function problem(name, message) {
    $(`[data-field=${name}] .field-error`, form).textContent = message;
  }
  async function resolve() {
    problem("item_code", "");
    foundFor = code.value.trim();
    found = await findProduct(foundFor);
    if (!found) {
      problem("item_code", t("stock.no_product", { code: code.value.trim() }));
      code.select();
      return false;
    }
    const unit = t(found.sold_by_weight ? "stock.in_grams" : "stock.in_pieces");
    problem("item_quantity", "");
    $("[data-field=item_quantity] small.muted", form).textContent = `${
      found[nameField] || found.name_zh} · ${unit}`;
    quantity.focus();
    return true;
  }
  async function add() {
    if (!found || foundFor !== code.value.trim()) {
      if (!await resolve()) return;
    }
    const text = quantity.value.trim();
    const value = /^[+-]?\d+$/.test(text) ? Number(text) : NaN;
    if (!Number.isInteger(value) || value === 0 || (!signed && value < 0)
      || Math.abs(value) > 10_000_000) {
      problem("item_quantity", t(signed ? "stock.bad_change" : "stock.bad_quantity"));
      quantity.select();
      return;
    }
    problem("item_quantity", "");
    problem("items", "");
    const same = items.find((item) => item.product.id === found.id);
    if (same) same.quantity += value;
    else items.push({ product: found, quantity: value });
    code.value = "";
    quantity.value = "";
    found = null;
    $("[data-field=item_quantity] small.muted", form).textContent = t(signed
      ? "stock.signed_hint" : "stock.unit_hint");
    render();
    code.focus();
  }
  code.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || !code.value.trim()) return; // empty: Enter saves the form
    event.preventDefault();
    resolve().catch((err) => problem("item_code", String(err.message || err)));
  });
  quantity.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    add().catch((err) => problem("item_quantity", String(err.message || err)));
  });
  $("[data-action=add-item]", form).addEventListener("click", () => add().catch(oops));
  $("table.items", form).addEventListener("click", (event) => {
    const button = event.target.closest("button[data-remove-item]");
    if (!button) return;
    items.splice(Number(button.dataset.removeItem), 1);
    render();
    code.focus();
  });
  return async () => {
    if (code.value.trim() && quantity.value.trim()) await add();
    if (!items.length) fieldError(form, "items", t("stock.no_items"));
    return items.filter((item) => item.quantity !== 0)
      .map((item) => ({ product: item.product.id, quantity: item.quantity }));
  };
}

/** Send a stock movement once: the same id is reused only when the answer was lost. */
function mover(path) {
  let id = newId();
  return async (body) => {
    try {
      return await api("POST", path, { id, ...body });
    } catch (err) {
      if (!(err instanceof ApiError && err.code === "offline")) id = newId();
      throw err;
    }
  };
}

/** Open the adjustment dialog; resolve the movement or null. */
export function adjustStock() {
  const send = mover("/api/v1/stock/adjustments");
  let items = null;
  return openDialog({
    id: "adjust",
    title: "stock.adjust_title",
    wide: true,
    body: `<div class="grid2-form">
      ${field("reason", "stock.reason", select("reason", REASONS.map((r) => [r, `reason.${r}`]),
        "damage"))}
      ${field("note", "stock.note", input("note", "", { maxlength: 200 }))}
    </div>${itemsEditor(true)}`,
    onOpen: (form) => {
      items = wireItems(form, true);
    },
    onSubmit: async (form) => {
      const list = await items();
      checkForm(form);
      const moved = await send({
        reason: form.elements.reason.value, note: readText(form, "note"), items: list,
      });
      toast(t("stock.adjusted", { count: list.length }));
      return moved;
    },
  });
}

/** Open the goods-received dialog; resolve the movement or null. */
export function receiveGoods() {
  const send = mover("/api/v1/stock/receipts");
  let items = null;
  return openDialog({
    id: "receive",
    title: "stock.receive_title",
    wide: true,
    body: `<div class="grid3">
      ${field("supplier", "stock.supplier", input("supplier", "", { maxlength: 60 }))}
      ${field("document", "stock.document", input("document", "", { maxlength: 60 }))}
      ${field("note", "stock.note", input("note", "", { maxlength: 200 }))}
    </div>${itemsEditor(false)}`,
    onOpen: (form) => {
      items = wireItems(form, false);
    },
    onSubmit: async (form) => {
      const list = await items();
      checkForm(form);
      if (list.some((item) => item.quantity <= 0)) {
        formError(form, t("stock.bad_quantity"));
        return false;
      }
      const moved = await send({
        supplier: readText(form, "supplier") || null,
        document: readText(form, "document") || null,
        note: readText(form, "note"),
        items: list,
      });
      toast(t("stock.received", { count: list.length }));
      return moved;
    },
  });
}

/** The stock screen: alerts, stock on hand, and the movements the role may record. */
export async function stock(main, today, session) {
  const canAdjust = may(session, "stock.adjust");
  const canReceive = may(session, "stock.receive");
  const body = frame(main, "stock", canAdjust || canReceive ? `<div class="row toolbar">
    ${canAdjust ? `<button type="button" class="adjust">${esc(t("stock.adjust_button"))}</button>`
    : ""}
    ${canReceive ? `<button type="button" class="receive">${esc(t("stock.receive_button"))}</button>`
    : ""}</div>` : "");
  async function load() {
    const [levels, alerts] = await Promise.all([
      api("GET", "/api/v1/stock"), api("GET", "/api/v1/stock/alerts"),
    ]);
    const flagged = alerts.alerts.map((a) => ({ ...a, alert: t(`stock.${a.alert}`) }));
    const units = (rows) => rows.map((row) => ({
      ...row, on_hand: row.unit === "g" ? grams(row.on_hand) : row.on_hand,
      available: row.unit === "g" ? grams(row.available) : row.available,
    }));
    body.innerHTML = `<h2>${esc(t("stock.alerts"))}</h2>
      ${tableHtml(["product", "name", "on_hand", "reorder_point", "alert", "expires"],
        named(flagged))}
      <h2>${esc(t("stock.levels"))}</h2>
      ${tableHtml(["product", "name", "on_hand", "reserved", "available"],
        units(named(levels.stock)), null, { key: "product" })}`;
  }
  async function act(run) {
    try {
      if (await run()) await load();
    } catch (err) {
      oops(err);
    }
  }
  if (canAdjust) $(".adjust", main).addEventListener("click", () => act(adjustStock));
  if (canReceive) $(".receive", main).addEventListener("click", () => act(receiveGoods));
  await load();
}
