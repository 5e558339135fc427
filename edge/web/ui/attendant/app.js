// The attendant UI: sign in, then the screens of this UI.

import { api } from "../common/api.js";
import { loadI18n, saveLocale, savedLocale, setStore, t } from "../common/i18n.js";
import { connectLive } from "../common/live.js";
import { ensureSession } from "../common/session.js";
import { $ } from "../common/ui.js";

const UI = "attendant";

async function start() {
  const store = await api("GET", "/api/v1/store");
  setStore(store);
  await loadI18n(UI, savedLocale(UI) || store.locale);
  const session = await ensureSession({ staff: true });
  const who = session.staff || "";
  const language = $(".language");
  language.value = await loadI18n(UI, savedLocale(UI, who) || savedLocale(UI) || store.locale);
  language.addEventListener("change", async () => {
    saveLocale(UI, who, language.value);
    await loadI18n(UI, language.value);
  });
  $(".who").textContent = [session.name, session.till].filter(Boolean).join(" · ");
  connectLive([], () => {}, {
    onState: (state) => {
      const badge = $(".live");
      badge.dataset.i18n = `live.${state}`;
      badge.className = `live badge ${state === "online" ? "ok" : "bad"}`;
      badge.textContent = t(`live.${state}`);
    },
  });
}

start();
