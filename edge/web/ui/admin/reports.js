// The dashboard and the reports: a date range in the store's time zone, a table, an SVG chart
// where it helps, and CSV export (the server's ?format=csv, or the same rows as CSV).

import { api } from "../common/api.js";
import { money, number, t } from "../common/i18n.js";
import { $, esc, showError } from "../common/ui.js";
import { barChart } from "./charts.js";
import { downloadCsv, offerDownload, tableHtml, toCsv } from "./tables.js";

/** Every report: its permission, where its figures come from, and what the chart plots. */
export const REPORTS = [
  { id: "daily", permission: "report.x", chart: ["date", "net"] },
  { id: "hourly", permission: "report.x", chart: ["hour", "net"] },
  { id: "category", permission: "report.x", chart: ["category", "net"] },
  { id: "payment", permission: "report.x", chart: ["kind", "net"] },
  { id: "tax", permission: "report.x" },
  { id: "discounts", permission: "report.x", chart: ["promotion", "amount"] },
  { id: "products", permission: "report.x", limit: 20, chart: ["product", "net"] },
  { id: "staff", permission: "report.x", path: "/api/v1/reports/staff",
    columns: ["staff", "tickets", "items", "gross", "returned", "net", "average_ticket",
      "commission"], rows: (d) => d.staff, chart: ["staff", "net"] },
  { id: "margin", permission: "report.z", chart: ["product", "margin"] },
  { id: "stock-value", permission: "report.z" },
  { id: "slow-movers", permission: "report.x", limit: 20 },
  { id: "near-expiry", permission: "catalog.read", path: "/api/v1/stock/alerts", noRange: true,
    columns: ["product", "name_zh", "name_en", "lot", "expires", "on_hand", "alert",
      "suggested_price"],
    rows: (d) => d.alerts.filter((a) => a.alert === "near_expiry" || a.alert === "expired") },
  { id: "replenishment", permission: "report.x", path: "/api/v1/stock/replenishment",
    noRange: true, serverCsv: true,
    columns: ["product", "name_zh", "name_en", "on_hand", "sold", "target", "pack_size",
      "packs", "order"], rows: (d) => d.suggestions },
];

const CHART_MONEY = new Set(["net", "amount", "margin"]);

function range(root) {
  return { from: $("[name=from]", root).value, to: $("[name=to]", root).value };
}

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value) search.set(key, value);
  const text = search.toString();
  return text ? `?${text}` : "";
}

function pathOf(report, params) {
  const base = report.path || `/api/v1/reports/${report.id}`;
  const wanted = report.noRange ? {} : { ...params };
  if (report.limit && !report.path) wanted.limit = report.limit;
  return base + query(wanted);
}

function chartOf(report, rows) {
  if (!report.chart || !rows.length) return null;
  const [x, y] = report.chart;
  const label = (row) => (x === "hour" ? String(row.hour).padStart(2, "0")
    : x === "date" ? row.date.slice(5) : String(row[x] ?? "–"));
  const format = CHART_MONEY.has(y) ? money : (v) => number(v);
  return barChart(rows.map((row) => ({ label: label(row), value: row[y] })), {
    format, title: t(`report.${report.id}`),
  });
}

/** Render one report screen into `main`; `today` is the store's date (YYYY-MM-DD). */
export async function renderReport(main, report, today) {
  main.innerHTML = `<section class="screen" data-screen="report" data-report="${esc(report.id)}">
    <h1>${esc(t(`report.${report.id}`))}</h1>
    <form class="row range">
      ${report.noRange ? "" : `
      <label><span>${esc(t("range.from"))}</span><input type="date" name="from" required></label>
      <label><span>${esc(t("range.to"))}</span><input type="date" name="to" required></label>
      <button class="primary" type="submit">${esc(t("range.show"))}</button>`}
      <button type="button" class="export">${esc(t("export.csv"))}</button>
    </form>
    <div class="chart-box"></div>
    <div class="report-table" aria-live="polite"></div>
  </section>`;
  const root = $("section", main);
  const form = $("form", root);
  if (!report.noRange) {
    $("[name=from]", root).value = today;
    $("[name=to]", root).value = today;
  }
  let shown = null;
  async function load() {
    const params = report.noRange ? {} : range(root);
    try {
      const data = await api("GET", pathOf(report, params));
      const columns = report.columns || data.columns;
      const rows = report.rows ? report.rows(data) : data.rows;
      shown = { columns, rows, params };
      $(".report-table", root).innerHTML = tableHtml(columns, rows, report.rows ? null : data.totals);
      const box = $(".chart-box", root);
      box.replaceChildren();
      const chart = chartOf(report, rows);
      if (chart) box.append(chart);
      root.dataset.loaded = `${params.from || ""}..${params.to || ""}`;
    } catch (err) {
      showError(err);
    }
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  $(".export", root).addEventListener("click", async () => {
    const params = report.noRange ? {} : range(root);
    const name = `${report.id}${params.from ? `-${params.from}-${params.to}` : ""}.csv`;
    try {
      if (!report.path || report.serverCsv) {
        const path = pathOf(report, params);
        await downloadCsv(path + (path.includes("?") ? "&" : "?") + "format=csv", name);
      } else if (shown) {
        offerDownload(toCsv(shown.columns, shown.rows), name);
      }
    } catch (err) {
      showError(err);
    }
  });
  await load();
}

/** Render the dashboard: today's sums, the hourly chart and the top 10 products. */
export async function renderDashboard(main) {
  const data = await api("GET", "/api/v1/reports/dashboard");
  const tiles = [
    ["net", money(data.net)],
    ["sales", number(data.sales)],
    ["average_ticket", money(data.average_ticket)],
    ["returns", number(data.returns)],
  ];
  main.innerHTML = `<section class="screen" data-screen="dashboard">
    <h1>${esc(t("nav.dashboard"))} <span class="muted">${esc(data.date)}</span></h1>
    <div class="tiles">${tiles.map(([key, value]) => `<div class="tile panel" data-tile="${key}">
      <span class="muted">${esc(t(`tile.${key}`))}</span><strong>${esc(value)}</strong></div>`)
    .join("")}</div>
    <div class="grid2">
      <div class="panel"><h2>${esc(t("dashboard.hourly"))}</h2><div class="chart-box"></div></div>
      <div class="panel"><h2>${esc(t("dashboard.top"))}</h2>${tableHtml(
        ["name", "quantity", "net"],
        data.top.map((row) => ({ ...row, name: row[t("name.field")] || row.product })),
      )}</div>
    </div>
  </section>`;
  const hours = data.hourly.map((row) => ({
    label: String(row.hour).padStart(2, "0"), value: row.net,
  }));
  $(".chart-box", main).append(barChart(hours, { format: money, title: t("dashboard.hourly") }));
}
