// The till's own business: park and resume baskets, open the till with a float, the X report,
// cash in / cash out and a no-sale drawer opening with a reason (a supervisor approves for a
// cashier; the drawer opens), and the blind close (the expected cash is shown only after the
// count is recorded).

import { api, newId } from "../common/api.js";
import { money, parseMoney, t, time } from "../common/i18n.js";
import { may } from "../common/session.js";
import { $, esc, toast } from "../common/ui.js";
import { basket, basketBody, change, clearBasket } from "./basket.js";
import { approvalRefused, askApproval, explain, setError, wire } from "./dialogs.js";

let session = null;
let parked = [];
let pending = null; // open, close, cash_in, cash_out or nosale: what the till menu's form is for
let report = null; // {kind, data} last shown in the till menu

/** Park the basket on the server and start an empty one. */
export async function suspendBasket() {
  if (!basket.lines.length) {
    toast(t("pay.empty"), "bad");
    return;
  }
  const label = basket.member ? basket.member.name || basket.member.id : "";
  try {
    await api("POST", "/api/v1/baskets/suspended", { id: newId(), label, basket: basketBody() });
    clearBasket();
    toast(t("resume.parked"));
  } catch (err) {
    toast(explain(err), "bad");
  }
}

function renderParked() {
  $(".parked").innerHTML = parked.length
    ? parked.map((p, i) => `<li><button type="button" class="pick" data-pick="${i}">
        ${esc(time(p.ts))} · ${esc(p.label || p.staff || "")} ·
        ${esc(t("resume.items", { count: p.basket.lines.length }))}</button></li>`).join("")
    : `<li class="muted">${esc(t("resume.none"))}</li>`;
}

/** List this till's parked baskets to pick one. */
export async function openResume() {
  try {
    const { baskets } = await api("GET",
      `/api/v1/baskets/suspended?till=${encodeURIComponent(session.till)}`);
    parked = baskets.filter((b) => !b.resumed);
  } catch (err) {
    toast(explain(err), "bad");
    return;
  }
  renderParked();
  $(".dlg-suspended").showModal();
  const first = $(".parked button");
  if (first) first.focus();
}

async function resume(index) {
  const chosen = parked[index];
  if (basket.lines.length) {
    toast(t("resume.busy"), "bad");
    return;
  }
  try {
    const taken = await api("POST",
      `/api/v1/baskets/suspended/${encodeURIComponent(chosen.id)}/resume`);
    $(".dlg-suspended").close("ok");
    const saved = taken.basket;
    await change((b) => {
      b.lines = saved.lines;
      b.member = saved.member ? { id: saved.member } : null;
      b.coupons = saved.coupons || [];
      b.discount = saved.discount || null;
      b.selected = saved.lines.length - 1;
    });
  } catch (err) {
    toast(explain(err), "bad");
  }
}

function figure(label, value) {
  return `<tr><th>${esc(label)}</th><td class="num">${esc(value)}</td></tr>`;
}

function renderReport() {
  const box = $(".dlg-tillmenu .report");
  if (!report) {
    box.innerHTML = "";
    return;
  }
  const r = report.data;
  if (report.kind === "close") {
    box.innerHTML = `<h3>${esc(t("close.done"))}</h3><table>
      ${figure(t("close.counted"), money(r.counted))}
      ${figure(t("close.expected"), money(r.expected))}
      ${figure(t("close.over_short"), money(r.over_short))}</table>`;
    return;
  }
  if (report.kind === "open") {
    box.innerHTML = `<p class="ok">${esc(t("open.done"))}</p>`;
    return;
  }
  if (report.kind === "cash") {
    const done = r.direction ? t(`cash.${r.direction}_done`, { amount: money(r.amount) })
      : t("cash.nosale_done");
    box.innerHTML = `<p class="ok cash-done" data-drawer="${esc(r.drawer)}">${esc(done)} · ${
      esc(r.reason)}</p><p class="muted">${esc(t(`drawer.${r.drawer}`))}</p>`;
    return;
  }
  const drawer = (r.drawers || {})[session.till];
  box.innerHTML = `<h3>${esc(t("x.title", { date: r.date || "" }))}</h3><table>
    ${figure(t("x.sales"), String(r.sales))}
    ${figure(t("x.returns"), String(r.returns))}
    ${figure(t("x.gross"), money(r.gross_sales))}
    ${figure(t("x.discounts"), money(r.discounts))}
    ${figure(t("x.net"), money(r.net_sales))}
    ${(r.tenders || []).map((x) => figure(t(`tender.${x.kind}`), money(x.net))).join("")}
    ${drawer ? figure(t("x.drawer"), money(drawer.expected)) : ""}</table>`;
}

