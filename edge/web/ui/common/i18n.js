// Message catalogs and locale formatting. Every visible string comes from a catalog:
// /ui/common/i18n/{locale}.json plus the UI's own /ui/{ui}/i18n/{locale}.json. Elements name
// their message with data-i18n (text), data-i18n-placeholder, data-i18n-title and
// data-i18n-aria-label; code calls t(key, vars). Amounts and dates use Intl per locale.

export const LOCALES = ["zh-CN", "en"];
let messages = {};
let locale = "zh-CN";
let currency = "CNY";
let timeZone = undefined;
let exponent = 2;
const listeners = new Set();

async function catalog(path) {
  const response = await fetch(path, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`cannot load ${path}: ${response.status}`);
  return response.json();
}

/** Load the catalogs of `ui` in `wanted` (falls back to zh-CN) and translate the page. */
export async function loadI18n(ui, wanted) {
  locale = LOCALES.includes(wanted) ? wanted : "zh-CN";
  const [common, own] = await Promise.all([
    catalog(`/ui/common/i18n/${locale}.json`),
    catalog(`/ui/${ui}/i18n/${locale}.json`),
  ]);
  messages = { ...common, ...own };
  document.documentElement.lang = locale;
  applyI18n(document);
  for (const listener of listeners) listener(locale);
  return locale;
}

/** Call `listener(locale)` after every language change. */
export function onLocaleChange(listener) {
  listeners.add(listener);
}

/** Set the store's currency and time zone (from GET /api/v1/store). */
export function setStore({ currency: code, timezone, exponent: digits }) {
  if (code) currency = code;
  if (timezone) timeZone = timezone;
  if (Number.isInteger(digits)) exponent = digits;
}

export function getLocale() {
  return locale;
}

/** Return the store's IANA time zone (undefined before the store is known). */
export function storeTimeZone() {
  return timeZone;
}

/** Return how many decimals the store's currency has (2 for CNY). */
export function currencyExponent() {
  return exponent;
}

/** Return the message for `key` with {name} placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const text = messages[key];
  if (text === undefined) {
    console.warn(`missing message ${key} (${locale})`);
    return key;
  }
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

/** Translate every element under `root` that names a message. */
export function applyI18n(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const [attr, data] of [["placeholder", "i18nPlaceholder"], ["title", "i18nTitle"],
    ["aria-label", "i18nAriaLabel"]]) {
    for (const el of root.querySelectorAll(`[data-${"i18n-" + attr}]`)) {
      el.setAttribute(attr, t(el.dataset[data]));
    }
  }
}

/** Format an amount in minor units (fen, cents) in the store's currency. */
export function money(minor) {
  const value = Number(minor || 0) / 10 ** exponent;
  return new Intl.NumberFormat(locale, {
    style: "currency", currency, minimumFractionDigits: exponent, maximumFractionDigits: exponent,
  }).format(value);
}

/** Format an amount in minor units as a plain number (for inputs and CSV-like cells). */
export function plain(minor) {
  return (Number(minor || 0) / 10 ** exponent).toFixed(exponent);
}

/** Parse a typed amount ("12.5", "12,50") into minor units; NaN when it is not one. */
export function parseMoney(text) {
  const cleaned = String(text).trim().replace(",", ".");
  if (!/^\d+(\.\d*)?$/.test(cleaned)) return NaN;
  return Math.round(Number(cleaned) * 10 ** exponent);
}

export function number(value, digits = 0) {
  return new Intl.NumberFormat(locale, { maximumFractionDigits: digits }).format(value);
}

/** Format grams as kilograms with three decimals. */
export function grams(value) {
  return new Intl.NumberFormat(locale, { minimumFractionDigits: 3, maximumFractionDigits: 3 })
    .format(value / 1000) + " kg";
}

export function dateTime(iso) {
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short", timeZone })
    .format(new Date(iso));
}

export function date(iso) {
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeZone }).format(new Date(iso));
}

export function time(iso) {
  return new Intl.DateTimeFormat(locale, { timeStyle: "short", timeZone }).format(new Date(iso));
}

/** Return the locale a user chose on this browser (per UI, per staff id), else null. */
export function savedLocale(ui, who = "") {
  const value = localStorage.getItem(`edge.locale.${ui}.${who}`);
  return LOCALES.includes(value) ? value : null;
}

export function saveLocale(ui, who, value) {
  localStorage.setItem(`edge.locale.${ui}.${who}`, value);
}
