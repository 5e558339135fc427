// Tables and downloads shared by the back-office screens: cells formatted by column name
// (money, percent from basis points, kilograms), CSV offered as a file download.

import { apiText } from "../common/api.js";
import { grams, money, number, t } from "../common/i18n.js";
import { esc } from "../common/ui.js";

const MONEY = new Set([
  "gross", "returned", "net", "discounts", "tax", "average_ticket", "taken", "refunded",
  "amount", "revenue", "cost", "margin", "value", "sold_cost", "commission", "list_price",
  "member_price", "suggested_price", "total",
]);
const PERCENT = new Set(["share_bp", "margin_bp", "turnover_bp", "rate_bp", "commission_bp"]);
const TEXT = new Set(["date", "product", "name_zh", "name_en", "category", "kind", "promotion",
  "staff", "id", "type", "till", "state", "alert", "lot", "expires", "status", "role",
  "customer", "label", "model", "paper", "brand", "severity", "device", "text", "owner",
  "contact", "note", "name", "phone", "tier", "tax_class", "created", "last_seen",
  "locked_until", "active", "offer", "window", "coupon_code", "scope", "opened_at",
  "opened_by", "progress", "unit", "reason", "card_no", "birthday", "staff_name"]);

/** Draw a list screen's frame: its title, a toolbar (HTML) and an empty body to fill. */
export function frame(main, id, toolbar = "") {
  main.innerHTML = `<section class="screen" data-screen="${esc(id)}">
    <h1>${esc(t(`nav.${id}`))}</h1>${toolbar}<div class="screen-body"></div></section>`;
  return main.querySelector(".screen-body");
}

/** Give each row a `name` in the user's language (name_zh / name_en, else its id). */
export function named(rows) {
  const field = t("name.field");
  return rows.map((row) => ({ ...row, name: row[field] || row.name || row.name_zh || row.id }));
}

/** Format one cell by its column name. */
export function cell(column, value) {
  if (value === null || value === undefined || value === "") return "–";
  if (MONEY.has(column)) return money(value);
  if (PERCENT.has(column)) return `${number(value / 100, 2)}%`;
  if (column === "grams") return value ? grams(value) : "–";
  if (column === "hour") return `${String(value).padStart(2, "0")}:00`;
  if (typeof value === "number") return number(value);
  if (typeof value === "boolean") return t(value ? "yes" : "no");
  return String(value);
}

/**
 * Return the HTML of a table of `rows` over `columns` (headers from col.* messages).
 * `options.key` names the field each row carries as data-key; `options.actions(row, index)`
 * returns the HTML of a last cell of buttons.
 */
export function tableHtml(columns, rows, totals = null, options = {}) {
  const numeric = (c) => !TEXT.has(c);
  const { key, actions } = options;
  const head = columns.map((c) => `<th class="${numeric(c) ? "num" : ""}" scope="col">${
    esc(t(`col.${c}`))}</th>`).join("")
    + (actions ? `<th scope="col"><span class="sr-only">${esc(t("col.actions"))}</span></th>` : "");
  const body = rows.map((row, index) => `<tr${key ? ` data-key="${esc(row[key])}"` : ""}>${
    columns.map((c) =>
      `<td class="${numeric(c) ? "num" : ""}" data-col="${esc(c)}">${esc(cell(c, row[c]))}</td>`)
      .join("")}${actions ? `<td class="actions-cell">${actions(row, index)}</td>` : ""}</tr>`)
    .join("");
  let foot = "";
  if (totals) {
    foot = `<tfoot><tr>${columns.map((c, i) => {
      if (i === 0) return `<th scope="row">${esc(t("total"))}</th>`;
      return `<td class="num" data-col="${esc(c)}">${
        c in totals ? esc(cell(c, totals[c])) : ""}</td>`;
    }).join("")}${actions ? "<td></td>" : ""}</tr></tfoot>`;
  }
  const empty = rows.length ? "" : `<p class="muted" data-i18n="empty">${esc(t("empty"))}</p>`;
  return `<div class="table-wrap"><table><thead><tr>${head}</tr></thead>
    <tbody>${body}</tbody>${foot}</table>${empty}</div>`;
}

/** Offer `text` as a downloaded file (a blob: URL on an <a download>). */
export function offerDownload(text, filename, type = "text/csv") {
  const url = URL.createObjectURL(new Blob([text], { type: `${type};charset=utf-8` }));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  link.className = "hidden";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Fetch a CSV route and offer it as a file. */
export async function downloadCsv(path, filename) {
  offerDownload(await apiText(path), filename);
}

/** Render rows as CSV text (header of column names; the same raw figures the API gives). */
export function toCsv(columns, rows) {
  const quote = (v) => {
    const s = v === null || v === undefined ? "" : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [columns, ...rows.map((r) => columns.map((c) => r[c]))]
    .map((line) => line.map(quote).join(",")).join("\r\n") + "\r\n";
}
