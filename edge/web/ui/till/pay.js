// Payment: tenders typed one after another (cash handed over, the rest by card or QR, a
// member's stored value or points, a voucher by its code), the sale sent once they cover the
// total, then the change, the receipt number, the e-receipt QR and the printer's progress.

import { api, ApiError, newId } from "../common/api.js";
import { money, parseMoney, plain, storeTimeZone, t } from "../common/i18n.js";
import { may } from "../common/session.js";
import { $, esc, toast } from "../common/ui.js";
import { approvalsNeeded, basket, basketBody, clearBasket } from "./basket.js";
import { approvalRefused, askApproval, explain, setError, wire } from "./dialogs.js";

const payDialog = () => $(".dlg-pay");
const doneDialog = () => $(".dlg-done");
let tenders = []; // [{kind, amount}]; cash is one tender: what the shopper handed over
let attempt = null; // {id, body}: a sale whose answer was lost is retried with the same id
let sending = false;
let shown = null; // the sale on the done screen
let printWatch = 0;
let session = null;

/** Tell whether the basket needs a supervisor the cashier's role does not replace. */
function needsSupervisor() {
  return approvalsNeeded().some((permission) => !may(session, permission));
}

function total() {
  return basket.priced ? basket.priced.total : 0;
}

function remaining() {
  return Math.max(0, total() - tenders.reduce((sum, tender) => sum + tender.amount, 0));
}

function renderPay() {
  const dialog = payDialog();
  $(".pay-total", dialog).textContent = money(total());
  $(".pay-remaining", dialog).textContent = money(remaining());
  $(".tenders", dialog).innerHTML = tenders.map((tender) =>
    `<li class="row between" data-kind="${esc(tender.kind)}"><span>${
      esc(t(`tender.${tender.kind}`))}${tender.code ? ` ${esc(tender.code)}` : ""}</span>
      <span>${esc(money(tender.amount))}</span></li>`).join("");
  const member = basket.member;
  $(".sv", dialog).classList.toggle("hidden", !(member && member.stored_value > 0));
  $(".points", dialog).classList.toggle("hidden", !(member && member.points > 0));
  const input = $(".pay-amount", dialog);
  input.value = plain(remaining());
  input.select();
}

/** Open the payment dialog for the priced basket (a resumed discount is approved first). */
export async function openPay() {
  if (!basket.priced || !basket.lines.length) {
    toast(t("pay.empty"), "bad");
    return;
  }
  if (needsSupervisor() && !basket.approval) {
    basket.approval = await askApproval(t("approval.basket"));
    if (!basket.approval) return;
  }
  tenders = [];
  $(".voucher-row", payDialog()).classList.add("hidden");
  setError(payDialog(), "");
  payDialog().showModal();
  renderPay();
}

/** Add the typed amount as a tender of `kind`; send the sale once the total is covered. */
function tender(kind, form) {
  const dialog = payDialog();
  setError(dialog, "");
  const amount = parseMoney(form.elements.amount.value);
  if (!Number.isFinite(amount) || amount <= 0) {
    setError(dialog, t("pay.bad_amount"));
    return;
  }
  const due = remaining();
  if (kind === "cash") {
    // cash may be more than is due (change); several cash amounts are one tender
    const cash = tenders.find((x) => x.kind === "cash");
    if (cash) cash.amount += amount;
    else tenders.push({ kind, amount });
    if (amount >= due) return send();
  } else {
    const paid = Math.min(amount, due);
    if (paid <= 0) return send();
    const same = tenders.find((x) => x.kind === kind);
    if (same) same.amount += paid;
    else tenders.push({ kind, amount: paid });
    if (paid === due) return send();
  }
  renderPay();
}

function saleBody() {
  // non-cash first: cash last makes the order on the receipt read naturally
  const ordered = [...tenders.filter((x) => x.kind !== "cash"),
    ...tenders.filter((x) => x.kind === "cash")];
  return {
    ...basketBody(),
    tenders: ordered.map((x) => (x.code ? { kind: x.kind, amount: x.amount, code: x.code }
      : { kind: x.kind, amount: x.amount })),
  };
}

/** Send the sale (idempotent by its id); ask for a supervisor when the discounts need one. */
async function send() {
  if (sending) return;
  sending = true;
  const body = saleBody();
  const text = JSON.stringify(body);
  if (!attempt || attempt.text !== text) attempt = { id: newId(), text };
  try {
    const sale = await postSale({ id: attempt.id, ...body });
    attempt = null;
    payDialog().close("paid");
    clearBasket();
    showDone(sale);
  } catch (err) {
    // a lost answer keeps the id for the retry; anything else starts the tenders again
    if (!(err instanceof ApiError && err.code === "offline")) attempt = null;
    tenders = [];
    renderPay();
    setError(payDialog(), explain(err));
  } finally {
    sending = false;
  }
}

