// Staff: the list with each person's sign-in record and, for a role with staff.write, adding
// someone, changing their name, role or commission, resetting their PIN (asked twice) and
// deactivating them. A badge is never shown: an edit keeps it unless a new one is scanned or
// it is removed.

import { api } from "../common/api.js";
import { dateTime, number, t } from "../common/i18n.js";
import { may } from "../common/session.js";
import { $, esc, toast } from "../common/ui.js";
import {
  checkbox, checkForm, confirmDialog, field, fieldError, input, Invalid, oops, openDialog,
  readText, select,
} from "./forms.js";
import { frame, tableHtml } from "./tables.js";

const ROLES = ["cashier", "supervisor", "manager", "technician"];
const STAFF_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,19}$/;

/** Return why a PIN is refused (the server's rule), or "" when it is fine. */
export function pinProblem(pin) {
  if (!/^\d{4,8}$/.test(pin)) return t("err.bad_pin");
  if (new Set(pin).size === 1 || "0123456789".includes(pin) || "9876543210".includes(pin)) {
    return t("err.weak_pin");
  }
  return "";
}

function pinFields() {
  return `${field("pin", "staff.pin", input("pin", "", { type: "password", inputmode: "numeric",
    maxlength: 8, autocomplete: "new-password" }), { hint: "staff.pin_hint" })}
    ${field("pin_again", "staff.pin_again", input("pin_again", "", { type: "password",
      inputmode: "numeric", maxlength: 8, autocomplete: "new-password" }))}`;
}

function readPin(form) {
  const pin = form.elements.pin.value;
  const problem = pinProblem(pin);
  if (problem) fieldError(form, "pin", problem);
  else if (form.elements.pin_again.value !== pin) {
    fieldError(form, "pin_again", t("staff.pin_mismatch"));
  }
  return pin;
}

function readCommission(form) {
  const text = form.elements.commission.value.trim().replace(",", ".");
  if (!text) return 0;
  if (!/^\d+(\.\d{1,2})?$/.test(text) || Number(text) > 100) {
    fieldError(form, "commission", t("problem.percent_or_zero"));
    return 0;
  }
  return Math.round(Number(text) * 100);
}

// the server names the PIN's problem by code: show it next to the PIN
async function put(form, id, body) {
  try {
    return await api("PUT", `/api/v1/staff/${encodeURIComponent(id)}`, body);
  } catch (err) {
    if (["weak_pin", "bad_pin", "pin_required"].includes(err.code) && form.elements.pin) {
      fieldError(form, "pin", t(`err.${err.code}`));
      throw new Invalid();
    }
    if (err.code === "badge_conflict" && form.elements.badge) {
      fieldError(form, "badge", t("err.badge_conflict"));
      throw new Invalid();
    }
    throw err;
  }
}

function personForm(person) {
  const roles = ROLES.map((r) => [r, `role.${r}`]);
  return `<div class="grid2-form">
    ${field("id", "col.id", input("id", person ? person.id : "", {
      required: true, maxlength: 20, spellcheck: "false", readonly: !!person,
      autocapitalize: "characters" }))}
    ${field("name", "col.name", input("name", person ? person.name : "", {
      required: true, maxlength: 60 }))}
    ${field("role", "col.role", select("role", roles, person ? person.role : "cashier"))}
    ${field("commission", "staff.commission", input("commission", person
      ? number(person.commission_bp / 100, 2) : "0", { inputmode: "decimal", maxlength: 6 }))}
    ${person ? "" : pinFields()}
    ${field("badge", "staff.badge", input("badge", "", { maxlength: 64, spellcheck: "false",
      autocomplete: "off" }), { hint: person && person.badge ? "staff.badge_kept"
      : "staff.badge_hint" })}
  </div>
  <div class="row checks">
    ${person ? checkbox("active", "col.active", person.active) : ""}
    ${person && person.badge ? checkbox("remove_badge", "staff.remove_badge", false) : ""}
  </div>`;
}

