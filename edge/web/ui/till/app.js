// The till UI: sign in, then one keyboard-first screen. The scan field keeps the focus, so a
// keyboard-wedge scanner (digits + Enter) and typed codes go straight into the basket; the
// till's own scanner and scale arrive over the live channel. Function keys open the dialogs.
// When the till's scale is offline (or reports an error), the weigh dialog takes a weight
// typed from another scale; F3 changes a line's price with a supervisor's approval.

import { api, ApiError } from "../common/api.js";
import {
  getLocale, grams, loadI18n, money, onLocaleChange, parseMoney, plain, saveLocale, savedLocale,
  setStore,
  t,
} from "../common/i18n.js";
import { connectLive } from "../common/live.js";
import { ensureSession, may, signOut } from "../common/session.js";
import { $, $$, esc, toast } from "../common/ui.js";
import {
  addLine, addPieces, basket, change, productName, render, setQuantity, voidLine, wireBasket,
} from "./basket.js";
import { anyOpen, askApproval, explain, setError, wire } from "./dialogs.js";
import { openPay, renderPayment, wirePay } from "./pay.js";
import { openReturn, renderReturn, wireReturns } from "./returns.js";
import { openResume, openTillMenu, renderTillOps, suspendBasket, wireTillOps } from "./tillops.js";

const UI = "till";
let session = null;
// the till's scale, its last reading, its last error and its state (online, offline, lost)
const scale = { id: null, reading: null, error: null, state: null };
let weighing = null; // the weighed product the weigh dialog is for
let found = []; // products listed by the search dialog

function focusScan() {
  if (!anyOpen()) $("#scan").focus();
}

// --- scanning ---------------------------------------------------------------------------

/** Add what a scanned or typed code is: pieces, a label, or a product to weigh. */
function addItem(item, quantity = 1) {
  const product = item.product;
  if (item.grams || (item.embedded_price !== null && item.embedded_price !== undefined)) {
    return addLine({ code: item.code }); // a scale label carries its weight or price
  }
  if (product.sold_by_weight) return openWeigh(product);
  return addPieces({ code: item.code }, quantity);
}

/** Look a typed code up ("3*6901234567892" for three) and add it. */
async function scanTyped(text) {
  const match = /^(?:(\d{1,4})\*)?(\S+)$/.exec(text.trim());
  if (!match) return;
  const quantity = match[1] ? Math.max(1, Number(match[1])) : 1;
  try {
    const item = await api("GET", `/api/v1/scan/${encodeURIComponent(match[2])}`);
    await addItem(item, quantity);
  } catch (err) {
    toast(explain(err), "bad");
  }
}

function wireScan() {
  const input = $("#scan");
  $(".scan-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    input.value = "";
    if (text.trim()) scanTyped(text);
  });
  // with the field empty, + - and Delete act on the selected line
  input.addEventListener("keydown", (event) => {
    const index = basket.selected;
    if (input.value || index < 0 || index >= basket.lines.length) return;
    const line = basket.lines[index];
    if (event.key === "Delete") voidLine(index);
    else if (event.key === "+" && !line.grams) setQuantity(index, (line.quantity || 1) + 1);
    else if (event.key === "-" && !line.grams) setQuantity(index, (line.quantity || 1) - 1);
    else return;
    event.preventDefault();
  });
  // the scan field takes the focus back whenever nothing else needs it
  input.addEventListener("blur", () => setTimeout(() => {
    const active = document.activeElement;
    if (!active || active === document.body || active.closest(".basket, .actions")) focusScan();
  }, 0));
  for (const dialog of $$("dialog")) dialog.addEventListener("close", () => setTimeout(focusScan));
}

// --- the scale --------------------------------------------------------------------------

function scaleText() {
  if (scale.error) return t("scale.error", { code: scale.error });
  if (!scale.reading) return t("scale.none");
  const { grams: weight, stable } = scale.reading;
  return `${grams(weight)} · ${t(stable ? "scale.stable" : "scale.moving")}`;
}

function usableWeight() {
  const reading = scale.reading;
  return !scaleOffline() && reading && reading.stable && reading.grams > 0;
}

/** Tell whether the till has no working scale: none bound, offline, or reporting an error. */
function scaleOffline() {
  return !scale.id || !!scale.error || (scale.state !== null && scale.state !== "online");
}

/** Return the grams typed in the weigh dialog (NaN when it is not a weight). */
function typedGrams() {
  const text = $(".dlg-weigh input[name=grams]").value.trim();
  const value = /^\d{1,7}$/.test(text) ? Number(text) : NaN;
  return value >= 1 && value <= 1_000_000 ? value : NaN;
}

