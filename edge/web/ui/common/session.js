// Pairing and sign-in, shared by the three UIs. An unpaired browser first pairs with a one-time
// code from a manager (it becomes a till, a kiosk or an office screen); then staff sign in with
// their id and PIN (a kiosk needs no staff). Keyboard first: the fields take focus, Enter sends.

import { api, ApiError, setCsrf } from "./api.js";
import { applyI18n, t } from "./i18n.js";

function gate(kind) {
  const section = document.createElement("section");
  section.className = "gate";
  section.dataset.gate = kind;
  section.innerHTML = kind === "pair"
    ? `<form class="gate-card" autocomplete="off">
        <h1 data-i18n="pair.title"></h1>
        <p data-i18n="pair.help"></p>
        <label><span data-i18n="pair.code"></span>
          <input name="code" required minlength="4" maxlength="40" autocapitalize="characters"
            spellcheck="false" autofocus></label>
        <p class="gate-error" role="alert"></p>
        <button class="primary big" type="submit" data-i18n="pair.submit"></button>
      </form>`
    : `<form class="gate-card" autocomplete="off">
        <h1 data-i18n="signin.title"></h1>
        <p class="gate-till"></p>
        <label><span data-i18n="signin.staff"></span>
          <input name="staff" required maxlength="20" spellcheck="false" autofocus></label>
        <label><span data-i18n="signin.pin"></span>
          <input name="pin" type="password" inputmode="numeric" required maxlength="16"></label>
        <p class="gate-error" role="alert"></p>
        <button class="primary big" type="submit" data-i18n="signin.submit"></button>
      </form>`;
  applyI18n(section);
  document.body.append(section);
  const form = section.querySelector("form");
  form.elements[0].focus();
  return { section, form, error: section.querySelector(".gate-error") };
}

function errorText(err) {
  if (err instanceof ApiError) {
    if (err.code === "offline") return t("error.offline");
    return t("error.refused", { message: err.message });
  }
  return String(err);
}

function ask(kind, send) {
  return new Promise((resolve) => {
    const { section, form, error } = gate(kind);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      const button = form.querySelector("button");
      button.disabled = true;
      try {
        const result = await send(Object.fromEntries(new FormData(form)));
        section.remove();
        resolve(result);
      } catch (err) {
        error.textContent = errorText(err);
        if (form.elements.pin) form.elements.pin.value = "";
        form.elements[form.elements.pin ? 1 : 0].focus();
      } finally {
        button.disabled = false;
      }
    });
  });
}

/**
 * Return the session, pairing this browser and signing staff in first when needed. `asked` is
 * a GET /api/v1/session already under way (started with the page's other first requests).
 */
export async function ensureSession({ staff = true, asked = null } = {}) {
  let session = await (asked || api("GET", "/api/v1/session"));
  if (!session.till) {
    await ask("pair", (fields) => api("POST", "/api/v1/tills/pair", { code: fields.code.trim() }));
    session = await api("GET", "/api/v1/session");
  }
  setCsrf(session.csrf);
  if (staff && !session.staff) {
    session = await ask("signin", async (fields) =>
      api("POST", "/api/v1/session", { staff: fields.staff.trim(), pin: fields.pin }));
    setCsrf(session.csrf);
  }
  return session;
}

/** Sign the staff member out and show the sign-in form again. */
export async function signOut() {
  try {
    await api("DELETE", "/api/v1/session");
  } finally {
    location.reload();
  }
}

/** Tell whether the session's role may do `permission`. */
export function may(session, permission) {
  return (session.permissions || []).includes(permission);
}
