// Returns against a receipt: find the sale by its receipt number, see what already came back
// of each line, pick how much more comes back (never more than is left: refused here before
// the server would), refund to the original tenders. A cashier needs a supervisor for it.

import { api, ApiError, newId } from "../common/api.js";
import { grams, money, t } from "../common/i18n.js";
import { may } from "../common/session.js";
import { $, $$, esc } from "../common/ui.js";
import { productName } from "./basket.js";
import { approvalRefused, askApproval, explain, setError, wire } from "./dialogs.js";

const dialog = () => $(".dlg-return");
let session = null;
let sale = null;
let returned = new Map(); // line index -> {returned_quantity, returned_grams, left}
let lastId = null; // kept only when the answer was lost (offline): the retry reuses it
let result = null;

/** Open the return dialog (optionally with a receipt number already typed). */
export function openReturn(receipt = "") {
  sale = null;
  returned = new Map();
  result = null;
  const form = $("form", dialog());
  form.reset();
  form.elements.receipt.value = receipt;
  setError(dialog(), "");
  renderReturn();
  dialog().showModal();
  form.elements.receipt.focus();
}

/** Return how much of a line may still come back (pieces, or grams when weighed). */
function leftOf(line) {
  const weighed = line.grams !== null && line.grams !== undefined;
  const known = returned.get(line.index);
  return known ? known.left : weighed ? line.grams : line.quantity;
}

function returnLine(line) {
  const weighed = line.grams !== null && line.grams !== undefined;
  const sold = weighed ? grams(line.grams) : String(line.quantity);
  const known = returned.get(line.index);
  const back = known ? (weighed ? known.returned_grams : known.returned_quantity) : 0;
  const left = leftOf(line);
  const input = weighed
    ? `<input name="back-${line.index}" data-index="${line.index}" data-grams="1"
        data-left="${left}" inputmode="numeric" value="0" ${left ? "" : "disabled"}
        aria-label="${esc(t("return.grams"))}">`
    : `<input name="back-${line.index}" data-index="${line.index}" type="number" min="0"
        max="${left}" data-left="${left}" value="0" ${left ? "" : "disabled"}
        aria-label="${esc(t("return.back"))}">`;
  return `<tr data-line="${line.index}" class="${left ? "" : "done"}"><td>${
    esc(productName(line))}</td><td class="num">${esc(sold)}</td>
    <td class="num returned">${back ? esc(weighed ? grams(back) : String(back)) : "–"}</td>
    <td class="num">${esc(money(line.amount))}</td><td class="num back">${input}
    <div class="muted left">${esc(left ? t("return.left", {
      left: weighed ? grams(left) : String(left) }) : t("return.all_back"))}</div></td></tr>`;
}

/** Draw the found sale, the lines to pick and the result (also after a language change). */
export function renderReturn() {
  const box = $(".return-sale", dialog());
  box.classList.toggle("hidden", !sale);
  $(".submit", dialog()).classList.toggle("hidden", !sale || !!result);
  if (sale) {
    $(".return-head", dialog()).textContent = t("return.head", {
      receipt: sale.receipt, total: money(sale.total), items: sale.lines.length,
    });
    const typed = Object.fromEntries($$(".return-lines input", dialog())
      .map((input) => [input.name, input.value]));
    $(".return-lines", dialog()).innerHTML = sale.lines.map(returnLine).join("");
    for (const input of $$(".return-lines input", dialog())) {
      if (typed[input.name] !== undefined) input.value = typed[input.name];
    }
  }
  $(".return-result", dialog()).textContent = result
    ? t("return.done", {
      amount: money(result.amount), receipt: result.receipt,
      tenders: (result.refunds || []).map((r) => `${t(`tender.${r.kind}`)} ${money(r.amount)}`)
        .join(", "),
    })
    : "";
}

async function find(form) {
  const receipt = form.elements.receipt.value.trim();
  if (!receipt) return;
  setError(dialog(), "");
  result = null;
  try {
    sale = await api("GET", `/api/v1/receipts/${encodeURIComponent(receipt)}`);
    await loadReturned();
  } catch (err) {
    sale = null;
    setError(dialog(), explain(err));
  }
  renderReturn();
  const first = $(".return-lines input", dialog());
  if (first) first.focus();
}

/** Ask the server what came back of each line so far. */
async function loadReturned() {
  const { lines } = await api("GET", `/api/v1/sales/${encodeURIComponent(sale.id)}/returns`);
  returned = new Map(lines.map((line) => [line.index, line]));
}

/** Read the quantities to return; null (with the reason shown) when one is more than is left. */
function chosenLines(form) {
  const restock = form.elements.restock.checked;
  const lines = [];
  let refused = null;
  for (const input of $$(".return-lines input", dialog())) {
    const text = input.value.trim();
    const value = /^\d+$/.test(text) ? Number(text) : NaN;
    input.removeAttribute("aria-invalid");
    if (text === "" || value === 0) continue;
    const index = Number(input.dataset.index);
    const left = Number(input.dataset.left);
    if (!Number.isInteger(value) || value > left) {
      input.setAttribute("aria-invalid", "true");
      const line = sale.lines.find((l) => l.index === index);
      refused = refused || t(left ? "return.too_many" : "return.nothing_left", {
        name: productName(line), left: input.dataset.grams ? grams(left) : String(left),
      });
      continue;
    }
    lines.push(input.dataset.grams ? { index, grams: value, restock }
      : { index, quantity: value, restock });
  }
  if (refused) {
    setError(dialog(), refused);
    const bad = $(".return-lines input[aria-invalid]", dialog());
    if (bad) bad.select();
    return null;
  }
  return lines;
}

async function submit(form) {
  const lines = chosenLines(form);
  if (!lines) return;
  if (!lines.length) {
    setError(dialog(), t("return.nothing"));
    return;
  }
  setError(dialog(), "");
  let approval;
  if (!may(session, "sale.return")) {
    approval = await askApproval(t("approval.return"));
    if (!approval) return;
  }
  const id = lastId || newId();
  const body = { id, receipt: sale.receipt, lines, reason: form.elements.reason.value.trim() };
  try {
    result = await api("POST", "/api/v1/returns", body, { approval });
    lastId = null;
    await loadReturned().catch(() => {});
  } catch (err) {
    lastId = err instanceof ApiError && err.code === "offline" ? id : null;
    setError(dialog(), approvalRefused(err) ? t("err.approval_refused") : explain(err));
  }
  renderReturn();
}

export function wireReturns(current) {
  session = current;
  // more than is left is marked as it is typed
  $(".return-lines", dialog()).addEventListener("input", (event) => {
    const input = event.target.closest("input[data-left]");
    if (!input) return;
    const value = Number(input.value);
    const over = input.value.trim() !== "" && !(value <= Number(input.dataset.left));
    input.toggleAttribute("aria-invalid", over);
    const line = sale && sale.lines.find((l) => l.index === Number(input.dataset.index));
    const left = Number(input.dataset.left);
    setError(dialog(), over && line ? t("return.too_many", {
      name: productName(line), left: input.dataset.grams ? grams(left) : String(left) }) : "");
  });
  wire(dialog(), (value, form) => {
    // Enter in the receipt field looks the sale up; elsewhere it sends the return
    if (value === "find" || !sale || document.activeElement === form.elements.receipt) {
      find(form);
    } else if (!result) submit(form);
  });
}
