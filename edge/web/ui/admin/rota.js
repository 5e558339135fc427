// The weekly rota (排班) as a grid: one row per active staff member, one column per day, each
// cell the shifts of that person that day ("9-17", "08:30-12:00, 18-22"; a shift ending before
// it starts runs past midnight). A manager edits and saves the whole week; others read it.
// Enter moves down a column, Tab along a row.

import { api } from "../common/api.js";
import { number, t } from "../common/i18n.js";
import { may } from "../common/session.js";
import { $, $$, esc, toast } from "../common/ui.js";
import { explain, oops } from "./forms.js";
import { frame } from "./tables.js";

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const pad = (n) => String(n).padStart(2, "0");

/** Return the Monday (YYYY-MM-DD) of the week holding `day`, moved by `weeks`. */
export function mondayOf(day, weeks = 0) {
  const [y, m, d] = day.split("-").map(Number);
  const date = new Date(Date.UTC(y, m - 1, d));
  date.setUTCDate(date.getUTCDate() - ((date.getUTCDay() + 6) % 7) + 7 * weeks);
  return date.toISOString().slice(0, 10);
}

function dateOf(monday, index) {
  const [y, m, d] = monday.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d + index)).toISOString().slice(0, 10);
}

function clock(hours, minutes) {
  const h = Number(hours);
  const mi = Number(minutes || 0);
  return h <= 23 && mi <= 59 ? `${pad(h)}:${pad(mi)}` : null;
}

/** Read one cell ("9-17, 18:30-22") into [{start, end}]; null when it cannot be read. */
export function parseShifts(text) {
  const shifts = [];
  for (const part of text.split(/[,，;；]+/).map((p) => p.trim()).filter(Boolean)) {
    const match = /^(\d{1,2})(?::?(\d{2}))?\s*[-–~]\s*(\d{1,2})(?::?(\d{2}))?$/.exec(part);
    if (!match) return null;
    const start = clock(match[1], match[2]);
    const end = clock(match[3], match[4]);
    if (!start || !end || start === end) return null;
    shifts.push({ start, end });
  }
  return shifts;
}

function minutes(shift) {
  const [sh, sm] = shift.start.split(":").map(Number);
  const [eh, em] = shift.end.split(":").map(Number);
  return ((eh * 60 + em) - (sh * 60 + sm) + 24 * 60) % (24 * 60);
}

const hours = (mins) => number(mins / 60, 1);

