// Products and prices: the list (search by name, id, PLU or barcode) and, for a role with
// catalog.write, creating and editing a product and quick price changes. Every save is a whole
// product (PUT /api/v1/products/{id}); the server checks it and names the fields it refuses.

import { api } from "../common/api.js";
import { money, t } from "../common/i18n.js";
import { may } from "../common/session.js";
import { $, esc, toast } from "../common/ui.js";
import {
  checkbox, checkForm, field, fieldError, input, Invalid, moneyInput, oops, openDialog, readInt,
  readMoney, readText, select,
} from "./forms.js";
import { frame, named, tableHtml } from "./tables.js";

const UNITS = ["pcs", "kg", "g", "box", "pack", "bottle", "bag", "each"];
const BASE_TAX_CLASSES = ["standard", "reduced", "zero"];
const PRODUCT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/;

/** Return the categories as select options (none first). */
function categoryOptions(categories) {
  const field = t("name.field");
  return [["", t("product.no_category")],
    ...categories.map((c) => [c.id, `${c[field] || c.name_zh} (${c.id})`])];
}

function barcodeItem(code) {
  return `<li data-code="${esc(code)}"><code>${esc(code)}</code>
    <button type="button" class="small" data-remove-code="${esc(code)}"
      aria-label="${esc(t("product.barcode_remove", { code }))}">✕</button></li>`;
}

function productForm(product, categories, taxClasses) {
  const p = product || { unit: "pcs", tax_class: "standard", active: true, barcodes: [],
    pack_size: 1 };
  return `<div class="grid3">
    ${field("id", "col.id", input("id", p.id, {
      required: true, maxlength: 40, spellcheck: "false", readonly: !!product,
    }))}
    ${field("name_zh", "col.name_zh", input("name_zh", p.name_zh, { required: true, maxlength: 120 }))}
    ${field("name_en", "col.name_en", input("name_en", p.name_en, { maxlength: 120 }))}
    ${field("category", "col.category", select("category", categoryOptions(categories),
      p.category || "", { raw: true }))}
    ${field("brand", "col.brand", input("brand", p.brand, { maxlength: 120 }))}
    ${field("unit", "col.unit", select("unit", UNITS.map((u) => [u, `unit.${u}`]), p.unit))}
    ${field("tax_class", "col.tax_class", `${input("tax_class", p.tax_class, {
      list: "tax-classes", maxlength: 20, spellcheck: "false" })}<datalist id="tax-classes">${
      taxClasses.map((c) => `<option value="${esc(c)}">`).join("")}</datalist>`)}
    ${field("cost", "col.cost", moneyInput("cost", p.cost))}
    ${field("list_price", "col.list_price", moneyInput("list_price", p.list_price,
      { required: true }), { hint: "product.per_kg_hint" })}
    ${field("member_price", "col.member_price", moneyInput("member_price", p.member_price))}
    ${field("plu", "col.plu", input("plu", p.plu, { inputmode: "numeric", maxlength: 5 }))}
    ${field("unit_grams", "col.unit_grams", input("unit_grams", p.unit_grams,
      { inputmode: "numeric", maxlength: 6 }), { hint: "product.unit_grams_hint" })}
    ${field("reorder_point", "col.reorder_point", input("reorder_point", p.reorder_point,
      { inputmode: "numeric", maxlength: 8 }))}
    ${field("pack_size", "col.pack_size", input("pack_size", p.pack_size,
      { inputmode: "numeric", maxlength: 8 }))}
  </div>
  <div class="row checks">
    ${checkbox("sold_by_weight", "col.sold_by_weight", p.sold_by_weight)}
    ${checkbox("age_restricted", "col.age_restricted", p.age_restricted)}
    ${checkbox("active", "col.active", p.active !== false)}
  </div>
  ${field("barcodes", "col.barcodes", `<span class="row">
      ${input("barcode_new", "", { inputmode: "numeric", maxlength: 48, spellcheck: "false",
        "data-i18n-placeholder": "product.barcode_placeholder",
        placeholder: t("product.barcode_placeholder") })}
      <button type="button" data-action="add-barcode" data-i18n="product.barcode_add">${
        esc(t("product.barcode_add"))}</button></span>`, { wide: true })}
  <ul class="barcode-list">${(p.barcodes || []).map(barcodeItem).join("")}</ul>`;
}

