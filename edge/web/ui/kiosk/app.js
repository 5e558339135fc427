// The self-checkout kiosk: start screen, scanning (the kiosk's scanner over the live
// WebSocket, a typed or keyboard-wedge code), produce weighed on the kiosk's scale through a
// PLU picker, the bagging-area check, attendant calls that block the flow until approved,
// card/QR payment (a wallet's payment code scanned on the pay screen pays by QR), a declined
// payment explained with a fresh try (nothing is sold twice: the sale is recorded only once a
// payment is approved), and the receipt with its e-receipt link and QR code (drawn by the
// server from the receipt's unguessable token, public like the e-receipt itself). Idle kiosks
// go back to the start screen.
//
// Settings come from the page's query string (the kiosk's start URL): idle=<seconds> before an
// unattended kiosk resets (default 90), grace=<ms> a bagging mismatch may last before an
// attendant is called (default 2500). An approval arrives on the kiosk's live channel; after a
// reconnect the kiosk asks once whether its call is still open.

import { api, ApiError, newId } from "../common/api.js";
import {
  getLocale, grams, loadI18n, money, onLocaleChange, saveLocale, savedLocale, setStore, t,
} from "../common/i18n.js";
import { connectLive } from "../common/live.js";
import { ensureSession } from "../common/session.js";
import { $, $$, esc, showError, toast } from "../common/ui.js";
import { createBagging } from "./bagging.js";

const UI = "kiosk";
const query = new URLSearchParams(location.search);
const setting = (name, fallback) => {
  const value = Number(query.get(name));
  return Number.isFinite(value) && value > 0 ? value : fallback;
};
const config = {
  idleMs: setting("idle", 90) * 1000,
  graceMs: setting("grace", 2500),
};

const state = {
  kiosk: null,
  screen: "start",
  lines: [], // {key, code?, product, quantity, grams?}
  priced: null,
  ageApproved: false,
  block: null, // {call, reason, onApproved}
  weight: null, // the kiosk scale's last reading {grams, stable}
  weighing: null, // {product, baseline}
  saleId: newId(),
  paying: false,
  declined: null, // the code of the last refused payment, shown until the next try
  lastSale: null,
};
let nextKey = 1;
let bagging = null;
let idleTimer = null;
let who = "";

const name = (product) => (getLocale() === "zh-CN" ? product.name_zh : product.name_en)
  || product.name_zh || product.id;

// ---------------------------------------------------------------- screens and idle reset

function show(screen) {
  state.screen = screen;
  for (const section of $$("section[data-screen]")) {
    section.classList.toggle("hidden", section.dataset.screen !== screen);
  }
  document.body.dataset.view = screen;
  touch();
}

function touch() {
  clearTimeout(idleTimer);
  if (state.screen === "start") return;
  idleTimer = setTimeout(idle, config.idleMs);
}

function idle() {
  // never walk away from a shopper who waits for an attendant or a payment
  if (state.block || state.paying) {
    touch();
    return;
  }
  reset();
}

function reset() {
  closePicker();
  state.lines = [];
  state.priced = null;
  state.ageApproved = false;
  state.saleId = newId();
  state.lastSale = null;
  if (bagging) bagging.reset();
  renderBasket();
  $(".code-input").value = "";
  show("start");
}

// ---------------------------------------------------------------- the basket

function addLine(item) {
  const product = item.product;
  touch();
  if (state.block || state.paying) return;
  if (state.screen === "start") show("shop");
  if (state.screen !== "shop") return;
  if (product.sold_by_weight && !item.grams && item.embedded_price == null) {
    openPicker(product);
    return;
  }
  const pieces = !product.sold_by_weight && item.grams == null && item.embedded_price == null;
  const same = pieces && state.lines.find((l) => l.product.id === product.id && !l.grams);
  if (same) same.quantity += 1;
  else {
    state.lines.push({
      key: nextKey++, code: item.code, product, quantity: 1,
      grams: item.grams || null,
    });
  }
  changed();
  if (product.age_restricted && !state.ageApproved) {
    block("age_restricted", name(product), () => {
      state.ageApproved = true;
    });
  }
}

function saleLines() {
  return state.lines.map((l) => {
    if (l.grams && !l.code) return { product: l.product.id, grams: l.grams };
    if (l.code) return l.quantity > 1 ? { code: l.code, quantity: l.quantity } : { code: l.code };
    return { product: l.product.id, quantity: l.quantity };
  });
}

