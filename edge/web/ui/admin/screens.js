// The back office's screens over the existing APIs: devices (live), products, promotions,
// stock and counts, members, pickup orders, staff and the rota, expenses, feedback, the HQ
// link. Screens that edit live in their own modules; each shows only what the role may do.

import { api } from "../common/api.js";
import { dateTime, t } from "../common/i18n.js";
import { esc } from "../common/ui.js";
import { counts } from "./count.js";
import { hq } from "./hq.js";
import { members } from "./members.js";
import { products } from "./products.js";
import { promotions } from "./promotions.js";
import { rota } from "./rota.js";
import { staff } from "./staff.js";
import { stock } from "./stock.js";
import { frame, tableHtml } from "./tables.js";

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

async function orders(main) {
  const body = frame(main, "orders");
  const data = await api("GET", "/api/v1/orders");
  body.innerHTML = tableHtml(["id", "customer", "status", "total", "created"],
    data.orders.map((o) => ({ ...o, customer: o.customer && (o.customer.name || o.customer) })));
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

/** Every list screen: the permission it needs and how it renders. */
export const SCREENS = [
  { id: "devices", permission: "device.read", render: devices, live: true },
  { id: "products", permission: "catalog.read", render: products },
  { id: "promotions", permission: "catalog.read", render: promotions },
  { id: "stock", permission: "catalog.read", render: stock },
  { id: "count", permission: "stock.receive", render: counts },
  { id: "members", permission: "member.read", render: members },
  { id: "orders", permission: "order.fulfil", render: orders },
  { id: "staff", permission: "staff.read", render: staff },
  { id: "rota", permission: "staff.read", render: rota },
  { id: "expenses", permission: "report.x", render: expenses },
  { id: "feedback", permission: "feedback.manage", render: feedback },
  { id: "hq", permission: "hq.read", render: hq },
];