function wireBarcodes(form) {
  const list = $(".barcode-list", form);
  const entry = form.elements.barcode_new;
  function add() {
    const code = entry.value.trim();
    entry.value = "";
    entry.focus();
    if (!code) return;
    const box = $("[data-field=barcodes] .field-error", form);
    box.textContent = "";
    if (code.length > 48 || /\s/.test(code)) {
      box.textContent = t("problem.barcode");
      return;
    }
    const known = [...list.children].map((li) => li.dataset.code.replace(/^0+/, ""));
    if (known.includes(code.replace(/^0+/, ""))) return;
    list.insertAdjacentHTML("beforeend", barcodeItem(code));
  }
  // a scanner types the code and Enter: that adds the code, it does not save the form
  entry.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    add();
  });
  $("[data-action=add-barcode]", form).addEventListener("click", add);
  list.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-remove-code]");
    if (!button) return;
    const next = button.closest("li").nextElementSibling || button.closest("li")
      .previousElementSibling;
    button.closest("li").remove();
    (next ? $("button", next) : entry).focus();
  });
  const byWeight = form.elements.sold_by_weight;
  const sync = () => {
    form.elements.unit_grams.disabled = byWeight.checked;
    if (byWeight.checked) form.elements.unit_grams.value = "";
  };
  byWeight.addEventListener("change", () => {
    sync();
    if (byWeight.checked && form.elements.unit.value === "pcs") form.elements.unit.value = "kg";
    if (!byWeight.checked && form.elements.unit.value === "kg") form.elements.unit.value = "pcs";
  });
  sync();
}

/** Read the product form into an API body (throws Invalid with the fields marked). */
function readProduct(form, product) {
  const id = readText(form, "id", { required: true });
  if (id && !PRODUCT_ID.test(id)) fieldError(form, "id", t("problem.id"));
  const nameZh = readText(form, "name_zh", { required: true });
  const listPrice = readMoney(form, "list_price", { required: true });
  const cost = readMoney(form, "cost");
  const memberPrice = readMoney(form, "member_price");
  if (Number.isFinite(memberPrice) && memberPrice !== null && Number.isFinite(listPrice)
    && memberPrice > listPrice) {
    fieldError(form, "member_price", t("problem.member_price_high"));
  }
  const plu = readText(form, "plu");
  if (plu && !/^\d{1,5}$/.test(plu)) fieldError(form, "plu", t("problem.plu"));
  const byWeight = form.elements.sold_by_weight.checked;
  const unitGrams = byWeight ? null : readInt(form, "unit_grams", { min: 1, max: 100_000 });
  const reorder = readInt(form, "reorder_point", { min: 0, max: 10_000_000 });
  const pack = readInt(form, "pack_size", { min: 1, max: 10_000_000 });
  checkForm(form);
  const barcodes = [...$(".barcode-list", form).children].map((li) => li.dataset.code);
  return {
    ...(product || {}),
    id,
    name_zh: nameZh,
    name_en: readText(form, "name_en") || nameZh,
    category: form.elements.category.value || null,
    brand: readText(form, "brand"),
    unit: form.elements.unit.value,
    tax_class: readText(form, "tax_class") || "standard",
    cost: cost ?? 0,
    list_price: listPrice,
    member_price: memberPrice,
    sold_by_weight: byWeight,
    age_restricted: form.elements.age_restricted.checked,
    active: form.elements.active.checked,
    plu: plu || null,
    unit_grams: unitGrams,
    barcodes,
    reorder_point: reorder,
    pack_size: pack ?? 1,
  };
}

/** Tell whether a product id is taken (a search, so a free id costs no error answer). */
async function taken(id) {
  const found = await api("GET", `/api/v1/products?q=${encodeURIComponent(id)}&limit=50`);
  return found.products.some((p) => p.id === id);
}

/** Open the create (product null) or edit dialog; resolve the saved id or null. */
export async function editProduct(product, { categories, taxClasses }) {
  const fresh = product
    ? await api("GET", `/api/v1/products/${encodeURIComponent(product.id)}`) : null;
  return openDialog({
    id: "product",
    title: fresh ? "product.edit" : "product.new",
    titleVars: { id: fresh ? fresh.id : "" },
    wide: true,
    body: productForm(fresh, categories, taxClasses),
    onOpen: (form) => wireBarcodes(form),
    onSubmit: async (form) => {
      const body = readProduct(form, fresh);
      if (!fresh && await taken(body.id)) {
        fieldError(form, "id", t("problem.id_taken", { id: body.id }));
        throw new Invalid();
      }
      const saved = await api("PUT", `/api/v1/products/${encodeURIComponent(body.id)}`, body);
      toast(t(`product.${saved.outcome}`, { id: body.id }));
      return body.id;
    },
  });
}