function bagLines() {
  return state.lines.map((l) => (l.grams
    ? { product: l.product.id, grams: l.grams }
    : { product: l.product.id, quantity: l.quantity }));
}

async function changed() {
  state.saleId = newId(); // a different basket is a different sale
  renderBasket();
  await reprice();
  if (bagging) bagging.check();
}

async function reprice() {
  if (!state.lines.length) {
    state.priced = null;
    renderBasket();
    return;
  }
  const asked = state.lines.length;
  try {
    const priced = await api("POST", "/api/v1/baskets/price", { lines: saleLines() });
    if (asked === state.lines.length) state.priced = priced;
  } catch (err) {
    showError(err);
  }
  renderBasket();
}

function renderBasket() {
  const list = $(".lines");
  const priced = state.priced && state.priced.lines.length === state.lines.length
    ? state.priced.lines : [];
  list.innerHTML = state.lines.map((line, index) => {
    const amount = priced[index] ? money(priced[index].amount) : "…";
    const detail = line.grams
      ? grams(line.grams)
      : `× ${line.quantity}`;
    const flag = line.product.age_restricted
      ? `<span class="badge warn">${esc(t("shop.age_flag"))}</span>` : "";
    return `<li class="line" data-key="${line.key}">
      <span class="line-name">${esc(name(line.product))} ${flag}</span>
      <span class="line-qty">${esc(detail)}</span>
      <span class="line-amount">${esc(amount)}</span>
      <button type="button" class="line-void" data-void="${line.key}"
        aria-label="${esc(t("shop.void"))}">✕</button></li>`;
  }).join("");
  $(".basket-empty").classList.toggle("hidden", state.lines.length > 0);
  const count = state.lines.reduce((n, l) => n + (l.grams ? 1 : l.quantity), 0);
  $(".count").textContent = t("shop.count", { count });
  $(".total").textContent = money(state.priced ? state.priced.total : 0);
  updatePay();
  if (list.lastElementChild) list.lastElementChild.scrollIntoView({ block: "nearest" });
}

function updatePay() {
  const ready = state.lines.length > 0 && state.priced && !state.block
    && (!bagging || bagging.ok());
  $(".pay-button").disabled = !ready;
}

async function lookUp(code) {
  try {
    const item = await api("GET", `/api/v1/scan/${encodeURIComponent(code)}`);
    addLine({ ...item, code });
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) toast(t("shop.unknown_code"), "bad");
    else showError(err);
  }
}

// ---------------------------------------------------------------- attendant calls

const BLOCK_TITLES = {
  age_restricted: "blocked.age_restricted",
  weight_mismatch: "blocked.weight_mismatch",
  void: "blocked.void",
  help: "blocked.help",
  closed: "blocked.closed",
};

async function block(reason, detail, onApproved = () => {}) {
  closePicker();
  state.block = { reason, detail, call: null, onApproved };
  renderBlock();
  updatePay();
  const said = typeof detail === "object" && detail
    ? `${detail.expected_grams} g → ${detail.actual_grams} g` : String(detail || "");
  try {
    const made = await api("POST", `/api/v1/kiosks/${encodeURIComponent(state.kiosk)}/calls`,
      { reason: reason === "closed" ? "help" : reason, detail: said.slice(0, 200) });
    if (state.block && state.block.reason === reason) state.block.call = made.call.id;
  } catch (err) {
    showError(err);
  }
}

function renderBlock() {
  const overlay = $("[data-overlay=blocked]");
  const current = state.block;
  overlay.classList.toggle("hidden", !current);
  document.body.dataset.blocked = current ? current.reason : "";
  if (!current) return;
  overlay.dataset.reason = current.reason;
  $(".blocked-title").textContent = t(BLOCK_TITLES[current.reason]);
  $(".blocked-detail").textContent = current.reason === "weight_mismatch"
    ? t("blocked.weight_detail", {
      expected: grams(current.detail.expected_grams), actual: grams(current.detail.actual_grams),
    })
    : String(current.detail || "");
  $(".blocked-cancel").classList.toggle("hidden", current.reason !== "help");
}

