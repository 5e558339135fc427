// The back office (门店后台): sign in, then the dashboard, reports and the screens the signed-in
// role may use (nothing else is shown or called; the edits a screen offers follow the role's
// permissions too). Screens are addressed by the URL hash: #dashboard, #report/hourly, #devices.

import { api } from "../common/api.js";
import {
  getLocale, loadI18n, onLocaleChange, saveLocale, savedLocale, setStore, t,
} from "../common/i18n.js";
import { connectLive } from "../common/live.js";
import { ensureSession, may, signOut } from "../common/session.js";
import { $, esc } from "../common/ui.js";
import { oops } from "./forms.js";
import { REPORTS, renderDashboard, renderReport } from "./reports.js";
import { SCREENS } from "./screens.js";

const UI = "admin";
let session = null;
let storeInfo = null;
let current = "";
let refreshTimer = null;

/** Return the store's date today (YYYY-MM-DD in its time zone). */
function today() {
  return new Intl.DateTimeFormat("en-CA", { timeZone: storeInfo.timezone }).format(new Date());
}

function allowed() {
  const dashboard = may(session, "report.x")
    ? [{ id: "dashboard", hash: "dashboard", label: "nav.dashboard" }] : [];
  const reports = REPORTS.filter((r) => may(session, r.permission))
    .map((r) => ({ id: `report/${r.id}`, hash: `report/${r.id}`, label: `report.${r.id}`,
      group: "reports", report: r }));
  const screens = SCREENS.filter((s) => may(session, s.permission))
    .map((s) => ({ id: s.id, hash: s.id, label: `nav.${s.id}`, screen: s }));
  return [...dashboard, ...reports, ...screens];
}

function renderNav(items) {
  const nav = $("nav.side");
  const link = (item) => `<a href="#${esc(item.hash)}" data-nav="${esc(item.hash)}">${
    esc(t(item.label))}</a>`;
  const reports = items.filter((i) => i.group === "reports");
  const rest = items.filter((i) => i.group !== "reports");
  nav.innerHTML = `${rest.filter((i) => i.id === "dashboard").map(link).join("")}
    ${reports.length ? `<h2>${esc(t("nav.reports"))}</h2>${reports.map(link).join("")}` : ""}
    <h2>${esc(t("nav.store"))}</h2>${rest.filter((i) => i.id !== "dashboard").map(link).join("")}`;
  for (const a of nav.querySelectorAll("a")) {
    a.classList.toggle("current", a.dataset.nav === current);
  }
}

async function show() {
  const items = allowed();
  const wanted = location.hash.slice(1);
  const item = items.find((i) => i.hash === wanted) || items.find((i) => i.id === "dashboard")
    || items.find((i) => i.screen) || items[0];
  current = item ? item.hash : "";
  renderNav(items);
  const main = $("#main");
  if (!item) {
    main.innerHTML = `<p class="muted">${esc(t("nothing"))}</p>`;
    return;
  }
  try {
    if (item.id === "dashboard") await renderDashboard(main);
    else if (item.report) await renderReport(main, item.report, today());
    else await item.screen.render(main, today(), session);
  } catch (err) {
    oops(err);
  }
}

function onLive(message) {
  if (current !== "devices" || !["device", "paper"].includes(message.type)) return;
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(show, 300);
}

async function start() {
  const asked = api("GET", "/api/v1/session"); // in parallel with the store and the catalogs
  storeInfo = await api("GET", "/api/v1/store");
  setStore(storeInfo);
  await loadI18n(UI, savedLocale(UI) || storeInfo.locale);
  session = await ensureSession({ staff: true, asked });
  const who = session.staff || "";
  const language = $(".language");
  const wanted = savedLocale(UI, who) || savedLocale(UI) || storeInfo.locale;
  language.value = wanted === getLocale() ? wanted : await loadI18n(UI, wanted);
  language.addEventListener("change", async () => {
    saveLocale(UI, who, language.value);
    await loadI18n(UI, language.value);
  });
  onLocaleChange(() => show());
  $(".who").textContent = [session.name, session.till].filter(Boolean).join(" · ");
  const out = $(".signout");
  out.classList.remove("hidden");
  out.addEventListener("click", () => signOut());
  window.addEventListener("hashchange", () => show());
  const channels = may(session, "device.read") ? ["devices"] : [];
  connectLive(channels, onLive, {
    onState: (state) => {
      const badge = $(".live");
      badge.dataset.i18n = `live.${state}`;
      badge.className = `live badge ${state === "online" ? "ok" : "bad"}`;
      badge.textContent = t(`live.${state}`);
    },
    onResync: () => {
      if (current === "devices") show();
    },
  });
  await show();
}

start();
