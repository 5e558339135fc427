// The store API from a browser: JSON in and out, the CSRF token on every write, errors as
// ApiError with the server's code and message (SPEC 2.4: {"error":{"code","message"}}).

let csrf = null;

export class ApiError extends Error {
  constructor(status, code, message, fields = []) {
    super(message);
    this.status = status;
    this.code = code;
    this.fields = fields;
  }
}

/** Remember the CSRF token from a pairing or sign-in answer. */
export function setCsrf(token) {
  csrf = token || null;
}

/**
 * Call the API. `approval` is "STAFF:PIN" for a supervisor's approval (X-Edge-Approval).
 * Returns the parsed JSON (null for an empty body) or throws ApiError.
 */
export async function api(method, path, body = undefined, { approval, signal } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (csrf && method !== "GET" && method !== "HEAD") headers["X-Edge-CSRF"] = csrf;
  if (approval) headers["X-Edge-Approval"] = approval;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      signal,
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "offline", String(err.message || err));
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      throw new ApiError(response.status, "bad_response", text.slice(0, 200));
    }
  }
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(response.status, error.code || "http_" + response.status,
      error.message || response.statusText, error.fields || []);
  }
  return data;
}

/** Return the text of a CSV (or other non-JSON) answer, throwing ApiError like api(). */
export async function apiText(path) {
  const response = await fetch(path, { credentials: "same-origin" });
  const text = await response.text();
  if (!response.ok) {
    let error = {};
    try {
      error = JSON.parse(text).error || {};
    } catch {
      /* not JSON */
    }
    throw new ApiError(response.status, error.code || "http_" + response.status,
      error.message || response.statusText);
  }
  return text;
}

/**
 * Return a new client-generated id (SPEC 2.4): a UUID version 7, the time in milliseconds
 * then 74 random bits. Ids made one after the other sort one after the other, so the store's
 * ledger adds each sale at the end of its index of sale ids instead of on a random page of an
 * index that grows with every sale.
 */
export function newId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let time = Date.now();
  for (let i = 5; i >= 0; i -= 1) {
    bytes[i] = time % 256;
    time = Math.floor(time / 256);
  }
  bytes[6] = (bytes[6] & 0x0f) | 0x70; // version 7
  bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 9562 variant
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)]
    .join("-");
}
