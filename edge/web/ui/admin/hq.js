// The HQ link (总部连接): the forwarder's state as GET /api/v1/hq reports it, asked again every
// few seconds while the screen is shown. A state badge, the backlog and the age of its oldest
// event, the acknowledged cursor against the ledger's head, the last error, the clock skew; a
// link that HQ stopped can be resumed by roles with hq.manage. Objects the status may gain
// later (the catalog downlink) are shown as rows of their keys and values.

import { api } from "../common/api.js";
import { dateTime, getLocale, number, t } from "../common/i18n.js";
import { may } from "../common/session.js";
import { $, esc, toast } from "../common/ui.js";
import { oops } from "./forms.js";
import { frame } from "./tables.js";

const REFRESH_MS = 3000;
const SKEW_NOISE_S = 2; // the forwarder ignores smaller differences (HQ's Date has 1 s steps)
const STATES = new Set(["off", "starting", "idle", "sending", "behind", "retrying", "backoff",
  "stopped", "stopped_by_shutdown"]);
const TONES = { idle: "ok", sending: "ok", off: "", stopped: "bad" };
const WAITING = new Set(["retrying", "backoff"]); // states whose next attempt is a retry
const REASONS = [
  [/^no HQ configured/, "not_configured"],
  [/primary process/, "worker"],
  [/hq-key/, "no_key"],
];
const ERROR_CODES = new Set(["timeout", "unreachable", "store_error", "bad_answer", "hq_ahead",
  "cursor_ahead", "bad_signature", "unknown_store", "chain_broken", "conflict"]);
const OUTCOMES = new Set(["acked", "resend", "retry", "shrink", "stop"]);
const SECTIONS = new Set(["downlink"]);
// keys of such objects (and of the status itself) with a label of their own (hq.field.<key>)
const FIELDS = new Set(["version", "synced_at", "synced_ts", "synced_seq", "last_sync_at",
  "state", "last_error", "rejected", "interval_s", "next_sync_in_s", "totals",
  "retry_requested"]);
// what the screen shows in its own places; other keys are listed as they come
const SHOWN = new Set(["url", "state", "reason", "acked_seq", "acked_at", "head_seq",
  "backlog_events", "oldest_unsent_ts", "oldest_unsent_age_s", "last_error", "stopped",
  "clock_skew_s", "next_attempt_in_s", "batches"]);
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;
const UNITS = [["day", 86400, 1.5 * 86400], ["hour", 3600, 1.5 * 3600], ["minute", 60, 90],
  ["second", 1, 0]];

/** Return the largest sensible unit for `seconds` and the count of it (rounded). */
function unitOf(seconds) {
  const abs = Math.abs(seconds);
  const [unit, size] = UNITS.find(([, , from]) => abs >= from);
  return [unit, Math.round(abs / size)];
}

/** Return a length of time in words of the user's language ("12 minutes", "12分钟"). */
export function duration(seconds) {
  const [unit, count] = unitOf(seconds);
  return new Intl.NumberFormat(getLocale(), { style: "unit", unit, unitDisplay: "long" })
    .format(count);
}

/** Return how long ago something was ("12 minutes ago", "12分钟前"). */
export function ago(seconds) {
  const [unit, count] = unitOf(seconds);
  return new Intl.RelativeTimeFormat(getLocale(), { numeric: "auto" }).format(-count, unit);
}

/** Return how soon something will be ("in 3 seconds", "3秒钟后"). */
function soon(seconds) {
  const [unit, count] = unitOf(seconds);
  return new Intl.RelativeTimeFormat(getLocale(), { numeric: "auto" }).format(count, unit);
}

/** Return the badge's words for a state (a missing HQ address says so). */
function stateText(state, reason) {
  if (state === "off" && reasonOf(reason) === "not_configured") return t("hq.state.not_configured");
  return STATES.has(state) ? t(`hq.state.${state}`) : String(state);
}

/** Return the badge's colour class: ok, warn, bad (or none while off). */
function tone(state) {
  return state in TONES ? TONES[state] : "warn";
}

/** Return the known reason a link is off (null for another one). */
function reasonOf(reason) {
  const known = REASONS.find(([pattern]) => pattern.test(reason || ""));
  return known ? known[1] : null;
}

/** Return why the link is off in the user's language. */
function reasonText(reason) {
  const known = reasonOf(reason);
  return known ? t(`hq.reason.${known}`) : t("hq.reason.other", { reason: reason || "" });
}

/** Return an error code of the link or of HQ in the user's language. */
function errorCode(code) {
  if (ERROR_CODES.has(code)) return t(`hq.error.${code}`);
  return t("hq.error.other", { code });
}