function renderScale() {
  $(".weight").textContent = scale.id ? `${t("scale.title")}: ${scaleText()}` : "";
  const dialog = $(".dlg-weigh");
  if (!weighing) return;
  $(".weigh-name", dialog).textContent = productName(weighing);
  const manual = scaleOffline();
  $(".weigh-reading", dialog).textContent = scale.id ? scaleText() : t("scale.none_bound");
  $(".weigh-manual", dialog).classList.toggle("hidden", !manual);
  $(".weigh-offline", dialog).textContent = manual
    ? t(scale.id ? "weigh.offline" : "weigh.no_scale") : "";
  const price = basket.member && weighing.member_price ? weighing.member_price : weighing.list_price;
  $(".weigh-price", dialog).textContent = t("weigh.price", { price: money(price) });
  $(".weigh-ok", dialog).disabled = manual ? !Number.isFinite(typedGrams()) : !usableWeight();
  // the scale came back while the grams field had the focus: Enter takes the scale's weight
  if (!manual && document.activeElement === $("input[name=grams]", dialog)) $("form", dialog).focus();
}

function openWeigh(product) {
  weighing = product;
  $(".dlg-weigh input[name=grams]").value = "";
  renderScale();
  $(".dlg-weigh").showModal();
  // not Cancel: Enter must take the weight once it is stable (or the typed one)
  if (scaleOffline()) $(".dlg-weigh input[name=grams]").focus();
  else $(".dlg-weigh form").focus();
}

function takeWeight() {
  if (!weighing) return;
  const product = weighing;
  if (scaleOffline()) {
    const typed = typedGrams();
    if (!Number.isFinite(typed)) {
      $(".dlg-weigh .weigh-offline").textContent = t("weigh.bad_grams");
      return;
    }
    $(".dlg-weigh").close("ok");
    addLine({ product: product.id, grams: typed }); // weighed elsewhere, typed here
    return;
  }
  if (!usableWeight()) return;
  $(".dlg-weigh").close("ok");
  // the server weighs the line on the scale itself; basket.js keeps the grams it used
  addLine({ product: product.id, scale: scale.id });
}

async function findScale() {
  try {
    const { devices } = await api("GET", "/api/v1/devices");
    const found = devices.find((d) => d.type === "scale" && d.till === session.till);
    scale.id = found ? found.id : null;
    scale.state = found ? found.state : null;
  } catch {
    scale.id = null;
  }
  renderScale();
}

// --- live channel -----------------------------------------------------------------------

function onLive(message) {
  if (message.type === "device" || (message.type === "error" && message.device)) {
    if (message.device !== scale.id) return; // the devices channel: only our scale matters
    if (message.type === "device") scale.state = message.state;
    else scale.error = message.code;
    if (scaleOffline()) scale.reading = null;
    renderScale();
  } else if (message.type === "weight") {
    scale.id = message.device || scale.id;
    scale.reading = message;
    scale.error = null;
    scale.state = "online";
    renderScale();
  } else if (message.type === "weight_error") {
    scale.reading = null;
    scale.error = message.code;
    renderScale();
  } else if (message.type === "scan") {
    const error = message.error;
    if (error) toast(explain(new ApiError(404, error.code, error.message)), "bad");
    else if (anyOpen()) toast(t("scan.busy"), "bad");
    else addItem(message.item);
  }
}

function liveState(state) {
  const badge = $(".live");
  badge.dataset.i18n = `live.${state}`;
  badge.className = `live badge ${state === "online" ? "ok" : "bad"}`;
  badge.textContent = t(`live.${state}`);
}

// --- search, member, coupon, discount ---------------------------------------------------

function renderFound() {
  $(".dlg-search .results").innerHTML = found.map((p, i) => `<li>
    <button type="button" class="pick" data-pick="${i}">
      <span>${esc(productName(p))}</span>
      <span class="muted">${esc(money(p.list_price))}${p.sold_by_weight ? "/kg" : ""}</span>
    </button></li>`).join("");
}

let searchTimer = 0;
async function search(q) {
  if (!q.trim()) {
    found = [];
  } else {
    try {
      found = (await api("GET", `/api/v1/products?q=${encodeURIComponent(q.trim())}&limit=12`))
        .products;
    } catch (err) {
      toast(explain(err), "bad");
      found = [];
    }
  }
  renderFound();
}

