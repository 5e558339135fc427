// Stock counts (盘点): a supervisor starts a count of a category or the whole store; anyone who
// receives goods enters what they count — a scanned barcode adds one (or the quantity typed
// first), a number typed in a product's row sets it —; the supervisor finishes it, sees each
// difference against the book and posts them as one stock correction.

import { api, newId } from "../common/api.js";
import { dateTime, t } from "../common/i18n.js";
import { may } from "../common/session.js";
import { $, $$, esc, toast } from "../common/ui.js";
import { confirmDialog, field, input, oops, openDialog, readText, select } from "./forms.js";
import { amountOf } from "./stock.js";
import { frame, tableHtml } from "./tables.js";

const nameOf = (product, id) => (product ? product[t("name.field")] || product.name_zh : id);

function scopeText(scope, categories) {
  if (!scope || scope.all) return t("count.whole_store");
  const category = categories.find((c) => c.id === scope.category);
  return category ? category[t("name.field")] || category.name_zh : scope.category;
}

/** Start a count (category or the whole store); resolve its id or null. */
function startCount(categories) {
  const id = newId();
  const nameField = t("name.field");
  return openDialog({
    id: "start-count",
    title: "count.start_title",
    submit: "count.start",
    body: `${field("category", "col.category", select("category", [["", t("count.whole_store")],
      ...categories.map((c) => [c.id, c[nameField] || c.name_zh])], "", { raw: true }))}
      ${field("note", "stock.note", input("note", "", { maxlength: 200 }))}`,
    onSubmit: async (form) => {
      await api("POST", "/api/v1/counts", {
        id, category: form.elements.category.value || null, note: readText(form, "note"),
      });
      return id;
    },
  });
}

/** The difference table of a count (counted against the book when counting began). */
function differencesHtml(lines, products) {
  const rows = lines.map((line) => {
    const product = products.get(line.product);
    return {
      product: line.product,
      name: nameOf(product, line.product),
      book: amountOf(product, line.book),
      counted: amountOf(product, line.counted),
      variance: `${line.variance > 0 ? "+" : ""}${amountOf(product, line.variance)}`,
      raw: line.variance,
    };
  });
  return tableHtml(["product", "name", "book", "counted", "variance"], rows, null,
    { key: "product" });
}

/** Review the differences and post the count; resolve the posted result or null. */
async function finishCount(countId, products) {
  const state = await api("GET", `/api/v1/counts/${countId}`);
  return openDialog({
    id: "finish-count",
    title: "count.finish_title",
    submit: "count.post",
    wide: true,
    body: `<p class="muted">${esc(t("count.review", {
      counted: state.counted, products: state.products }))}</p>
      <div class="differences">${differencesHtml(state.lines, products)}</div>
      ${state.not_counted.length ? field("uncounted", "count.uncounted", select("uncounted", [
        ["keep", "count.uncounted_keep"], ["zero", "count.uncounted_zero"]], "keep"),
        { hint: "count.uncounted_hint" }) : ""}`,
    onSubmit: async (form) => {
      const uncounted = form.elements.uncounted ? form.elements.uncounted.value : "keep";
      return api("POST", `/api/v1/counts/${countId}/post`, { uncounted });
    },
  });
}