/** Ask whether the open call was approved while the live channel was down. */
async function checkCall() {
  const current = state.block;
  if (!current || !current.call) return;
  try {
    const open = await api("GET", `/api/v1/kiosks/${encodeURIComponent(state.kiosk)}/calls`);
    if (state.block === current && !open.calls.some((c) => c.id === current.call)) approved();
  } catch {
    /* offline again: the next reconnect asks again */
  }
}

function approved(call) {
  const current = state.block;
  if (!current || (call && current.call && call !== current.call)) return;
  state.block = null;
  renderBlock();
  toast(t("blocked.approved"));
  current.onApproved();
  touch();
  updatePay();
  if (bagging && current.reason !== "weight_mismatch") bagging.check();
}

async function withdraw() {
  const current = state.block;
  if (!current) return;
  state.block = null;
  renderBlock();
  updatePay();
  if (current.call) {
    try {
      await api("DELETE",
        `/api/v1/kiosks/${encodeURIComponent(state.kiosk)}/calls/${current.call}`);
    } catch {
      /* approved meanwhile */
    }
  }
}

function askVoid(key) {
  const line = state.lines.find((l) => l.key === key);
  if (!line || state.block) return;
  block("void", name(line.product), () => {
    const index = state.lines.findIndex((l) => l.key === key);
    if (index < 0) return;
    if (!state.lines[index].grams && state.lines[index].quantity > 1) {
      state.lines[index].quantity -= 1;
    } else state.lines.splice(index, 1);
    changed();
  });
}

// ---------------------------------------------------------------- produce picker

let produce = null;

async function openPicker(product = null) {
  if (state.block) return;
  const overlay = $("[data-overlay=picker]");
  overlay.classList.remove("hidden");
  $(".weigh-step").classList.add("hidden");
  $(".picker-tiles").classList.remove("hidden");
  if (!produce) {
    try {
      const found = await api("GET", "/api/v1/products?limit=500");
      produce = found.products.filter((p) => p.sold_by_weight && p.active !== false);
    } catch (err) {
      showError(err);
      produce = [];
    }
  }
  renderTiles();
  if (product) startWeighing(product);
}

function renderTiles() {
  $(".picker-tiles").innerHTML = (produce || []).map((p) => `
    <button type="button" class="tile" data-product="${esc(p.id)}">
      <span class="tile-mark" aria-hidden="true">${esc(initial(p))}</span>
      <span class="tile-name">${esc(name(p))}</span>
      <span class="tile-meta">${esc(p.plu ? `PLU ${p.plu}` : "")} · ${esc(money(p.list_price))}/kg</span>
    </button>`).join("") || `<p class="muted">${esc(t("picker.none"))}</p>`;
}

function initial(product) {
  return (name(product) || "?").trim().charAt(0).toUpperCase();
}

function startWeighing(product) {
  state.weighing = { product, baseline: currentGrams() };
  $(".picker-tiles").classList.add("hidden");
  $(".weigh-step").classList.remove("hidden");
  $(".weigh-name").textContent = name(product);
  renderWeighing();
}

function currentGrams() {
  return state.weight && state.weight.stable ? state.weight.grams : 0;
}

function weighedGrams() {
  if (!state.weighing || !state.weight || !state.weight.stable) return 0;
  return Math.max(0, state.weight.grams - state.weighing.baseline);
}

function renderWeighing() {
  if (!state.weighing) return;
  const net = weighedGrams();
  $(".weigh-grams").textContent = grams(net);
  const price = state.weighing.product.list_price * net / 1000;
  $(".weigh-price").textContent = net > 0 ? `≈ ${money(Math.round(price))}` : "";
  $("[data-action=weigh-add]").disabled = net <= 0;
}

function addWeighed() {
  const net = weighedGrams();
  const weighing = state.weighing;
  if (!weighing || net <= 0) return;
  closePicker();
  state.lines.push({ key: nextKey++, product: weighing.product, quantity: 1, grams: net });
  changed();
}

function closePicker() {
  state.weighing = null;
  $("[data-overlay=picker]").classList.add("hidden");
}

// ---------------------------------------------------------------- payment and receipt

// a WeChat Pay (10-15…, 18 digits) or Alipay (25-30…, 16-24 digits) payment code
const PAYMENT_CODE = /^(1[0-5]\d{16}|(2[5-9]|30)\d{14,22})$/;
// why a payment was refused -> what the shopper reads
const DECLINES = {
  payment_declined: "pay.reason_declined",
  insufficient_funds: "pay.reason_funds",
  invalid_card: "pay.reason_card",
  payment_timeout: "pay.reason_timeout",
};