function pickFound(index) {
  const product = found[index];
  if (!product) return;
  $(".dlg-search").close("ok");
  if (product.sold_by_weight) openWeigh(product);
  else addPieces({ product: product.id }, 1);
}

function openSearch() {
  const dialog = $(".dlg-search");
  $("form", dialog).reset();
  found = [];
  renderFound();
  dialog.showModal();
  $("input", dialog).focus();
}

function wireSearch() {
  const dialog = $(".dlg-search");
  $("input", dialog).addEventListener("input", (event) => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => search(event.target.value), 200);
  });
  wire(dialog, () => pickFound(0));
  $(".results", dialog).addEventListener("click", (event) => {
    const button = event.target.closest("button[data-pick]");
    if (button) pickFound(Number(button.dataset.pick));
  });
}

function openMember() {
  const dialog = $(".dlg-member");
  $("form", dialog).reset();
  setError(dialog, "");
  dialog.showModal();
  $("input", dialog).focus();
}

async function findMember(form) {
  const dialog = $(".dlg-member");
  const key = form.elements.key.value.trim();
  if (!key) return;
  try {
    const member = await api("GET", `/api/v1/members/lookup?key=${encodeURIComponent(key)}`);
    dialog.close("ok");
    await change((b) => {
      b.member = member;
    });
  } catch (err) {
    setError(dialog, explain(err));
  }
}

function openCoupon() {
  const dialog = $(".dlg-coupon");
  $("form", dialog).reset();
  dialog.showModal();
  $("input", dialog).focus();
}

function addCoupon(form) {
  const code = form.elements.code.value.trim().toUpperCase();
  $(".dlg-coupon").close("ok");
  if (!code || basket.coupons.includes(code)) return;
  change((b) => {
    b.coupons.push(code);
  });
}

function openDiscount() {
  if (!basket.lines.length) {
    toast(t("pay.empty"), "bad");
    return;
  }
  const dialog = $(".dlg-discount");
  $("form", dialog).reset();
  dialog.showModal();
  $("input[name=value]", dialog).focus();
}

/** Read the discount form: {percent_bp} or {amount}, with the reason; null when not valid. */
function readDiscount(form) {
  const text = form.elements.value.value.trim();
  const reason = form.elements.reason.value.trim();
  if (form.elements.kind.value === "percent") {
    const percent = Number(text.replace(",", "."));
    if (!(percent > 0 && percent <= 100)) return null;
    return { percent_bp: Math.round(percent * 100), reason };
  }
  const amount = parseMoney(text);
  return amount > 0 ? { amount, reason } : null;
}

async function applyDiscount(value, form) {
  const dialog = $(".dlg-discount");
  const scope = form.elements.scope.value;
  const index = basket.selected >= 0 ? basket.selected : basket.lines.length - 1;
  const discount = value === "remove" ? null : readDiscount(form);
  if (value !== "remove" && !discount) return;
  dialog.close("ok");
  let approval = basket.approval;
  if (discount && !approval && !may(session, "discount.manual")) {
    approval = await askApproval(t("approval.discount"));
    if (!approval) return;
  }
  await change((b) => {
    b.approval = approval;
    if (scope === "line") {
      if (discount) b.lines[index].discount = discount;
      else delete b.lines[index].discount;
    } else {
      b.discount = discount;
    }
  });
}

// --- price override (F3) ---------------------------------------------------------------

let overriding = -1; // the basket line the override dialog is for

function openOverride() {
  if (!basket.lines.length || !basket.priced) {
    toast(t("pay.empty"), "bad");
    return;
  }
  overriding = basket.selected >= 0 ? basket.selected : basket.lines.length - 1;
  const dialog = $(".dlg-override");
  $("form", dialog).reset();
  setError(dialog, "");
  renderOverride();
  const current = basket.lines[overriding].override;
  if (current) {
    $("input[name=price]", dialog).value = plain(current.unit_price);
    $("input[name=reason]", dialog).value = current.reason;
  }
  $("button[value=remove]", dialog).classList.toggle("hidden", !current);
  dialog.showModal();
  $("input[name=price]", dialog).focus();
}

function renderOverride() {
  const dialog = $(".dlg-override");
  const line = basket.priced && basket.priced.lines[overriding];
  if (!line) return;
  const weighed = line.grams !== null && line.grams !== undefined;
  $(".override-line", dialog).textContent = `${productName(line)} · ${weighed
    ? grams(line.grams) : `× ${line.quantity}`}`;
  $(".override-now", dialog).textContent = t("override.now", {
    price: money(line.unit_price) + (weighed ? "/kg" : ""),
  });
  $(".override-label", dialog).textContent = t(weighed ? "override.price_kg" : "override.price");
}