/** Add someone (person null) or edit them; resolve their id or null. */
function editPerson(person) {
  return openDialog({
    id: "staff",
    title: person ? "staff.edit" : "staff.new",
    titleVars: { id: person ? person.id : "" },
    body: personForm(person),
    onSubmit: async (form) => {
      const id = person ? person.id : readText(form, "id", { required: true }).toUpperCase();
      if (id && !STAFF_ID.test(id)) fieldError(form, "id", t("staff.bad_id"));
      const name = readText(form, "name", { required: true });
      const commission = readCommission(form);
      const pin = person ? null : readPin(form);
      const badge = readText(form, "badge");
      if (badge && badge.length < 4) fieldError(form, "badge", t("staff.bad_badge"));
      checkForm(form);
      const body = {
        name, role: form.elements.role.value, commission_bp: commission,
        active: person ? form.elements.active.checked : true,
      };
      if (pin) body.pin = pin;
      if (badge) body.badge = badge;
      else if (form.elements.remove_badge && form.elements.remove_badge.checked) body.badge = null;
      const saved = await put(form, id, body);
      toast(t(`staff.${saved.outcome}`, { id }));
      return id;
    },
  });
}

/** Set a new PIN for someone; resolve their id or null. */
function resetPin(person) {
  return openDialog({
    id: "pin",
    title: "staff.pin_title",
    titleVars: { name: person.name, id: person.id },
    body: `<p class="muted">${esc(t("staff.pin_help"))}</p><div class="grid2-form">${pinFields()}</div>`,
    onSubmit: async (form) => {
      const pin = readPin(form);
      checkForm(form);
      await put(form, person.id, {
        name: person.name, role: person.role, active: person.active,
        commission_bp: person.commission_bp, pin,
      });
      toast(t("staff.pin_set", { id: person.id }));
      return person.id;
    },
  });
}

/** Deactivate (or reactivate) someone after asking; resolve their id or null. */
async function toggleActive(person) {
  const key = person.active ? "deactivate" : "activate";
  if (!await confirmDialog(`staff-${key}`, `staff.${key}_title`, `staff.${key}_question`,
    { name: person.name, id: person.id }, `staff.${key}`)) return null;
  await api("PUT", `/api/v1/staff/${encodeURIComponent(person.id)}`, {
    name: person.name, role: person.role, active: !person.active,
    commission_bp: person.commission_bp,
  });
  toast(t(`staff.${key}d`, { id: person.id }));
  return person.id;
}

/** The staff screen. */
export async function staff(main, today, session) {
  const canWrite = may(session, "staff.write");
  const body = frame(main, "staff", canWrite ? `<div class="row toolbar"><button type="button"
    class="new-staff">${esc(t("staff.new_button"))}</button></div>` : "");
  let people = [];
  async function load() {
    people = (await api("GET", "/api/v1/staff")).staff;
    const rows = people.map((s) => ({
      ...s, role: t(`role.${s.role}`),
      locked_until: s.locked_until && Date.parse(s.locked_until) > Date.now()
        ? dateTime(s.locked_until) : null,
    }));
    body.innerHTML = tableHtml(["id", "name", "role", "active", "commission_bp", "failures",
      "locked_until"], rows, null, {
      key: "id",
      actions: canWrite ? (s) => `<button type="button" class="small" data-edit="${esc(s.id)}">${
        esc(t("staff.edit_button"))}</button>
        <button type="button" class="small" data-pin="${esc(s.id)}">${
        esc(t("staff.pin_button"))}</button>
        ${s.id === session.staff ? "" : `<button type="button" class="small" data-toggle="${
          esc(s.id)}">${esc(t(s.active ? "staff.deactivate" : "staff.activate"))}</button>`}`
        : null,
    });
  }
  async function act(run) {
    try {
      const id = await run();
      if (id) {
        await load();
        const again = $(`tr[data-key="${CSS.escape(id)}"] button`, body);
        if (again) again.focus();
      }
    } catch (err) {
      oops(err);
    }
  }
  if (canWrite) {
    $(".new-staff", main).addEventListener("click", () => act(() => editPerson(null)));
    body.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-edit], button[data-pin], button[data-toggle]");
      if (!button) return;
      const { edit, pin, toggle } = button.dataset;
      const person = people.find((p) => p.id === (edit || pin || toggle));
      if (!person) return;
      if (edit) act(() => editPerson(person));
      else if (pin) act(() => resetPin(person));
      else act(() => toggleActive(person));
    });
  }
  await load();
}