function openPay() {
  if (!state.priced || state.block) return;
  $(".due").textContent = money(state.priced.total);
  $(".pay-status").textContent = "";
  $(".pay-status").className = "pay-status";
  state.declined = null;
  renderDeclined();
  show("pay");
}

function renderDeclined() {
  const box = $(".pay-declined");
  box.classList.toggle("hidden", !state.declined);
  document.body.dataset.declined = state.declined ? state.declined : "";
  if (state.declined) {
    $(".declined-reason").textContent = t(DECLINES[state.declined] || "pay.reason_declined");
  }
}

/** A code scanned on the pay screen: a wallet's payment code pays by QR. */
function paymentCode(code) {
  touch();
  if (PAYMENT_CODE.test(code)) pay("qr", code);
  else toast(t("pay.not_a_payment_code"), "bad");
}

async function pay(kind, presented = undefined) {
  if (state.paying || !state.priced) return;
  state.paying = true;
  for (const button of $$(".tender, [data-action=back]")) button.disabled = true;
  state.declined = null;
  renderDeclined();
  const status = $(".pay-status");
  status.className = "pay-status";
  status.textContent = t(kind === "card" ? "pay.card_wait" : "pay.qr_wait");
  const tender = { kind, amount: state.priced.total };
  if (presented) tender.presented = presented;
  const body = {
    id: state.saleId,
    lines: saleLines(),
    tenders: [tender],
  };
  try {
    const sale = await api("POST", "/api/v1/sales", body);
    state.lastSale = { sale, kind };
    const stale = $(".toast");
    if (stale) stale.remove(); // a message from the pay screen is not for the receipt
    renderReceipt(sale, kind);
    show("receipt");
    if (bagging) bagging.pause();
  } catch (err) {
    if (!(err instanceof ApiError) || err.code !== "offline") state.saleId = newId();
    status.className = "pay-status bad";
    if (err instanceof ApiError && err.code === "till_closed") {
      status.textContent = t("pay.closed");
      block("closed", t("pay.closed"));
    } else if (err instanceof ApiError && err.status === 402) {
      // nothing was taken and nothing sold: the next try is a new sale attempt
      state.declined = err.code;
      status.textContent = "";
      renderDeclined();
    } else if (err instanceof ApiError && err.code === "offline") {
      status.textContent = t("error.offline");
    } else {
      status.textContent = t("pay.failed", { message: err.message || String(err) });
    }
  } finally {
    state.paying = false;
    for (const button of $$(".tender, [data-action=back]")) button.disabled = false;
    touch();
  }
}

function renderReceipt(sale, kind) {
  $(".receipt-no").textContent = sale.receipt;
  $(".receipt-total").textContent = money(sale.total);
  $(".receipt-paid").textContent = t(kind === "card" ? "pay.card" : "pay.qr");
  const link = $(".e-receipt-link");
  link.href = sale.e_receipt_url;
  link.textContent = sale.e_receipt_url;
  // the QR of the e-receipt, asked for by its token: the kiosk may not read sales by id
  const token = /\/r\/([A-Za-z0-9_-]{16,64})$/.exec(new URL(sale.e_receipt_url).pathname);
  const qr = $(".e-receipt-qr");
  if (token) qr.src = `/r/${token[1]}/qr.svg`;
  else qr.removeAttribute("src");
  $(".e-receipt-qr-box").classList.toggle("hidden", !token);
}

// ---------------------------------------------------------------- live messages

function onLive(message) {
  if (message.type === "scan" && state.screen === "pay") {
    if (!state.block) paymentCode(String(message.code || ""));
    return;
  }
  if (message.type === "scan") {
    touch();
    if (message.error) {
      toast(message.error.code === "unknown_barcode" ? t("shop.unknown_code")
        : t("error.refused", { message: message.error.message }), "bad");
      return;
    }
    if (message.item) addLine({ ...message.item, code: message.code });
  } else if (message.type === "weight") {
    state.weight = { grams: message.grams, stable: message.stable !== false };
    renderWeighing();
    if (bagging && !state.weighing) bagging.check();
  } else if (message.type === "weight_error") {
    state.weight = null;
    renderWeighing();
  } else if (message.type === "approved") {
    approved(message.call);
  }
}

