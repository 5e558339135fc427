// Dialog plumbing of the till: every <dialog> holds one form whose only submit button is the
// default action (Enter); the other buttons are type="button" with a value. Esc closes a
// dialog natively; closing one gives the focus back to the scan field.

import { ApiError } from "../common/api.js";
import { t } from "../common/i18n.js";
import { $, $$ } from "../common/ui.js";

/** Call `onAction(value, form)` for the dialog's submit (Enter) and its valued buttons. */
export function wire(dialog, onAction) {
  const form = $("form", dialog);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    onAction((event.submitter && event.submitter.value) || "ok", form);
  });
  for (const button of $$("button[type=button][value]", dialog)) {
    button.addEventListener("click", () => {
      if (button.value === "cancel") dialog.close("cancel");
      else onAction(button.value, form);
    });
  }
}

/** Tell whether any dialog is open (scans and shortcuts wait then). */
export function anyOpen() {
  return $$("dialog").some((d) => d.open);
}

/** Show `message` in the dialog's error line ("" clears it). */
export function setError(dialog, message) {
  const line = $(".dlg-error", dialog);
  if (line) line.textContent = message;
}

// Server error codes the till explains in its own words; others show the server's message.
const EXPLAINED = new Set([
  "unknown_barcode", "bad_check_digit", "bad_measure_check_digit", "not_weighed",
  "weight_required", "no_weight", "unstable_weight", "scale_not_bound", "unknown_member",
  "invalid_coupon", "tender_short", "overpaid", "till_closed", "till_open", "payment_declined",
  "payment_timeout", "invalid_card", "insufficient_funds", "return_exceeds_sale", "unknown_sale",
  "bad_receipt", "sign_in_refused", "approval_required", "approval_refused",
  "outside_business_hours", "no_open_day", "unknown_voucher", "voucher_used", "voucher_expired",
  "voucher_not_yours", "voucher_value", "insufficient_points", "bad_points_amount", "no_points",
  "insufficient_stored_value", "no_member", "bad_override", "already_returned",
]);

/** Return an API error as a sentence in the cashier's language. */
export function explain(err) {
  if (err instanceof ApiError) {
    if (err.code === "offline") return t("error.offline");
    if (EXPLAINED.has(err.code)) return t(`err.${err.code}`);
    return t("error.refused", { message: err.message });
  }
  return String((err && err.message) || err);
}

/**
 * Ask a supervisor standing at the till for their id and PIN; resolve "STAFF:PIN", or null
 * when cancelled. The server checks the PIN when the request carrying it arrives.
 */
export function askApproval(why) {
  const dialog = $(".dlg-approval");
  const form = $("form", dialog);
  form.reset();
  setError(dialog, "");
  $(".approval-why", dialog).textContent = why;
  return new Promise((resolve) => {
    function done(value) {
      form.removeEventListener("submit", submit);
      dialog.removeEventListener("close", closed);
      resolve(value);
    }
    function submit(event) {
      event.preventDefault();
      const staff = form.elements.staff.value.trim().toUpperCase();
      const pin = form.elements.pin.value;
      if (!staff || !pin) return;
      dialog.removeEventListener("close", closed);
      dialog.close("ok");
      done(`${staff}:${pin}`);
    }
    function closed() {
      done(null);
    }
    form.addEventListener("submit", submit);
    dialog.addEventListener("close", closed);
    dialog.showModal();
    form.elements.staff.focus();
  });
}

/** Tell whether an error means the approval (or its absence) was not accepted. */
export function approvalRefused(err) {
  return err instanceof ApiError && (err.status === 401 || err.status === 403);
}