/** Return a value of a generic row as text: times, numbers, errors, lists in the user's terms. */
function valueText(value, key = "") {
  if (value === null || value === undefined || value === "") return "–";
  if (typeof value === "boolean") return t(value ? "yes" : "no");
  if (typeof value === "number" && key.endsWith("_s")) return duration(value);
  if (typeof value === "number") return number(value, 3);
  if (typeof value === "string") return ISO_TIME.test(value) ? dateTime(value) : value;
  if (Array.isArray(value)) {
    return value.length ? value.map(valueText).join(", ") : t("hq.none");
  }
  if (value.code || value.message) {
    return [value.code, value.message].filter(Boolean).join(": ");
  }
  return Object.entries(value).map(([k, v]) => `${k}: ${valueText(v, k)}`).join(", ");
}

/** Return the label of a key of a generic row (the key itself when it has none). */
function label(key) {
  return FIELDS.has(key) ? t(`hq.field.${key}`) : key;
}

/** Return a table of [key, label, value] rows. */
function rowsHtml(rows) {
  return `<table class="kv"><tbody>${rows.map(([key, label, value]) =>
    `<tr data-key="${esc(key)}"><th scope="row">${esc(label)}</th><td>${esc(value)}</td></tr>`)
    .join("")}</tbody></table>`;
}

/** Return the last error (code, HTTP status, time, HQ's own message). */
function errorHtml(error, ackedAt) {
  if (!error) return `<p class="muted" data-hq="last-error">${esc(t("hq.no_error"))}</p>`;
  const status = error.status ? ` · HTTP ${esc(error.status)}` : "";
  // an error before HQ's last acknowledgement is history: the link worked since
  const past = error.at && ackedAt && Date.parse(ackedAt) > Date.parse(error.at);
  return `<p data-hq="last-error"><strong>${esc(errorCode(error.code))}</strong>${status}
    ${error.at ? `· <span class="muted">${esc(dateTime(error.at))}</span>` : ""}<br>
    <span class="hq-message">${esc(error.message || "")}</span>${past ? `<br>
    <small class="muted hq-error-past">${esc(t("hq.error_past"))}</small>` : ""}</p>`;
}

/** Return the tiles: backlog, oldest unsent event's age, cursor / head, clock skew. */
function tilesHtml(doc) {
  const backlog = doc.backlog_events || 0;
  const skew = Number(doc.clock_skew_s || 0);
  let skewText = t("hq.skew.none");
  if (Math.abs(skew) >= SKEW_NOISE_S) {
    skewText = t(skew > 0 ? "hq.skew.behind" : "hq.skew.ahead", { time: duration(skew) });
  }
  const tiles = [
    ["backlog", number(backlog)],
    ["oldest", backlog ? ago(doc.oldest_unsent_age_s || 0) : t("hq.none")],
    ["cursor", `${number(doc.acked_seq || 0)} / ${number(doc.head_seq || 0)}`],
    ["skew", skewText],
  ];
  return `<div class="tiles">${tiles.map(([key, value]) => `<div class="tile panel"
    data-tile="${key}"><span class="muted">${esc(t(`hq.tile.${key}`))}</span>
    <strong data-hq="${key}">${esc(value)}</strong></div>`).join("")}</div>`;
}

/** Return the last error and the details table (other plain keys listed as they come). */
function detailsHtml(doc) {
  const rows = [
    ["url", t("hq.url"), doc.url || "–"],
    ["acked_at", t("hq.acked_at"), doc.acked_at ? dateTime(doc.acked_at) : t("hq.never")],
  ];
  if (doc.oldest_unsent_ts) {
    rows.push(["oldest_unsent_ts", t("hq.oldest_at"), dateTime(doc.oldest_unsent_ts)]);
  }
  if (WAITING.has(doc.state) && doc.next_attempt_in_s !== null
    && doc.next_attempt_in_s !== undefined) {
    rows.push(["next_attempt", t("hq.next_attempt"), soon(doc.next_attempt_in_s)]);
  }
  const batches = Object.entries(doc.batches || {});
  if (batches.length) {
    rows.push(["batches", t("hq.batches"), batches.map(([outcome, count]) =>
      `${OUTCOMES.has(outcome) ? t(`hq.outcome.${outcome}`) : outcome}: ${number(count)}`)
      .join(", ")]);
  }
  for (const [key, value] of Object.entries(doc)) {
    if (SHOWN.has(key) || (value && typeof value === "object" && !Array.isArray(value))) continue;
    rows.push([key, label(key), valueText(value, key)]);
  }
  // a stop's error is already in the stopped panel
  const same = (a, b) => ["code", "status", "message"].every((k) => a[k] === b[k]);
  const error = doc.stopped && doc.last_error && same(doc.last_error, doc.stopped) ? ""
    : `<h2>${esc(t("hq.last_error"))}</h2>${errorHtml(doc.last_error, doc.acked_at)}`;
  return `${error}<h2>${esc(t("hq.details"))}</h2>${rowsHtml(rows)}`;
}