async function withApproval(permission, why, call) {
  let approval;
  if (!may(session, permission)) {
    approval = await askApproval(why);
    if (!approval) return null;
  }
  return call(approval);
}

async function xReport() {
  const path = `/api/v1/reports/x?till=${encodeURIComponent(session.till)}`;
  const data = await withApproval("report.x", t("approval.x"),
    (approval) => api("GET", path, undefined, { approval }));
  if (data) report = { kind: "x", data };
}

const AMOUNT_LABELS = {
  open: "open.float", close: "close.counted_ask", cash_in: "cash.in_amount",
  cash_out: "cash.out_amount",
};

function askAmount(kind) {
  pending = kind;
  report = null;
  const form = $(".dlg-tillmenu form");
  const withAmount = kind !== "nosale";
  const withReason = ["cash_in", "cash_out", "nosale"].includes(kind);
  $(".tillmenu-amount").classList.toggle("hidden", !withAmount);
  $(".tillmenu-reason").classList.toggle("hidden", !withReason);
  if (withAmount) $(".tillmenu-label").textContent = t(AMOUNT_LABELS[kind]);
  $(".tillmenu-form").dataset.kind = kind;
  $(".tillmenu-form").classList.remove("hidden");
  form.elements.cash.value = "";
  form.elements.reason.value = "";
  (withAmount ? form.elements.cash : form.elements.reason).focus();
}

/** Record cash in / out or a no-sale (with a supervisor's approval for a cashier). */
async function moveCash(kind, amount, form) {
  const reason = form.elements.reason.value.trim();
  if (!reason) {
    setError($(".dlg-tillmenu"), t("cash.reason_needed"));
    form.elements.reason.focus();
    return false;
  }
  const done = kind === "nosale"
    ? await withApproval("drawer.open", t("approval.nosale"), (approval) =>
      api("POST", "/api/v1/till/drawer", { reason }, { approval }))
    : await withApproval("cash.move", t("approval.cash"), (approval) =>
      api("POST", "/api/v1/till/cash", {
        direction: kind === "cash_in" ? "in" : "out", amount, reason,
      }, { approval }));
  if (!done) return false;
  report = { kind: "cash", data: done };
  return true;
}

async function confirmAmount(form) {
  const amount = pending === "nosale" ? 0 : parseMoney(form.elements.cash.value);
  if (!Number.isFinite(amount) || (pending.startsWith("cash_") && amount <= 0)) {
    setError($(".dlg-tillmenu"), t("pay.bad_amount"));
    form.elements.cash.select();
    return;
  }
  if (["cash_in", "cash_out", "nosale"].includes(pending)) {
    if (!await moveCash(pending, amount, form)) return;
  } else if (pending === "open") {
    await api("POST", "/api/v1/till/open", { float: amount });
    report = { kind: "open", data: {} };
  } else if (pending === "close") {
    report = { kind: "close", data: await api("POST", "/api/v1/till/close", { counted: amount }) };
  }
  pending = null;
  $(".tillmenu-form").classList.add("hidden");
}

async function tillAction(value, form) {
  const dialog = $(".dlg-tillmenu");
  setError(dialog, "");
  try {
    if (value === "x") await xReport();
    else if (["open", "close", "cash_in", "cash_out", "nosale"].includes(value)) askAmount(value);
    else if (pending) await confirmAmount(form);
  } catch (err) {
    setError(dialog, approvalRefused(err) ? t("err.approval_refused") : explain(err));
  }
  renderReport();
}

/** Open the till menu: X report, open with a float, cash in/out, no sale, blind close. */
export function openTillMenu() {
  pending = null;
  report = null;
  $(".tillmenu-form").classList.add("hidden");
  setError($(".dlg-tillmenu"), "");
  renderReport();
  $(".dlg-tillmenu").showModal();
  $(".dlg-tillmenu button[value=x]").focus();
}

/** Re-draw what the till dialogs show after a language change. */
export function renderTillOps() {
  if ($(".dlg-tillmenu").open) renderReport();
  if ($(".dlg-suspended").open) renderParked();
}

export function wireTillOps(current) {
  session = current;
  wire($(".dlg-tillmenu"), tillAction);
  wire($(".dlg-suspended"), () => {});
  $(".parked").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-pick]");
    if (button) resume(Number(button.dataset.pick));
  });
}
