// The bagging-area check: after each item (and each new reading of the kiosk's scale) the
// server compares the scale with what the basket should weigh (POST …/bagging, the rule in
// edge/domain/kiosk.py). A mismatch that lasts longer than the grace period calls an
// attendant; putting things right withdraws the call, an approval accepts the bag as it is.

import { api } from "../common/api.js";
import { grams, t } from "../common/i18n.js";
import { $ } from "../common/ui.js";

export function createBagging({ kiosk, graceMs, lines, active, blocked, onChange, onMismatch,
  onRecovered }) {
  let offset = 0; // weight an attendant accepted beyond the basket (the shopper's own bag)
  let last = null;
  let timer = null;
  let running = null;
  let again = false;

  async function run() {
    const result = await api("POST", `/api/v1/kiosks/${encodeURIComponent(kiosk)}/bagging`,
      { lines: lines(), offset_grams: offset });
    last = result;
    render();
    onChange();
    return result;
  }

  async function check() {
    if (!active()) return;
    if (running) {
      again = true;
      return;
    }
    try {
      running = run();
      const result = await running;
      judge(result);
    } catch {
      /* the next reading checks again */
    } finally {
      running = null;
    }
    if (again) {
      again = false;
      check();
    }
  }

  function judge(result) {
    if (!result.settled) return;
    const current = blocked();
    if (result.ok) {
      clearTimeout(timer);
      timer = null;
      if (current && current.reason === "weight_mismatch") onRecovered();
      return;
    }
    if (current || timer) return;
    timer = setTimeout(async () => {
      timer = null;
      if (!active() || blocked()) return;
      let latest;
      try {
        latest = await run();
      } catch {
        return;
      }
      if (latest.settled && !latest.ok && active() && !blocked()) {
        onMismatch(latest, () => {
          if (last && last.settled) offset += last.actual_grams - last.expected_grams;
          check();
        });
      }
    }, graceMs);
  }

  function render() {
    const box = $(".bagging");
    const text = $(".bagging-text");
    if (!last || !last.settled) {
      box.dataset.state = "idle";
      text.textContent = t("bag.waiting");
      return;
    }
    box.dataset.state = last.ok ? "ok" : "bad";
    text.textContent = last.ok
      ? t("bag.ok", { actual: grams(last.actual_grams) })
      : t("bag.mismatch", { expected: grams(last.expected_grams), actual: grams(last.actual_grams) });
  }

  return {
    check,
    render,
    ok: () => !last || !last.settled || last.ok,
    last: () => last,
    pause() {
      clearTimeout(timer);
      timer = null;
    },
    reset() {
      clearTimeout(timer);
      timer = null;
      offset = 0;
      last = null;
      render();
    },
  };
}
