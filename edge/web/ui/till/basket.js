// The basket: what was scanned (never prices), priced by the server after every change.
// Changes run one after another; a change the server refuses is rolled back whole.

import { api } from "../common/api.js";
import { getLocale, grams, money, t } from "../common/i18n.js";
import { $, esc, toast } from "../common/ui.js";
import { explain } from "./dialogs.js";

export const basket = {
  lines: [], // [{code}|{product}, quantity?, grams?, scale?, discount?, override?]
  member: null, // {id, name, phone, tier, points, stored_value}
  coupons: [],
  discount: null, // basket discount {percent_bp|amount, reason}
  approval: null, // "STAFF:PIN" of the supervisor who allowed discounts and price overrides
  priced: null, // the server's answer to the last change
  selected: -1, // the line a line discount applies to
};

let queue = Promise.resolve();

/** Return a product's name in the cashier's language. */
export function productName(item) {
  return getLocale() === "en" ? item.name_en || item.name_zh : item.name_zh || item.name_en;
}

/** Return the permissions the basket's manual discounts and price overrides need. */
export function approvalsNeeded() {
  const needs = [];
  if (basket.discount || basket.lines.some((line) => line.discount)) needs.push("discount.manual");
  if (basket.lines.some((line) => line.override)) needs.push("price.override");
  return needs;
}

/** Return the basket as the API takes it (POST /baskets/price, /sales, /baskets/suspended). */
export function basketBody() {
  const body = { lines: basket.lines.map((line) => ({ ...line })) };
  if (basket.member) body.member = basket.member.id;
  if (basket.coupons.length) body.coupons = [...basket.coupons];
  if (basket.discount) body.discount = { ...basket.discount };
  return body;
}

function snapshot() {
  return JSON.stringify({
    lines: basket.lines, member: basket.member, coupons: basket.coupons,
    discount: basket.discount, approval: basket.approval, selected: basket.selected,
  });
}

function restore(saved) {
  Object.assign(basket, JSON.parse(saved));
}

/**
 * Apply `mutate` to the basket and price it on the server, one change at a time. When the
 * server refuses, the basket goes back to what it was and the reason is shown.
 */
export function change(mutate) {
  const run = async () => {
    const saved = snapshot();
    mutate(basket);
    try {
      await price();
      return true;
    } catch (err) {
      restore(saved);
      toast(explain(err), "bad");
      return false;
    } finally {
      render();
    }
  };
  queue = queue.then(run, run);
  return queue;
}

/** Ask the server for the basket's prices; a line weighed on the scale keeps that weight. */
async function price() {
  if (!basket.lines.length) {
    basket.priced = null;
    return;
  }
  const priced = await api("POST", "/api/v1/baskets/price", basketBody());
  // the scale weighed once: freeze the grams it gave, so a later change does not reweigh
  basket.lines.forEach((line, index) => {
    if (line.scale) {
      delete line.scale;
      line.grams = priced.lines[index].grams;
    }
  });
  basket.priced = priced;
}

/** Empty the basket (after a sale, a suspend or when the cashier cancels it). */
export function clearBasket() {
  Object.assign(basket, {
    lines: [], member: null, coupons: [], discount: null, approval: null, priced: null,
    selected: -1,
  });
  render();
}

/** Add a piece line ({code} or {product}), or more of the line with the same code or id. */
export function addPieces(key, quantity = 1) {
  return change((b) => {
    const same = b.lines.findIndex((line) => !line.grams && !line.scale && !line.discount
      && !line.override && (key.code ? line.code === key.code : line.product === key.product));
    if (same >= 0) {
      b.lines[same].quantity = (b.lines[same].quantity || 1) + quantity;
      b.selected = same;
    } else {
      b.lines.push(quantity > 1 ? { ...key, quantity } : { ...key });
      b.selected = b.lines.length - 1;
    }
  });
}

/** Add a line the server prices as it is (a weight or price label, a weighed product). */
export function addLine(line) {
  return change((b) => {
    b.lines.push(line);
    b.selected = b.lines.length - 1;
  });
}

