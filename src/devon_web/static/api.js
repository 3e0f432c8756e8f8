// Talking to DEVON: every URL is built from window.__DEVON_BASE_URL__ (a reverse proxy that
// serves DEVON under a prefix rewrites it), JSON bodies say so, the API key is asked for
// only when the API answers 401, and a server that cannot be reached raises the banner.

const KEY_STORE = "devon.apiKey";
export const BASE = String(window.__DEVON_BASE_URL__ || "").replace(/\/+$/, "");

export function url(path) {
  return `${BASE}${path}`;
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

// ---- the API key ------------------------------------------------------------------------

let keyRequest = null;

function askForKey(message) {
  if (keyRequest) return keyRequest;
  const dialog = document.getElementById("key-dialog");
  const input = document.getElementById("key-input");
  const text = document.getElementById("key-message");
  text.textContent = message || "";
  text.hidden = !message;
  input.value = "";
  keyRequest = new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      keyRequest = null;
      const key = input.value.trim();
      if (dialog.returnValue === "ok" && key) {
        sessionStorage.setItem(KEY_STORE, key);
        resolve(true);
      } else {
        resolve(false);
      }
    }, { once: true });
  });
  dialog.returnValue = "";
  dialog.showModal();
  input.focus();
  return keyRequest;
}

// ---- the lost-server banner ---------------------------------------------------------------

const HEALTH_RETRY_MS = 2000;
let lost = false;
let lostListeners = [];

export function onReconnect(listener) {
  lostListeners.push(listener);
}

function showBanner() {
  const banner = document.getElementById("banner");
  banner.textContent = "The DEVON server cannot be reached. Retrying every few seconds…";
  banner.hidden = false;
}

async function healthy() {
  try {
    const res = await fetch(url("/health"), { cache: "no-store" });
    if (!res.ok) return false;
    const body = await res.json();
    return body && body.status === "ok";
  } catch {
    return false;
  }
}

async function serverLost() {
  if (lost) return;
  if (await healthy()) return;
  lost = true;
  showBanner();
  while (!(await healthy())) {
    await new Promise((resolve) => setTimeout(resolve, HEALTH_RETRY_MS));
  }
  lost = false;
  document.getElementById("banner").hidden = true;
  for (const listener of lostListeners) listener();
}

export function isLost() {
  return lost;
}

// ---- requests ----------------------------------------------------------------------------

const GATEWAY_ERRORS = new Set([502, 503, 504]);

// The raw Response of a request, after the key prompt. Throws ApiError when the server
// cannot be reached (status 0) or no key was given.
export async function send(method, path, { body, headers = {}, signal } = {}) {
  let refused = false;
  for (;;) {
    const key = sessionStorage.getItem(KEY_STORE);
    const init = { method, signal, headers: { Accept: "application/json", ...headers } };
    if (key) init.headers.Authorization = `Bearer ${key}`;
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(url(path), init);
    } catch (error) {
      if (error.name === "AbortError") throw error;
      serverLost();
      throw new ApiError(0, "The DEVON server cannot be reached");
    }
    if (GATEWAY_ERRORS.has(res.status)) serverLost();
    if (res.status !== 401) return res;
    if (key) {
      sessionStorage.removeItem(KEY_STORE);
      refused = true;
    }
    const message = refused ? "The server refused that key. Check it and enter it again." : "";
    if (!(await askForKey(message))) {
      throw new ApiError(401, "This server needs its API key: reload the page to enter it.");
    }
  }
}

async function detailOf(res) {
  const text = await res.text();
  try {
    const body = JSON.parse(text);
    if (body && typeof body.detail === "string") return body.detail;
  } catch {
    // not JSON: fall through
  }
  return `The server answered ${res.status} ${res.statusText}`.trim();
}

// The JSON answer of a request; errors as ApiError carrying the API's `detail`.
export async function api(method, path, options = {}) {
  const res = await send(method, path, options);
  if (!res.ok) throw new ApiError(res.status, await detailOf(res));
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

// A GET that revalidates with If-None-Match: answers {changed: false} on 304, else
// {changed: true, data, etag}.
export async function getIfChanged(path, etag) {
  const res = await send("GET", path, { headers: etag ? { "If-None-Match": etag } : {} });
  if (res.status === 304) return { changed: false };
  if (!res.ok) throw new ApiError(res.status, await detailOf(res));
  return { changed: true, data: await res.json(), etag: res.headers.get("ETag") };
}

// A POST answered with a job (202) or, by a server without the jobs API, with the
// finished download (200).
export async function post(path, body) {
  const res = await send("POST", path, { body });
  if (!res.ok) throw new ApiError(res.status, await detailOf(res));
  return { status: res.status, data: await res.json() };
}

export function quote(part) {
  return part.split("/").map(encodeURIComponent).join("/");
}