/** The counting view of one open count. */
async function counting(body, countId, ctx) {
  const { session, products, categories, back } = ctx;
  const canClose = may(session, "stock.adjust");
  const listed = (await api("GET", "/api/v1/counts?status=open")).counts
    .find((c) => c.count === countId);
  body.innerHTML = `<div class="count-view" data-count="${esc(countId)}">
    <p class="count-head"><strong>${esc(t("count.of", {
      scope: scopeText(listed && listed.scope, categories) }))}</strong>
      <span class="muted">${esc(listed ? t("count.opened", {
        at: dateTime(listed.opened_at), by: listed.opened_by || "–" }) : "")}</span>
      <span class="badge count-progress"></span></p>
    <form class="row count-scan" autocomplete="off">
      ${field("quantity", "count.quantity", input("quantity", "", { inputmode: "numeric",
        maxlength: 9, placeholder: "1" }), { hint: "count.quantity_hint" })}
      ${field("code", "count.code", input("code", "", { spellcheck: "false", maxlength: 48,
        "data-i18n-placeholder": "count.code_hint", placeholder: t("count.code_hint") }))}
      <button type="submit" class="primary">${esc(t("count.add"))}</button>
    </form>
    <p class="count-last" role="status"></p>
    <div class="count-lines"></div>
    <div class="row toolbar">
      <button type="button" class="back">${esc(t("count.back"))}</button>
      ${canClose ? `<button type="button" class="primary finish">${esc(t("count.finish"))}</button>
      <button type="button" class="danger cancel-count">${esc(t("count.cancel"))}</button>` : ""}
    </div></div>`;
  const form = $("form.count-scan", body);
  const status = $(".count-last", body);
  let state = null;
  async function refresh() {
    state = await api("GET", `/api/v1/counts/${countId}`);
    const focused = document.activeElement && document.activeElement.dataset
      ? document.activeElement.dataset.product : undefined;
    const counted = new Map(state.lines.map((line) => [line.product, line.counted]));
    const ids = [...counted.keys(), ...state.not_counted].sort();
    $(".count-progress", body).textContent = t("count.progress", {
      counted: state.counted, products: state.products });
    $(".count-lines", body).innerHTML = `<div class="table-wrap"><table><thead><tr>
      <th>${esc(t("col.product"))}</th><th>${esc(t("col.name"))}</th>
      <th class="num">${esc(t("count.counted"))}</th></tr></thead><tbody>${ids.map((id) => {
        const product = products.get(id);
        const value = counted.has(id) ? counted.get(id) : "";
        return `<tr data-key="${esc(id)}" class="${counted.has(id) ? "counted" : ""}">
          <td>${esc(id)}</td><td>${esc(nameOf(product, id))}${product && product.sold_by_weight
            ? ` <span class="muted">(${esc(t("stock.in_grams"))})</span>` : ""}</td>
          <td class="num"><input name="set-${esc(id)}" data-product="${esc(id)}" value="${
            esc(value)}" inputmode="numeric" maxlength="9" aria-label="${
            esc(t("count.counted_of", { name: nameOf(product, id) }))}"></td></tr>`;
      }).join("")}</tbody></table></div>`;
    if (focused) {
      const again = $(`input[data-product="${CSS.escape(focused)}"]`, body);
      if (again) again.focus();
    }
  }
  async function enter(item, mode) {
    try {
      await api("POST", `/api/v1/counts/${countId}/entries`, { mode, items: [item] });
      await refresh();
      const id = item.product || state.lines.map((l) => l.product)
        .find((p) => (products.get(p)?.barcodes || []).some((b) =>
          b.replace(/^0+/, "") === String(item.code).replace(/^0+/, "")));
      const line = state.lines.find((l) => l.product === id);
      status.className = "count-last ok";
      status.textContent = line ? t("count.now", {
        name: nameOf(products.get(id), id), counted: amountOf(products.get(id), line.counted) })
        : t("count.entered");
    } catch (err) {
      status.className = "count-last bad";
      status.textContent = explainCount(err);
    }
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const code = form.elements.code.value.trim();
    const text = form.elements.quantity.value.trim();
    form.elements.code.value = "";
    form.elements.quantity.value = "";
    form.elements.code.focus();
    if (!code) return;
    if (text && !/^\d+$/.test(text)) {
      status.className = "count-last bad";
      status.textContent = t("stock.bad_quantity");
      return;
    }
    const inCount = state && (state.lines.some((l) => l.product === code)
      || state.not_counted.includes(code));
    const item = inCount ? { product: code, quantity: text ? Number(text) : 1 } : { code };
    if (!inCount && text) item.quantity = Number(text);
    enter(item, "add");
  });
  const view = $(".count-view", body);
  // a number typed in a product's row is what was counted of it (Enter or leaving the field)
  view.addEventListener("change", (event) => {
    const box = event.target.closest("input[data-product]");
    if (!box || !box.value.trim()) return;
    if (!/^\d+$/.test(box.value.trim())) {
      status.className = "count-last bad";
      status.textContent = t("stock.bad_quantity");
      return;
    }
    enter({ product: box.dataset.product, quantity: Number(box.value.trim()) }, "set");
  });
  view.addEventListener("keydown", (event) => {
    const box = event.target.closest("input[data-product]");
    if (!box || event.key !== "Enter") return;
    event.preventDefault();
    const rows = $$("input[data-product]", view);
    const next = rows[rows.indexOf(box) + 1];
    (next || form.elements.code).focus();
  });
  $(".back", body).addEventListener("click", back);
  if (canClose) {
    $(".finish", body).addEventListener("click", async () => {
      try {
        const posted = await finishCount(countId, products);
        if (!posted) return;
        toast(t("count.posted"));
        body.innerHTML = `<div class="count-done" data-count="${esc(countId)}">
          <h2>${esc(t("count.differences"))}</h2>
          ${differencesHtml(posted.variances, products)}
          <div class="row toolbar"><button type="button" class="back">${
            esc(t("count.back"))}</button></div></div>`;
        for (const row of $$("tbody tr", body)) {
          const line = posted.variances.find((v) => v.product === row.dataset.key);
          const cellEl = $("[data-col=variance]", row);
          if (line && line.variance) cellEl.classList.add(line.variance < 0 ? "bad" : "warn");
        }
        $(".back", body).addEventListener("click", back);
        $(".back", body).focus();
      } catch (err) {
        oops(err);
      }
    });
    $(".cancel-count", body).addEventListener("click", async () => {
      if (!await confirmDialog("cancel-count", "count.cancel_title", "count.cancel_question")) {
        return;
      }
      try {
        await api("POST", `/api/v1/counts/${countId}/cancel`);
        back();
      } catch (err) {
        oops(err);
      }
    });
  }
  await refresh();
  form.elements.code.focus();
}

const EXPLAINED = new Set(["unknown_barcode", "not_in_count", "count_closed", "unknown_count",
  "inactive_product"]);

function explainCount(err) {
  if (err && EXPLAINED.has(err.code)) return t(`err.${err.code}`);
  if (err && err.code === "offline") return t("error.offline");
  return t("error.refused", { message: (err && err.message) || String(err) });
}

/** The counts screen: open counts to continue, recent ones, and starting a new one. */
export async function counts(main, today, session) {
  const canStart = may(session, "stock.adjust");
  const body = frame(main, "count", canStart ? `<div class="row toolbar"><button type="button"
    class="start-count">${esc(t("count.start_button"))}</button></div>` : "");
  const [catalog, categories] = await Promise.all([
    api("GET", "/api/v1/products?limit=500"), api("GET", "/api/v1/categories"),
  ]);
  const products = new Map(catalog.products.map((p) => [p.id, p]));
  const ctx = { session, products, categories: categories.categories, back: () => list() };
  async function list() {
    const { counts: recent } = await api("GET", "/api/v1/counts?limit=20");
    const rows = recent.map((c) => ({
      count: c.count, scope: scopeText(c.scope, ctx.categories),
      status: t(`count.status.${c.status}`), opened_at: dateTime(c.opened_at),
      opened_by: c.opened_by, progress: `${c.counted} / ${c.products}`, note: c.note,
      open: c.status === "open",
    }));
    body.innerHTML = tableHtml(["scope", "status", "opened_at", "opened_by", "progress", "note"],
      rows, null, {
        key: "count",
        actions: (row) => (row.open ? `<button type="button" class="small primary" data-open="${
          esc(row.count)}">${esc(t("count.continue"))}</button>` : ""),
      });
    const first = $("button[data-open]", body);
    if (first) first.focus();
  }
  body.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-open]");
    if (button) counting(body, button.dataset.open, ctx).catch(oops);
  });
  if (canStart) {
    $(".start-count", main).addEventListener("click", async () => {
      try {
        const id = await startCount(ctx.categories);
        if (id) await counting(body, id, ctx);
      } catch (err) {
        oops(err);
      }
    });
  }
  await list();
}
