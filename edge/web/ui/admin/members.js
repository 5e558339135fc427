// Members: look one up by phone, card number or member QR, (member.write) add a member or
// edit one, and (stored_value.top_up) top up a member's stored value by card or QR. Screens
// only ever see a phone masked, so an edit leaves the phone field empty: the number on file is
// kept unless a new one is typed (or it is removed). The back office has no till and so no
// drawer: a top-up here is paid by card or QR, never in cash.

import { api, ApiError, newId } from "../common/api.js";
import { money, t } from "../common/i18n.js";
import { may } from "../common/session.js";
import { $, esc, toast } from "../common/ui.js";
import {
  checkbox, checkForm, field, fieldError, formError, input, Invalid, moneyInput, oops, openDialog,
  readMoney, readText, select,
} from "./forms.js";
import { frame, tableHtml } from "./tables.js";

const MEMBER_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/;
const PHONE = /^\+?\d{6,15}$/;
const CARD = /^[A-Za-z0-9-]{4,32}$/;
const TIER = /^[a-z][a-z0-9_]{0,19}$/;
const BIRTHDAY = /^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
const MAX_TOP_UP = 10_000_000; // minor units, as the server allows
const TOP_UP_TENDERS = [["card", "top_up.card"], ["qr", "top_up.qr"]];
// refusals of a top-up with a sentence of their own (top_up.err.<code>)
const TOP_UP_ERRORS = new Set(["payment_declined", "invalid_card", "insufficient_funds",
  "payment_timeout", "no_open_day", "id_reused", "bad_amount", "bad_tender", "no_till",
  "till_closed", "outside_hours"]);

/** Suggest an id for a new member: M and the time, unique enough for one store's desk. */
function suggestId() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `M${String(now.getFullYear()).slice(2)}${pad(now.getMonth() + 1)}${pad(now.getDate())}${
    pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`;
}

function memberForm(member) {
  return `<div class="grid2-form">
    ${field("id", "col.id", input("id", member ? member.id : suggestId(), {
      required: true, maxlength: 40, spellcheck: "false", readonly: !!member }))}
    ${field("name", "col.name", input("name", member ? member.name : "", { maxlength: 80 }))}
    ${field("phone", "col.phone", input("phone", "", { inputmode: "tel", maxlength: 24,
      placeholder: member && member.phone ? member.phone : "" }), {
      hint: member && member.phone ? "member.phone_kept" : "member.phone_hint" })}
    ${field("card_no", "col.card_no", input("card_no", member ? member.card_no : "", {
      maxlength: 32, spellcheck: "false" }))}
    ${field("tier", "col.tier", input("tier", member ? member.tier : "standard", {
      maxlength: 20, spellcheck: "false" }))}
    ${field("birthday", "col.birthday", input("birthday", member ? member.birthday : "", {
      maxlength: 5, placeholder: "MM-DD" }), { hint: "member.birthday_hint" })}
  </div>
  <div class="row checks">
    ${member ? checkbox("active", "col.active", member.active !== false) : ""}
    ${member && member.phone ? checkbox("remove_phone", "member.remove_phone", false) : ""}
  </div>`;
}

/** Add a member (null) or edit one; resolve the saved member's id or null. */
function editMember(member) {
  return openDialog({
    id: "member",
    title: member ? "member.edit" : "member.new",
    titleVars: { id: member ? member.id : "" },
    body: memberForm(member),
    onSubmit: async (form) => {
      const id = member ? member.id : readText(form, "id", { required: true });
      if (id && !MEMBER_ID.test(id)) fieldError(form, "id", t("problem.id"));
      const phone = readText(form, "phone").replace(/[\s-]/g, "");
      if (phone && !PHONE.test(phone)) fieldError(form, "phone", t("member.bad_phone"));
      const card = readText(form, "card_no");
      if (card && !CARD.test(card)) fieldError(form, "card_no", t("member.bad_card"));
      const tier = readText(form, "tier") || "standard";
      if (!TIER.test(tier)) fieldError(form, "tier", t("member.bad_tier"));
      const birthday = readText(form, "birthday");
      if (birthday && !BIRTHDAY.test(birthday)) fieldError(form, "birthday", t("member.bad_birthday"));
      const removing = form.elements.remove_phone && form.elements.remove_phone.checked;
      const keepsPhone = member && member.phone && !removing;
      if (!phone && !card && !keepsPhone) fieldError(form, "phone", t("problem.phone_or_card"));
      checkForm(form);
      const body = {
        name: readText(form, "name"), card_no: card || null, tier, birthday: birthday || null,
        active: member ? form.elements.active.checked : true,
      };
      if (phone) body.phone = phone;
      else if (!member || removing) body.phone = null; // an edit without a phone keeps it
      if (!member) {
        const known = await api("GET", `/api/v1/members/lookup?key=${encodeURIComponent(id)}`)
          .catch(() => null);
        if (known && known.id === id) {
          fieldError(form, "id", t("problem.id_taken", { id }));
          throw new Invalid();
        }
      }
      try {
        const saved = await api("PUT", `/api/v1/members/${encodeURIComponent(id)}`, body);
        toast(t(`member.${saved.outcome}`, { id }));
      } catch (err) {
        if (err.code === "member_conflict") {
          const where = /card_no/.test(err.message) ? "card_no" : "phone";
          fieldError(form, where, t("err.member_conflict"));
          formError(form, t("form.fix"));
          throw new Invalid();
        }
        throw err;
      }
      return id;
    },
  });
}