/** Open the quick price change of one product; resolve its id or null. */
export async function changePrice(product) {
  const fresh = await api("GET", `/api/v1/products/${encodeURIComponent(product.id)}`);
  const perKg = fresh.sold_by_weight ? "/kg" : "";
  return openDialog({
    id: "price",
    title: "price.title",
    titleVars: { name: fresh[t("name.field")] || fresh.name_zh },
    body: `<p class="muted price-now">${esc(t("price.now", {
      list: money(fresh.list_price) + perKg,
      member: fresh.member_price === null ? "–" : money(fresh.member_price) + perKg,
    }))}</p>
    <div class="grid2-form">
      ${field("list_price", "col.list_price", moneyInput("list_price", fresh.list_price,
        { required: true }))}
      ${field("member_price", "col.member_price", moneyInput("member_price",
        fresh.member_price), { hint: "price.member_hint" })}
    </div>`,
    onSubmit: async (form) => {
      const listPrice = readMoney(form, "list_price", { required: true });
      const memberPrice = readMoney(form, "member_price");
      if (memberPrice !== null && Number.isFinite(memberPrice) && memberPrice > listPrice) {
        fieldError(form, "member_price", t("problem.member_price_high"));
      }
      checkForm(form);
      const body = { ...fresh, list_price: listPrice, member_price: memberPrice };
      await api("PUT", `/api/v1/products/${encodeURIComponent(fresh.id)}`, body);
      toast(t("price.changed", {
        id: fresh.id, before: money(fresh.list_price), after: money(listPrice),
      }));
      return fresh.id;
    },
  });
}

/** The products screen: search, list, and the edits the role may make. */
export async function products(main, today, session) {
  const canWrite = may(session, "catalog.write");
  const body = frame(main, "products", `<form class="row search">
    <input name="q" type="search" data-i18n-placeholder="search" placeholder="${esc(t("search"))}"
      aria-label="${esc(t("search"))}">
    <button class="primary" type="submit">${esc(t("search"))}</button>
    ${canWrite ? `<button type="button" class="new-product">${esc(t("product.new_button"))}</button>`
    : ""}</form>`);
  let shown = [];
  let categories = [];
  let query = "";
  async function load() {
    const data = await api("GET",
      `/api/v1/products?limit=200${query ? `&q=${encodeURIComponent(query)}` : ""}`);
    shown = data.products;
    body.innerHTML = tableHtml(
      ["id", "name", "category", "unit", "list_price", "member_price", "cost", "tax_class",
        "active"],
      named(shown).map((p) => ({ ...p, unit: t(`unit.${p.unit}`) })), null, {
        key: "id",
        actions: canWrite ? (p) => `<button type="button" class="small" data-edit="${esc(p.id)}">${
          esc(t("product.edit_button"))}</button>
          <button type="button" class="small" data-price="${esc(p.id)}">${
          esc(t("price.button"))}</button>` : null,
      });
  }
  const context = () => ({
    categories,
    taxClasses: [...new Set([...BASE_TAX_CLASSES, ...shown.map((p) => p.tax_class)])],
  });
  async function act(run) {
    try {
      const saved = await run();
      if (saved) {
        await load();
        const row = $(`tr[data-key="${CSS.escape(saved)}"] button`, body);
        if (row) row.focus();
      }
    } catch (err) {
      oops(err);
    }
  }
  $("form.search", main).addEventListener("submit", (event) => {
    event.preventDefault();
    query = $("[name=q]", main).value.trim();
    load().catch(oops);
  });
  if (canWrite) {
    categories = (await api("GET", "/api/v1/categories")).categories;
    $(".new-product", main).addEventListener("click", () =>
      act(() => editProduct(null, context())));
    body.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-edit], button[data-price]");
      if (!button) return;
      const product = shown.find((p) => p.id === (button.dataset.edit || button.dataset.price));
      if (!product) return;
      act(() => (button.dataset.edit ? editProduct(product, context()) : changePrice(product)));
    });
  }
  await load();
}
