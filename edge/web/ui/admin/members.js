// Members: look one up by phone, card number or member QR, and (member.write) add a member or
// edit one. Screens only ever see a phone masked, so an edit leaves the phone field empty: the
// number on file is kept unless a new one is typed (or it is removed).

import { api } from "../common/api.js";
import { money, t } from "../common/i18n.js";
import { may } from "../common/session.js";
import { $, esc, toast } from "../common/ui.js";
import {
  checkbox, checkForm, field, fieldError, formError, input, Invalid, oops, openDialog, readText,
} from "./forms.js";
import { frame, tableHtml } from "./tables.js";

const MEMBER_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/;
const PHONE = /^\+?\d{6,15}$/;
const CARD = /^[A-Za-z0-9-]{4,32}$/;
const TIER = /^[a-z][a-z0-9_]{0,19}$/;
const BIRTHDAY = /^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;

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

/** The members screen: look up, add, edit. */
export async function members(main, today, session) {
  const canWrite = may(session, "member.write");
  const body = frame(main, "members", `<form class="row lookup">
    <input name="key" required data-i18n-placeholder="members.key"
      placeholder="${esc(t("members.key"))}" aria-label="${esc(t("members.key"))}">
    <button class="primary" type="submit">${esc(t("search"))}</button>
    ${canWrite ? `<button type="button" class="new-member">${esc(t("member.new_button"))}</button>`
    : ""}</form>`);
  let shown = null;
  function render() {
    if (!shown) {
      body.innerHTML = "";
      return;
    }
    body.innerHTML = tableHtml(["id", "name", "phone", "card_no", "tier", "birthday", "points",
      "stored_value", "active"], [shown], null, {
      key: "id",
      actions: canWrite ? () => `<button type="button" class="small edit-member">${
        esc(t("member.edit_button"))}</button>` : null,
    });
    $("[data-col=stored_value]", body).textContent = money(shown.stored_value);
  }
  async function find(key) {
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
  if (canWrite) {
    const after = async (id) => {
      if (id) await find(id);
    };
    $(".new-member", main).addEventListener("click", () =>
      editMember(null).then(after).catch(oops));
    body.addEventListener("click", (event) => {
      if (event.target.closest(".edit-member") && shown) {
        editMember(shown).then(after).catch(oops);
      }
    });
  }
}