/** The rota screen. */
export async function rota(main, today, session) {
  const canWrite = may(session, "staff.write");
  let week = mondayOf(today);
  const body = frame(main, "rota", `<form class="row week-pick" autocomplete="off">
    <button type="button" class="prev" aria-label="${esc(t("rota.prev"))}">‹</button>
    <label><span>${esc(t("rota.week"))}</span><input type="date" name="week" required></label>
    <button type="button" class="next" aria-label="${esc(t("rota.next"))}">›</button>
    <span class="muted">${esc(t(canWrite ? "rota.help" : "rota.read_only"))}</span></form>`);
  const picker = $("form.week-pick", main);
  let people = [];

  function totals() {
    let all = 0;
    const perDay = DAYS.map(() => 0);
    for (const row of $$("tbody tr", body)) {
      let sum = 0;
      $$("input[data-day]", row).forEach((cell, index) => {
        const shifts = parseShifts(cell.value) || [];
        const mins = shifts.reduce((s, shift) => s + minutes(shift), 0);
        sum += mins;
        perDay[index] += mins;
      });
      all += sum;
      $(".row-total", row).textContent = hours(sum);
    }
    perDay.forEach((mins, index) => {
      $(`tfoot [data-day-total="${index}"]`, body).textContent = hours(mins);
    });
    $("tfoot .all-total", body).textContent = hours(all);
  }

  async function load() {
    const [listed, planned] = await Promise.all([
      api("GET", "/api/v1/staff"), api("GET", `/api/v1/rota/${week}`),
    ]);
    const onRota = new Set(planned.shifts.map((s) => s.staff));
    people = listed.staff.filter((s) => s.active || onRota.has(s.id));
    const cells = new Map();
    for (const shift of planned.shifts) {
      const key = `${shift.staff}/${shift.day}`;
      cells.set(key, [...(cells.get(key) || []), `${shift.start}-${shift.end}`]);
    }
    picker.elements.week.value = week;
    body.innerHTML = `<div class="table-wrap rota" data-week="${esc(week)}"><table><thead><tr>
      <th scope="col">${esc(t("col.staff"))}</th>${DAYS.map((day, i) => `<th scope="col">${
        esc(t(`day.${day}`))}<br><span class="muted">${esc(dateOf(week, i).slice(5))}</span></th>`)
        .join("")}<th class="num" scope="col">${esc(t("rota.hours"))}</th></tr></thead>
      <tbody>${people.map((p) => `<tr data-key="${esc(p.id)}"><th scope="row">${esc(p.name)}
        <span class="muted">${esc(p.id)} · ${esc(t(`role.${p.role}`))}</span></th>${DAYS.map((day) =>
        `<td><input data-day="${day}" data-staff="${esc(p.id)}" value="${
          esc((cells.get(`${p.id}/${day}`) || []).join(", "))}" ${canWrite ? "" : "readonly"}
          spellcheck="false" autocomplete="off" maxlength="40" aria-label="${
          esc(t("rota.cell", { name: p.name, day: t(`day.${day}`) }))}"></td>`).join("")}
        <td class="num row-total"></td></tr>`).join("")}</tbody>
      <tfoot><tr><th scope="row">${esc(t("rota.total"))}</th>${DAYS.map((_, i) =>
        `<td class="num" data-day-total="${i}"></td>`).join("")}<td class="num all-total"></td>
      </tr></tfoot></table></div>
      <p class="form-error rota-error" role="alert"></p>
      ${canWrite ? `<div class="row toolbar"><button type="button" class="primary save-rota">${
        esc(t("rota.save"))}</button><span class="muted rota-saved" role="status"></span></div>`
        : ""}`;
    totals();
    if (canWrite) $(".save-rota", body).addEventListener("click", save);
  }

  /** Read the grid; mark unreadable cells and return null if any. */
  function read() {
    const shifts = [];
    let bad = 0;
    for (const cell of $$("input[data-day]", body)) {
      const parsed = parseShifts(cell.value);
      cell.toggleAttribute("aria-invalid", parsed === null);
      if (parsed === null) bad += 1;
      for (const shift of parsed || []) {
        shifts.push({ staff: cell.dataset.staff, day: cell.dataset.day, ...shift });
      }
    }
    $(".rota-error", body).textContent = bad ? t("rota.bad_cells", { count: bad }) : "";
    return bad ? null : shifts;
  }

  async function save() {
    const shifts = read();
    if (!shifts) {
      const first = $("input[aria-invalid]", body);
      if (first) first.focus();
      return;
    }
    try {
      await api("PUT", `/api/v1/rota/${week}`, { shifts });
      $(".rota-saved", body).textContent = t("rota.saved", { week });
      toast(t("rota.saved", { week }));
    } catch (err) {
      // a refused shift names its index: mark that cell
      const where = (err.fields || []).map((f) => /shifts\[(\d+)\]/.exec(f.path)).find(Boolean)
        || /shifts\[(\d+)\]/.exec(err.message || "");
      if (where) {
        const shift = shifts[Number(where[1])];
        const cell = shift && $(`input[data-staff="${CSS.escape(shift.staff)}"][data-day="${
          shift.day}"]`, body);
        if (cell) cell.setAttribute("aria-invalid", "true");
      }
      $(".rota-error", body).textContent = explain(err);
    }
  }

  body.addEventListener("input", (event) => {
    if (!event.target.matches("input[data-day]")) return;
    event.target.toggleAttribute("aria-invalid", parseShifts(event.target.value) === null);
    $(".rota-saved", body)?.replaceChildren();
    totals();
  });
  body.addEventListener("keydown", (event) => {
    const cell = event.target.closest("input[data-day]");
    if (!cell || event.key !== "Enter") return;
    event.preventDefault();
    if (event.ctrlKey || event.metaKey) {
      save();
      return;
    }
    const column = $$(`input[data-day="${cell.dataset.day}"]`, body);
    const next = column[column.indexOf(cell) + 1];
    if (next) next.focus();
    else if (canWrite) $(".save-rota", body).focus();
  });
  const go = (weeks) => {
    week = mondayOf(week, weeks);
    load().catch(oops);
  };
  $(".prev", picker).addEventListener("click", () => go(-1));
  $(".next", picker).addEventListener("click", () => go(1));
  picker.elements.week.addEventListener("change", () => {
    if (!picker.elements.week.value) return;
    week = mondayOf(picker.elements.week.value);
    load().catch(oops);
  });
  picker.addEventListener("submit", (event) => event.preventDefault());
  await load();
}
