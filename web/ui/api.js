// api.js - the only way the page talks to the server: same origin, the
// session cookie (HttpOnly, never seen here), the CSRF token on every POST
// (docs/formats/http-api.md §2), JSON in and out.
let csrf = '';
let onExpired = () => {};
let lastUse = Date.now();

export function setCsrf(token) { csrf = token || ''; }
export function whenExpired(fn) { onExpired = fn; }
export function lastActivity() { return lastUse; }

export class ApiError extends Error {
  constructor(status, data) {
    super((data && data.error) || `HTTP ${status}`);
    this.status = status;
    this.data = data || {};
  }
}

// fetch path → {status, headers, data (parsed JSON) | blob (raw: true)}.
// A 401 outside /api/login and /api/me ends the session in the page.
export async function api(path, { method = 'GET', body, raw = false, quiet401 = false } = {}) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrf) headers['X-CSRF-Token'] = csrf;
  const res = await fetch(path, { method, headers, credentials: 'same-origin', cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body), redirect: 'error' });
  if (!/^\/api\/me$/.test(path)) lastUse = Date.now();
  const type = res.headers.get('Content-Type') || '';
  if (raw && res.ok) return { status: res.status, headers: res.headers, blob: await res.blob() };
  let data = null;
  if (/json/.test(type)) data = await res.json().catch(() => null);
  else if (!raw) data = { text: await res.text() };
  if (!res.ok) {
    if (res.status === 401 && !quiet401 && path !== '/api/login') onExpired();
    throw new ApiError(res.status, data);
  }
  return { status: res.status, headers: res.headers, data };
}

export const get = (path, opts) => api(path, opts).then((r) => r.data);
export const post = (path, body = {}, opts) => api(path, { ...opts, method: 'POST', body }).then((r) => r.data);

// '/api/x' + {a: 1, b: undefined} → '/api/x?a=1'
export function q(path, params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== null && v !== '') u.set(k, v);
  const s = u.toString();
  return s ? `${path}?${s}` : path;
}