export function setQuantity(index, quantity) {
  if (quantity < 1) return voidLine(index);
  return change((b) => {
    b.lines[index].quantity = Math.min(quantity, 9999);
    b.selected = index;
  });
}

export function voidLine(index) {
  return change((b) => {
    b.lines.splice(index, 1);
    b.selected = Math.min(b.selected, b.lines.length - 1);
  });
}

function discountText(discount) {
  return `${getLocale() === "en" ? discount.name_en : discount.name_zh} −${money(discount.amount)}`;
}

function lineRow(line, index) {
  const weighed = line.grams !== null && line.grams !== undefined;
  const detail = weighed
    ? `${grams(line.grams)} × ${money(line.unit_price)}/kg`
    : `${money(line.unit_price)}`;
  const discounts = line.discounts.map((d) => `<li>${esc(discountText(d))}</li>`).join("");
  const quantity = weighed
    ? `<span class="muted">${esc(grams(line.grams))}</span>`
    : `<button type="button" class="small" data-minus="${index}"
         aria-label="${esc(t("basket.less"))}">−</button>
       <span class="qty">${line.quantity}</span>
       <button type="button" class="small" data-plus="${index}"
         aria-label="${esc(t("basket.more"))}">+</button>`;
  return `<tr data-index="${index}" class="${index === basket.selected ? "selected" : ""}">
    <td><div class="name">${esc(productName(line))}</div>
      <div class="muted detail">${esc(detail)}</div>
      ${discounts ? `<ul class="discounts ok">${discounts}</ul>` : ""}</td>
    <td class="num qty-cell">${quantity}</td>
    <td class="num amount">${esc(money(line.amount))}</td>
    <td><button type="button" class="small void" data-void="${index}"
      aria-label="${esc(t("basket.void"))}" title="${esc(t("basket.void"))}">✕</button></td>
  </tr>`;
}

/** Draw the basket, the member and the totals from the last priced answer. */
export function render() {
  const priced = basket.priced;
  const lines = priced ? priced.lines : [];
  $(".lines").innerHTML = lines.map(lineRow).join("");
  $(".basket .empty").classList.toggle("hidden", lines.length > 0);
  const selected = $(".lines tr.selected");
  if (selected) selected.scrollIntoView({ block: "nearest" });
  $(".subtotal").textContent = money(priced ? priced.subtotal : 0);
  $(".discount-total").textContent = priced && priced.discount_total
    ? `−${money(priced.discount_total)}` : money(0);
  $(".tax-total").textContent = money(priced ? priced.tax_total : 0);
  $(".total").textContent = money(priced ? priced.total : 0);
  renderMember();
}

function renderMember() {
  const member = basket.member;
  $(".member-name").textContent = member ? member.name || member.id : t("member.none");
  $(".member-clear").classList.toggle("hidden", !member);
  $(".member-detail").textContent = member && member.phone
    ? t("member.detail", {
      phone: member.phone, tier: member.tier, points: member.points,
      balance: money(member.stored_value),
    })
    : "";
  const unused = (basket.priced && basket.priced.coupons_unused) || [];
  const coupons = basket.coupons.map((code) =>
    unused.includes(code) ? t("coupon.unused", { code }) : t("coupon.applied", { code }));
  if (basket.discount) coupons.push(t("discount.applied", { reason: basket.discount.reason }));
  $(".coupons").textContent = coupons.join(" · ");
}

/** Handle the −, + and ✕ buttons and row selection of the basket table. */
export function wireBasket() {
  $(".lines").addEventListener("click", (event) => {
    const button = event.target.closest("button");
    const row = event.target.closest("tr");
    if (button && button.dataset.void !== undefined) voidLine(Number(button.dataset.void));
    else if (button && button.dataset.plus !== undefined) {
      const index = Number(button.dataset.plus);
      setQuantity(index, (basket.lines[index].quantity || 1) + 1);
    } else if (button && button.dataset.minus !== undefined) {
      const index = Number(button.dataset.minus);
      setQuantity(index, (basket.lines[index].quantity || 1) - 1);
    } else if (row) {
      basket.selected = Number(row.dataset.index);
      render();
    }
  });
}