/** Return the top-up form: amount, bonus, card or QR, what the customer presents. */
function topUpForm(member) {
  return `<p class="top-up-now">${esc(t("top_up.balance_now", {
    balance: money(member.stored_value) }))}</p>
  <div class="grid2-form">
    ${field("amount", "top_up.amount", moneyInput("amount", null, { required: true }))}
    ${field("bonus", "top_up.bonus", moneyInput("bonus", null), { hint: "top_up.bonus_hint" })}
    ${field("tender", "top_up.tender", select("tender", TOP_UP_TENDERS, "card"))}
    ${field("presented", "top_up.presented", input("presented", "", {
      maxlength: 64, spellcheck: "false", autocomplete: "off" }), {
      hint: "top_up.presented_hint" })}
  </div>`;
}

/** Return a top-up's refusal as one sentence in the user's language (null: the usual one). */
function topUpRefusal(err) {
  if (!(err instanceof ApiError) || !TOP_UP_ERRORS.has(err.code)) return null;
  return t(`top_up.err.${err.code}`);
}

/**
 * Top up a member's stored value by card or QR; resolve the server's answer (the new balance)
 * with the amount and bonus, or null when cancelled. The dialog keeps one client id across
 * its retries, so a second press after a lost answer is the same top-up; a declined payment
 * (nothing taken, nothing recorded) makes the next press a new one.
 */
function topUp(member) {
  let id = newId();
  return openDialog({
    id: "top-up",
    title: "top_up.title",
    titleVars: { id: member.id, name: member.name || member.id },
    submit: "top_up.submit",
    body: topUpForm(member),
    onSubmit: async (form) => {
      const amount = readMoney(form, "amount", { required: true });
      if (Number.isFinite(amount) && (amount < 1 || amount > MAX_TOP_UP)) {
        fieldError(form, "amount", t("top_up.bad_amount", { max: money(MAX_TOP_UP) }));
      }
      const bonus = readMoney(form, "bonus") ?? 0;
      if (Number.isFinite(amount) && Number.isFinite(bonus) && bonus > amount) {
        fieldError(form, "bonus", t("top_up.bonus_high"));
      }
      checkForm(form);
      const body = { id, amount, bonus, tender: form.elements.tender.value };
      const presented = readText(form, "presented").replace(/\s/g, "");
      if (presented) body.presented = presented;
      try {
        const answer = await api("POST",
          `/api/v1/members/${encodeURIComponent(member.id)}/top-ups`, body);
        return { ...answer, amount, bonus };
      } catch (err) {
        if (err instanceof ApiError && err.status === 402) id = newId();
        const sentence = topUpRefusal(err);
        if (sentence) throw new Error(sentence);
        throw err;
      }
    },
  });
}

/** The members screen: look up, add, edit, top up. */
export async function members(main, today, session) {
  const canWrite = may(session, "member.write");
  const canTopUp = may(session, "stored_value.top_up");
  const body = frame(main, "members", `<form class="row lookup">
    <input name="key" required data-i18n-placeholder="members.key"
      placeholder="${esc(t("members.key"))}" aria-label="${esc(t("members.key"))}">
    <button class="primary" type="submit">${esc(t("search"))}</button>
    ${canWrite ? `<button type="button" class="new-member">${esc(t("member.new_button"))}</button>`
    : ""}</form>`);
  let shown = null;
  let toppedUp = null; // the last top-up done here: {member, amount, bonus, balance}
  /** Return the member row's buttons the role may use. */
  function actions(member) {
    return [
      canTopUp && member.active !== false ? `<button type="button" class="small top-up">${
        esc(t("top_up.button"))}</button>` : "",
      canWrite ? `<button type="button" class="small edit-member">${
        esc(t("member.edit_button"))}</button>` : "",
    ].join("");
  }
  /** Show the member found (and the last top-up done here). */
  function render() {
    if (!shown) {
      body.innerHTML = "";
      return;
    }
    body.innerHTML = tableHtml(["id", "name", "phone", "card_no", "tier", "birthday", "points",
      "stored_value", "active"], [shown], null, {
      key: "id",
      actions: canWrite || canTopUp ? actions : null,
    });
    $("[data-col=stored_value]", body).textContent = money(shown.stored_value);
    if (toppedUp && toppedUp.member === shown.id) {
      body.insertAdjacentHTML("beforeend", `<p class="panel top-up-done" role="status"
        data-balance="${esc(toppedUp.balance)}">${esc(t("top_up.result", {
        amount: money(toppedUp.amount), bonus: money(toppedUp.bonus),
        balance: money(toppedUp.balance) }))}</p>`);
    }
  }
  async function find(key) {
    if (!toppedUp || toppedUp.member !== key) toppedUp = null;
    try {
      shown = await api("GET", `/api/v1/members/lookup?key=${encodeURIComponent(key)}`);
    } catch (err) {
      shown = null;
      if (err.code === "unknown_member") body.innerHTML = `<p class="muted not-found">${
        esc(t("member.not_found", { key }))}</p>`;
      else oops(err);
      return;
    }
    render();
  }
  $("form.lookup", main).addEventListener("submit", (event) => {
    event.preventDefault();
    find($("[name=key]", main).value.trim());
  });
  const after = async (id) => {
    if (id) await find(id);
  };
  if (canWrite) {
    $(".new-member", main).addEventListener("click", () =>
      editMember(null).then(after).catch(oops));
  }
  body.addEventListener("click", (event) => {
    if (!shown) return;
    if (canWrite && event.target.closest(".edit-member")) {
      editMember(shown).then(after).catch(oops);
    } else if (canTopUp && event.target.closest(".top-up")) {
      const member = shown;
      topUp(member).then(async (done) => {
        if (!done) return;
        toast(t("top_up.done", { id: member.id, balance: money(done.balance) }));
        toppedUp = {
          member: member.id, amount: done.amount, bonus: done.bonus, balance: done.balance,
        };
        await find(member.id);
      }).catch(oops);
    }
  });
}
