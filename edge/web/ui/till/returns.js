// Returns against a receipt: find the sale by its receipt number, pick the lines and how much
// of each comes back, refund to the original tenders. A cashier needs a supervisor for it.

import { api, ApiError, newId } from "../common/api.js";
import { grams, money, t } from "../common/i18n.js";
import { may } from "../common/session.js";
import { $, $$, esc } from "../common/ui.js";
import { productName } from "./basket.js";
import { approvalRefused, askApproval, explain, setError, wire } from "./dialogs.js";

const dialog = () => $(".dlg-return");
let session = null;
let sale = null;
let lastId = null; // kept only when the answer was lost (offline): the retry reuses it
let result = null;

/** Open the return dialog (optionally with a receipt number already typed). */
export function openReturn(receipt = "") {
  sale = null;
  result = null;
  const form = $("form", dialog());
  form.reset();
  form.elements.receipt.value = receipt;
  setError(dialog(), "");
  renderReturn();
  dialog().showModal();
  form.elements.receipt.focus();
}

function returnLine(line) {
  const weighed = line.grams !== null && line.grams !== undefined;
  const sold = weighed ? grams(line.grams) : String(line.quantity);
  const input = weighed
    ? `<input name="back-${line.index}" data-index="${line.index}" data-grams="1"
        inputmode="numeric" value="0" aria-label="${esc(t("return.grams"))}">`
    : `<input name="back-${line.index}" data-index="${line.index}" type="number" min="0"
        max="${line.quantity}" value="0" aria-label="${esc(t("return.back"))}">`;
  return `<tr><td>${esc(productName(line))}</td><td class="num">${esc(sold)}</td>
    <td class="num">${esc(money(line.amount))}</td><td class="num back">${input}</td></tr>`;
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
  } catch (err) {
    sale = null;
    setError(dialog(), explain(err));
  }
  renderReturn();
  const first = $(".return-lines input", dialog());
  if (first) first.focus();
}

function chosenLines(form) {
  const restock = form.elements.restock.checked;
  const lines = [];
  for (const input of $$(".return-lines input", dialog())) {
    const value = Number.parseInt(input.value, 10);
    if (!Number.isInteger(value) || value <= 0) continue;
    const index = Number(input.dataset.index);
    lines.push(input.dataset.grams ? { index, grams: value, restock }
      : { index, quantity: value, restock });
  }
  return lines;
}

async function submit(form) {
  const lines = chosenLines(form);
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
  } catch (err) {
    lastId = err instanceof ApiError && err.code === "offline" ? id : null;
    setError(dialog(), approvalRefused(err) ? t("err.approval_refused") : explain(err));
  }
  renderReturn();
}

export function wireReturns(current) {
  session = current;
  wire(dialog(), (value, form) => {
    // Enter in the receipt field looks the sale up; elsewhere it sends the return
    if (value === "find" || !sale || document.activeElement === form.elements.receipt) {
      find(form);
    } else if (!result) submit(form);
  });
}