async function postSale(body) {
  try {
    return await api("POST", "/api/v1/sales", body, { approval: basket.approval });
  } catch (err) {
    if (!approvalRefused(err) || !approvalsNeeded().length) throw err;
    const approval = await askApproval(t("approval.basket"));
    if (!approval) throw err;
    basket.approval = approval;
    return api("POST", "/api/v1/sales", body, { approval });
  }
}

/** Show the voucher code field (a voucher's barcode can be scanned into it). */
function askVoucher() {
  const row = $(".voucher-row", payDialog());
  row.classList.remove("hidden");
  const input = $("input[name=voucher]", row);
  input.value = "";
  input.focus();
}

/** Check a voucher and add it as a tender: at most its value, never more than is due. */
async function addVoucher() {
  const dialog = payDialog();
  const input = $("input[name=voucher]", dialog);
  const code = input.value.trim().toUpperCase();
  setError(dialog, "");
  if (!code) return;
  if (tenders.some((x) => x.kind === "coupon" && x.code === code)) {
    setError(dialog, t("err.voucher_used"));
    return;
  }
  let voucher;
  try {
    voucher = await api("GET", `/api/v1/vouchers/${encodeURIComponent(code)}`);
  } catch (err) {
    setError(dialog, explain(err));
    input.select();
    return;
  }
  const today = new Intl.DateTimeFormat("en-CA", { timeZone: storeTimeZone() }).format(new Date());
  let problem = "";
  if (voucher.used_by_sale) problem = "err.voucher_used";
  else if ((voucher.valid_from && today < voucher.valid_from)
    || (voucher.valid_to && today > voucher.valid_to)) problem = "err.voucher_expired";
  else if (voucher.member && (!basket.member || basket.member.id !== voucher.member)) {
    problem = "err.voucher_not_yours";
  }
  if (problem) {
    setError(dialog, t(problem));
    input.select();
    return;
  }
  const paid = Math.min(voucher.amount, remaining());
  if (paid <= 0) return;
  tenders.push({ kind: "coupon", code: voucher.code, amount: paid });
  $(".voucher-row", dialog).classList.add("hidden");
  if (remaining() === 0) {
    send();
    return;
  }
  renderPay();
}

/** Show the finished sale: change, receipt number, e-receipt QR, printing state. */
function showDone(sale) {
  shown = sale;
  const dialog = doneDialog();
  $(".change", dialog).textContent = money(sale.change || 0);
  $(".receipt-no", dialog).textContent = sale.receipt;
  $(".done-total", dialog).textContent = money(sale.total);
  $(".qr-img", dialog).src = `/api/v1/sales/${encodeURIComponent(sale.id)}/qr.svg`;
  dialog.showModal();
  $(".next", dialog).focus();
  watchPrint({ sale: sale.id });
}

function printState(state) {
  const badge = $(".print-state", doneDialog());
  badge.dataset.state = state;
  badge.className = `print-state badge ${{ printed: "ok", failed: "bad", none: "warn" }[state] || ""}`;
  badge.textContent = t(`print.${state}`);
}

/** Follow the receipt's print job until the printer answers (the server queued it). */
async function watchPrint(match) {
  const watch = ++printWatch;
  printState("pending");
  for (let tries = 0; tries < 60 && watch === printWatch; tries += 1) {
    try {
      const { jobs } = await api("GET", "/api/v1/print-jobs");
      const job = jobs.find((j) => (match.job ? j.job === match.job : j.sale === match.sale));
      if (job && job.state !== "pending") {
        printState(job.state === "printed" ? "printed" : "failed");
        return;
      }
      if (!job && tries >= 10) break; // no printer at this till
    } catch {
      /* keep trying: the server may be busy */
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  if (watch === printWatch) printState("none");
}

async function reprint() {
  if (!shown) return;
  try {
    const job = await api("POST", `/api/v1/sales/${encodeURIComponent(shown.id)}/print`,
      { reprint: true });
    watchPrint({ job: job.job });
  } catch (err) {
    toast(explain(err), "bad");
  }
}

/** Re-draw the open payment and done screens after a language change. */
export function renderPayment() {
  if (payDialog().open) renderPay();
  if (doneDialog().open && shown) {
    $(".change", doneDialog()).textContent = money(shown.change || 0);
    $(".done-total", doneDialog()).textContent = money(shown.total);
    printState($(".print-state", doneDialog()).dataset.state || "pending");
  }
}

export function wirePay(current) {
  session = current;
  wire(payDialog(), (value, form) => {
    if (value === "clear") {
      tenders = [];
      setError(payDialog(), "");
      renderPay();
    } else if (value === "coupon") {
      askVoucher();
    } else if (document.activeElement === form.elements.voucher) {
      addVoucher(); // Enter in the voucher field (its scan) adds the voucher
    } else {
      tender(value === "ok" ? "cash" : value, form);
    }
  });
  wire(doneDialog(), (value) => {
    if (value === "reprint") reprint();
    else {
      printWatch += 1;
      doneDialog().close("ok");
    }
  });
}