// keyboard-wedge scanners type the code and Enter wherever the focus is
let wedge = "";
let wedgeAt = 0;
function onKey(event) {
  touch();
  if (event.target instanceof HTMLInputElement || event.target instanceof HTMLSelectElement) return;
  const now = Date.now();
  if (now - wedgeAt > 100) wedge = "";
  wedgeAt = now;
  if (event.key === "Enter") {
    if (wedge.length >= 4 && state.screen === "pay") paymentCode(wedge);
    else if (wedge.length >= 4) lookUp(wedge);
    wedge = "";
  } else if (event.key.length === 1) wedge += event.key;
}

// ---------------------------------------------------------------- wiring

function wire() {
  document.addEventListener("pointerdown", touch);
  document.addEventListener("keydown", onKey);
  document.addEventListener("click", (event) => {
    const target = event.target.closest("button");
    if (!target) return;
    if (target.dataset.locale) switchLanguage(target.dataset.locale);
    if (target.dataset.void) askVoid(Number(target.dataset.void));
    if (target.dataset.tender) pay(target.dataset.tender);
    if (target.dataset.product) {
      const product = (produce || []).find((p) => p.id === target.dataset.product);
      if (product) startWeighing(product);
    }
    const action = target.dataset.action;
    if (action === "start") show("shop");
    else if (action === "weigh") openPicker();
    else if (action === "weigh-add") addWeighed();
    else if (action === "picker-close") closePicker();
    else if (action === "help") block("help", "");
    else if (action === "cancel-call") withdraw();
    else if (action === "pay") openPay();
    else if (action === "back") show("shop");
    else if (action === "done") reset();
  });
  $(".code-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $(".code-input");
    const code = input.value.trim();
    input.value = "";
    if (code) lookUp(code);
  });
}

async function switchLanguage(locale) {
  const language = $(".language");
  saveLocale(UI, who, locale);
  language.value = await loadI18n(UI, locale);
}

function rerender() {
  renderBasket();
  renderBlock();
  if (state.weighing) renderWeighing();
  if (produce) renderTiles();
  if (bagging) bagging.render();
  if (state.screen === "pay" && state.priced) $(".due").textContent = money(state.priced.total);
  renderDeclined();
  if (state.screen === "receipt" && state.lastSale) {
    renderReceipt(state.lastSale.sale, state.lastSale.kind);
  }
}

async function start() {
  const asked = api("GET", "/api/v1/session"); // in parallel with the store and the catalogs
  const store = await api("GET", "/api/v1/store");
  setStore(store);
  await loadI18n(UI, savedLocale(UI) || store.locale);
  const session = await ensureSession({ staff: false, asked });
  state.kiosk = session.till;
  who = session.staff || "";
  const language = $(".language");
  const wanted = savedLocale(UI, who) || savedLocale(UI) || store.locale;
  language.value = wanted === getLocale() ? wanted : await loadI18n(UI, wanted);
  language.addEventListener("change", () => switchLanguage(language.value));
  onLocaleChange(rerender);
  $(".who").textContent = [session.name, session.till].filter(Boolean).join(" · ");
  wire();
  let hasScale = false;
  try {
    const listed = await api("GET", "/api/v1/devices");
    hasScale = listed.devices.some((d) => d.type === "scale" && d.till === state.kiosk);
  } catch {
    hasScale = false;
  }
  if (hasScale) {
    bagging = createBagging({
      kiosk: state.kiosk,
      graceMs: config.graceMs,
      lines: bagLines,
      active: () => state.screen === "shop" && !state.weighing && !state.paying,
      blocked: () => state.block,
      onChange: updatePay,
      onMismatch: (check, accept) => block("weight_mismatch", check, accept),
      onRecovered: () => {
        if (state.block && state.block.reason === "weight_mismatch") withdraw();
      },
    });
  }
  renderBasket();
  show("start");
  connectLive([`till:${state.kiosk}`], onLive, {
    onState: (live) => {
      const badge = $(".live");
      badge.dataset.i18n = `live.${live}`;
      badge.className = `live badge ${live === "online" ? "ok" : "bad"}`;
      badge.textContent = t(`live.${live}`);
    },
    onResync: () => {
      checkCall();
      if (bagging) bagging.check();
    },
  });
}

start();
