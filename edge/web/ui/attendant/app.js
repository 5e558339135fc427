// The attendant screen: every self-checkout kiosk live (device state, bagging area, open
// calls), calls first; approving a call lets that kiosk's shopper carry on.

import { api } from "../common/api.js";
import {
  grams, loadI18n, onLocaleChange, saveLocale, savedLocale, setStore, t, time,
} from "../common/i18n.js";
import { connectLive } from "../common/live.js";
import { ensureSession } from "../common/session.js";
import { $, esc, showError, toast } from "../common/ui.js";

const UI = "attendant";
const kiosks = new Map(); // id → {kiosk, label, state, calls, bagging, last_seen}
const approving = new Set();

const REASONS = ["age_check", "weight_mismatch", "void", "help", "payment", "other"];

function reasonText(reason) {
  return t(`reason.${REASONS.includes(reason) ? reason : "other"}`);
}

function stateText(state) {
  return t(`state.${["online", "offline", "lost"].includes(state) ? state : "unknown"}`);
}

function render() {
  const list = [...kiosks.values()].sort((a, b) =>
    (b.calls.length > 0) - (a.calls.length > 0) || a.kiosk.localeCompare(b.kiosk));
  $(".empty").classList.toggle("hidden", list.length > 0);
  const waiting = list.reduce((n, k) => n + k.calls.length, 0);
  const summary = $(".summary");
  summary.textContent = t("summary", { calls: waiting });
  summary.className = `summary badge ${waiting ? "bad" : "ok"}`;
  $(".kiosks").innerHTML = list.map(card).join("");
}

function card(view) {
  const bag = view.bagging;
  const bagLine = bag && Number.isInteger(bag.actual_grams)
    ? `<p class="bagging ${bag.ok ? "ok" : "bad"}">${esc(t(bag.ok ? "bagging.ok" : "bagging.bad", {
      expected: grams(bag.expected_grams || 0), actual: grams(bag.actual_grams),
    }))}</p>`
    : `<p class="bagging muted">${esc(t("bagging.none"))}</p>`;
  const calls = view.calls.map((call) => `
    <li class="call" data-call="${esc(call.id)}">
      <div class="call-what">
        <strong class="call-reason">${esc(reasonText(call.reason))}</strong>
        <span class="call-detail">${esc(call.detail || "")}</span>
        <span class="call-at muted">${esc(call.at ? time(call.at) : "")}</span>
      </div>
      <button type="button" class="primary big approve" data-kiosk="${esc(view.kiosk)}"
        data-approve="${esc(call.id)}" ${approving.has(call.id) ? "disabled" : ""}>
        ${esc(t("approve"))}</button>
    </li>`).join("");
  return `<article class="kiosk-card panel ${view.calls.length ? "calling" : ""}"
      data-kiosk="${esc(view.kiosk)}">
    <header class="kiosk-head">
      <h2>${esc(view.label || view.kiosk)}</h2>
      <span class="kiosk-id muted">${esc(view.kiosk)}</span>
      <span class="badge ${view.state === "online" ? "ok" : ""}">${esc(stateText(view.state))}</span>
    </header>
    ${bagLine}
    ${view.calls.length
    ? `<ul class="calls">${calls}</ul>`
    : `<p class="no-calls ok">${esc(t("calls.none"))}</p>`}
  </article>`;
}

async function reload() {
  try {
    const listed = await api("GET", "/api/v1/kiosks");
    kiosks.clear();
    for (const view of listed.kiosks) kiosks.set(view.kiosk, view);
    render();
  } catch (err) {
    showError(err);
  }
}

function onLive(message) {
  if (message.type !== "kiosk" || !message.kiosk) return;
  const known = kiosks.get(message.kiosk) || { kiosk: message.kiosk, label: "" };
  kiosks.set(message.kiosk, {
    ...known,
    state: message.state,
    calls: message.calls || [],
    bagging: message.bagging,
    last_seen: message.last_seen,
  });
  render();
}

async function approve(kiosk, call) {
  if (approving.has(call)) return;
  approving.add(call);
  render();
  try {
    await api("POST", `/api/v1/kiosks/${encodeURIComponent(kiosk)}/calls/${encodeURIComponent(call)}/approve`);
    const view = kiosks.get(kiosk);
    if (view) view.calls = view.calls.filter((c) => c.id !== call);
    toast(t("approved", { kiosk }));
  } catch (err) {
    showError(err);
    await reload();
  } finally {
    approving.delete(call);
    render();
  }
}

async function start() {
  const store = await api("GET", "/api/v1/store");
  setStore(store);
  await loadI18n(UI, savedLocale(UI) || store.locale);
  const session = await ensureSession({ staff: true });
  const who = session.staff || "";
  const language = $(".language");
  language.value = await loadI18n(UI, savedLocale(UI, who) || savedLocale(UI) || store.locale);
  language.addEventListener("change", async () => {
    saveLocale(UI, who, language.value);
    await loadI18n(UI, language.value);
  });
  onLocaleChange(render);
  $(".who").textContent = [session.name, session.till].filter(Boolean).join(" · ");
  $(".kiosks").addEventListener("click", (event) => {
    const button = event.target.closest("[data-approve]");
    if (button) approve(button.dataset.kiosk, button.dataset.approve);
  });
  await reload();
  connectLive(["attendant"], onLive, {
    onState: (state) => {
      const badge = $(".live");
      badge.dataset.i18n = `live.${state}`;
      badge.className = `live badge ${state === "online" ? "ok" : "bad"}`;
      badge.textContent = t(`live.${state}`);
    },
    onResync: reload,
  });
}

start();