/** Return the sections of objects the status carries beyond the uplink's (e.g. downlink). */
function extrasHtml(doc) {
  return Object.entries(doc)
    .filter(([key, value]) => !SHOWN.has(key) && value && typeof value === "object"
      && !Array.isArray(value))
    .map(([key, value]) => `<section class="hq-extra" data-hq-extra="${esc(key)}">
      <h2>${esc(SECTIONS.has(key) ? t(`hq.section.${key}`) : key)}</h2>
      ${rowsHtml(Object.entries(value).map(([k, v]) => [k, label(k), valueText(v, k)]))}</section>`)
    .join("");
}

/** Return the stopped alarm, with the resume button for roles that may resume. */
function stoppedHtml(stopped, canManage) {
  if (!stopped) return "";
  return `<div class="panel hq-stopped" data-hq="stopped" data-seq="${esc(stopped.seq)}">
    <h2>${esc(t("hq.stopped_title", { seq: number(stopped.seq) }))}</h2>
    <p><strong>${esc(errorCode(stopped.code))}</strong>${
      stopped.status ? ` · HTTP ${esc(stopped.status)}` : ""}${
      stopped.at ? ` · <span class="muted">${esc(dateTime(stopped.at))}</span>` : ""}<br>
      <span class="hq-message">${esc(stopped.message || "")}</span></p>
    <p class="muted">${esc(t(canManage ? "hq.stopped_help" : "hq.stopped_ask"))}</p>
    ${canManage ? `<button type="button" class="primary resume-hq">${
      esc(t("hq.resume"))}</button>` : ""}</div>`;
}

/** The HQ link screen: the link's live state, refreshed while the screen is open. */
export async function hq(main, today, session) {
  const body = frame(main, "hq");
  const section = body.closest("section.screen");
  const canManage = may(session, "hq.manage");
  body.innerHTML = `<div class="row hq-head"><span class="badge" data-hq="state"></span>
    <span class="hq-reason" data-hq="reason"></span>
    <small class="muted hq-refresh" role="status"></small></div>
    <div class="hq-stopped-box"></div><div class="hq-live"></div>`;
  const badge = $("[data-hq=state]", body);
  const stoppedBox = $(".hq-stopped-box", body);
  let stoppedKey = null;
  let timer = null;
  let resuming = false;

  /** Show a status document. */
  function draw(doc) {
    const state = String(doc.state || "");
    badge.textContent = stateText(state, doc.reason);
    badge.className = `badge ${tone(state)}`.trim();
    badge.dataset.state = state;
    section.dataset.state = state;
    $("[data-hq=reason]", body).textContent = state === "off" ? reasonText(doc.reason) : "";
    $(".hq-refresh", body).textContent = "";
    const live = $(".hq-live", body);
    if (state === "off") {
      live.innerHTML = `<p class="panel muted">${esc(t("hq.off_help"))}</p>`;
      stoppedBox.innerHTML = "";
      stoppedKey = null;
      return;
    }
    // the stopped panel is redrawn only when it changes (its button keeps focus)
    const key = JSON.stringify(doc.stopped || null);
    if (key !== stoppedKey) {
      stoppedBox.innerHTML = stoppedHtml(doc.stopped, canManage);
      stoppedKey = key;
    }
    live.innerHTML = tilesHtml(doc) + detailsHtml(doc) + extrasHtml(doc);
  }

  /** Ask for the status, show it and ask again in a few seconds while the screen is shown. */
  async function refresh() {
    try {
      const doc = await api("GET", "/api/v1/hq");
      if (!section.isConnected) return;
      draw(doc);
    } catch (err) {
      if (!section.isConnected) return;
      $(".hq-refresh", body).textContent = t("hq.refresh_failed");
    }
    // asked again while the screen is shown; leaving it (or redrawing it) ends the loop, and
    // of two refreshes at once (a timer's and the resume button's) the later one sets the timer
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (section.isConnected) refresh();
    }, REFRESH_MS);
  }

  if (canManage) {
    stoppedBox.addEventListener("click", async (event) => {
      const button = event.target.closest(".resume-hq");
      if (!button || resuming) return;
      resuming = true;
      button.disabled = true;
      try {
        await api("POST", "/api/v1/hq/retry");
        toast(t("hq.resumed"));
      } catch (err) {
        if (err.code === "not_stopped") toast(t("hq.not_stopped"));
        else oops(err);
      } finally {
        resuming = false;
        button.disabled = false;
      }
      if (section.isConnected) await refresh();
    });
  }
  await refresh();
}
