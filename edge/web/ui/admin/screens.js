// The back office's list screens over the existing APIs: devices (live), products, promotions,
// stock, members, pickup orders, staff, expenses, feedback, and the HQ link.

import { api } from "../common/api.js";
import { dateTime, t } from "../common/i18n.js";
import { $, esc, showError } from "../common/ui.js";
import { tableHtml } from "./tables.js";

function frame(main, id, inner = "") {
  main.innerHTML = `<section class="screen" data-screen="${esc(id)}">
    <h1>${esc(t(`nav.${id}`))}</h1>${inner}<div class="screen-body"></div></section>`;
  return $(".screen-body", main);
}

function named(rows) {
  const field = t("name.field");
  return rows.map((row) => ({ ...row, name: row[field] || row.name || row.name_zh || row.id }));
}

async function devices(main) {
  const body = frame(main, "devices");
  const data = await api("GET", "/api/v1/devices");
  const rows = data.devices.map((d) => ({
    ...d,
    state: t(`state.${d.state}`),
    paper: d.paper ? t(`paper.${d.paper}`) : null,
    last_seen: d.last_seen ? dateTime(d.last_seen) : null,
  }));
  const alerts = data.alerts.map((a) => ({
    ...a, kind: t(`alert.${a.kind}`), severity: t(`severity.${a.severity}`),
  }));
  body.innerHTML = `<div class="row counts">${Object.entries(data.bus.counts || {})
    .map(([k, v]) => `<span class="badge">${esc(k)}: ${esc(v)}</span>`).join("")}
    <span class="badge ${data.bus.running ? "ok" : "bad"}">${esc(t(data.bus.running
      ? "bus.running" : "bus.stopped"))}</span></div>
    <h2>${esc(t("devices.alerts"))}</h2>
    <div class="alerts">${tableHtml(["device", "kind", "severity"], alerts)}</div>
    <h2>${esc(t("devices.list"))}</h2>
    <div class="devices">${tableHtml(["id", "type", "till", "state", "paper", "model",
      "last_seen"], rows)}</div>`;
  for (const row of $$rows(body, ".devices")) {
    const state = data.devices[row.index].state;
    row.el.querySelector("[data-col=state]").classList.add(state === "online" ? "ok" : "bad");
    row.el.dataset.device = data.devices[row.index].id;
  }
}

function $$rows(root, selector) {
  return [...root.querySelectorAll(`${selector} tbody tr`)].map((el, index) => ({ el, index }));
}

async function products(main) {
  const body = frame(main, "products", `<form class="row search">
    <input name="q" type="search" data-i18n-placeholder="search" placeholder="${esc(t("search"))}">
    <button class="primary" type="submit">${esc(t("search"))}</button></form>`);
  async function load(q = "") {
    const data = await api("GET", `/api/v1/products?limit=200${q ? `&q=${encodeURIComponent(q)}` : ""}`);
    body.innerHTML = tableHtml(["id", "name", "category", "list_price", "member_price", "cost",
      "tax_class"], named(data.products));
  }
  $("form.search", main).addEventListener("submit", (event) => {
    event.preventDefault();
    load($("[name=q]", main).value.trim()).catch(showError);
  });
  await load();
}

async function promotions(main) {
  const body = frame(main, "promotions");
  const data = await api("GET", "/api/v1/promotions");
  body.innerHTML = tableHtml(["id", "name", "kind", "active"],
    named(data.promotions));
}

async function stock(main) {
  const body = frame(main, "stock");
  const [levels, alerts] = await Promise.all([
    api("GET", "/api/v1/stock"), api("GET", "/api/v1/stock/alerts"),
  ]);
  const flagged = alerts.alerts.map((a) => ({ ...a, alert: t(`stock.${a.alert}`) }));
  body.innerHTML = `<h2>${esc(t("stock.alerts"))}</h2>
    ${tableHtml(["product", "name", "on_hand", "reorder_point", "alert", "expires"],
      named(flagged))}
    <h2>${esc(t("stock.levels"))}</h2>
    ${tableHtml(["product", "name", "on_hand", "reserved", "available"], named(levels.stock))}`;
}

async function members(main) {
  const body = frame(main, "members", `<form class="row lookup">
    <input name="key" required data-i18n-placeholder="members.key"
      placeholder="${esc(t("members.key"))}">
    <button class="primary" type="submit">${esc(t("search"))}</button></form>`);
  $("form.lookup", main).addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = $("[name=key]", main).value.trim();
    try {
      const found = await api("GET", `/api/v1/members/lookup?key=${encodeURIComponent(key)}`);
      const member = found.member || found;
      body.innerHTML = tableHtml(["id", "name", "phone", "tier", "points", "stored_value"],
        [member]);
    } catch (err) {
      showError(err);
    }
  });
}

async function orders(main) {
  const body = frame(main, "orders");
  const data = await api("GET", "/api/v1/orders");
  body.innerHTML = tableHtml(["id", "customer", "status", "total", "created"],
    data.orders.map((o) => ({ ...o, customer: o.customer && (o.customer.name || o.customer) })));
}

async function staff(main) {
  const body = frame(main, "staff");
  const data = await api("GET", "/api/v1/staff");
  body.innerHTML = tableHtml(["id", "name", "role", "active", "commission_bp", "failures",
    "locked_until"], data.staff.map((s) => ({ ...s, role: t(`role.${s.role}`) })));
}

async function expenses(main, today) {
  const body = frame(main, "expenses");
  const first = `${today.slice(0, 8)}01`;
  const data = await api("GET", `/api/v1/expenses?from=${first}&to=${today}`);
  body.innerHTML = tableHtml(["date", "category", "amount", "note", "staff"],
    data.expenses || data.items || []);
}

async function feedback(main) {
  const body = frame(main, "feedback");
  const data = await api("GET", "/api/v1/feedback");
  body.innerHTML = tableHtml(["created", "kind", "text", "owner", "status"],
    data.feedback.map((f) => ({ ...f, created: f.created ? dateTime(f.created) : null })));
}

async function hq(main) {
  const body = frame(main, "hq");
  body.innerHTML = `<p class="panel"><span class="badge warn" data-hq="state">${
    esc(t("hq.not_configured"))}</span> ${esc(t("hq.help"))}</p>`;
}

/** Every list screen: the permission it needs and how it renders. */
export const SCREENS = [
  { id: "devices", permission: "device.read", render: devices, live: true },
  { id: "products", permission: "catalog.read", render: products },
  { id: "promotions", permission: "catalog.read", render: promotions },
  { id: "stock", permission: "catalog.read", render: stock },
  { id: "members", permission: "member.read", render: members },
  { id: "orders", permission: "order.fulfil", render: orders },
  { id: "staff", permission: "staff.read", render: staff },
  { id: "expenses", permission: "report.x", render: expenses },
  { id: "feedback", permission: "feedback.manage", render: feedback },
  { id: "hq", permission: "catalog.read", render: hq },
];