async function applyOverride(value, form) {
  const dialog = $(".dlg-override");
  const index = overriding;
  if (index < 0 || index >= basket.lines.length) return;
  if (value === "remove") {
    dialog.close("ok");
    await change((b) => {
      delete b.lines[index].override;
    });
    return;
  }
  const price = parseMoney(form.elements.price.value);
  const reason = form.elements.reason.value.trim();
  if (!Number.isFinite(price) || price < 0) {
    setError(dialog, t("pay.bad_amount"));
    form.elements.price.select();
    return;
  }
  if (!reason) {
    setError(dialog, t("override.reason_needed"));
    form.elements.reason.focus();
    return;
  }
  dialog.close("ok");
  let approval = basket.approval;
  if (!approval && !may(session, "price.override")) {
    approval = await askApproval(t("approval.override"));
    if (!approval) return;
  }
  await change((b) => {
    b.approval = approval;
    b.lines[index].override = { unit_price: price, reason };
    b.selected = index;
  });
}

// --- shortcuts and start ----------------------------------------------------------------

const ACTIONS = {
  search: openSearch,
  override: openOverride,
  member: openMember,
  discount: openDiscount,
  coupon: openCoupon,
  pay: openPay,
  return: () => openReturn(),
  suspend: suspendBasket,
  resume: openResume,
  tillmenu: openTillMenu,
};
const KEYS = {
  F2: "search", F3: "override", F4: "member", F6: "discount", F7: "coupon", F8: "pay", F9: "return",
  F10: "suspend", F11: "resume", F12: "tillmenu",
};

function wireShortcuts() {
  document.addEventListener("keydown", (event) => {
    const action = KEYS[event.key];
    if (!action) return;
    event.preventDefault(); // F5-like browser defaults never reload the till
    if (!anyOpen()) ACTIONS[action]();
  });
  $(".actions").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (button) ACTIONS[button.dataset.action]();
  });
}

function wireDialogs() {
  wire($(".dlg-weigh"), takeWeight);
  wire($(".dlg-member"), (value, form) => findMember(form));
  wire($(".dlg-coupon"), (value, form) => addCoupon(form));
  wire($(".dlg-discount"), applyDiscount);
  wire($(".dlg-override"), applyOverride);
  $(".dlg-weigh input[name=grams]").addEventListener("input", () => renderScale());
  // Enter takes the weight wherever the focus is (the OK button is disabled until it is stable)
  $(".dlg-weigh").addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.target.value === "cancel") return;
    event.preventDefault();
    takeWeight();
  });
  $(".dlg-weigh").addEventListener("close", () => {
    weighing = null;
  });
  $(".member-clear").addEventListener("click", () => change((b) => {
    b.member = null;
  }));
  $(".signout").addEventListener("click", () => signOut());
}

function rerender() {
  render();
  renderScale();
  renderFound();
  renderPayment();
  renderReturn();
  renderTillOps();
  if ($(".dlg-override").open) renderOverride();
  $(".language").value = getLocale();
}

async function start() {
  const asked = api("GET", "/api/v1/session"); // in parallel with the store and the catalogs
  const store = await api("GET", "/api/v1/store");
  setStore(store);
  await loadI18n(UI, savedLocale(UI) || store.locale);
  session = await ensureSession({ staff: true, asked });
  const who = session.staff || "";
  const language = $(".language");
  onLocaleChange(rerender);
  const wanted = savedLocale(UI, who) || savedLocale(UI) || store.locale;
  if (wanted !== getLocale()) await loadI18n(UI, wanted);
  language.value = getLocale();
  language.addEventListener("change", async () => {
    saveLocale(UI, who, language.value);
    await loadI18n(UI, language.value);
    focusScan();
  });
  $(".who").textContent = [session.name, session.till].filter(Boolean).join(" · ");
  wireBasket();
  wireScan();
  wireSearch();
  wireDialogs();
  wirePay(session);
  wireReturns(session);
  wireTillOps(session);
  wireShortcuts();
  $("#main").classList.remove("hidden");
  render();
  focusScan();
  // the till's own channel (scans, weights) and the devices channel (its scale going offline)
  connectLive([`till:${session.till}`, "devices"], onLive, { onState: liveState });
  await findScale();
}

start();
