// The JSON API of the same server: the admin token, and every failure sorted into what
// the page says about it (ask for the token, cannot reach the API, or the API's detail).

const KEY = 'ava.adminToken';

/** The API answered 401: the token is missing or wrong. */
export class AuthError extends Error {}

/** The API cannot be reached: a network error or a 5xx answer. */
export class NetError extends Error {}

/** Any other refusal (404, 422…), with the API's `detail`. */
export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

/** The admin token, kept for this tab's session only (never in the URL). */
export const token = {
  get() {
    try {
      return sessionStorage.getItem(KEY);
    } catch {
      return null;
    }
  },
  set(value) {
    sessionStorage.setItem(KEY, value);
  },
  clear() {
    sessionStorage.removeItem(KEY);
  },
};

/**
 * The Supabase project to sign in with, from `/config.json`: `{url, anonKey}`, or null
 * when the server has none (then the page asks for the admin token).
 */
export async function supabaseConfig() {
  try {
    const response = await fetch('/config.json', { cache: 'no-store', credentials: 'omit' });
    if (!response.ok) return null;
    const config = await response.json();
    if (!config.supabase_url || !config.supabase_anon_key) return null;
    return { url: config.supabase_url.replace(/\/+$/, ''), anonKey: config.supabase_anon_key };
  } catch {
    return null;
  }
}

/**
 * Signs in with email and password against Supabase Auth and returns the access token
 * (a JWT the API accepts as the bearer). Throws AuthError for wrong credentials,
 * NetError when Supabase cannot be reached.
 */
export async function supabaseSignIn(config, email, password) {
  let response;
  let body;
  try {
    response = await fetch(`${config.url}/auth/v1/token?grant_type=password`, {
      method: 'POST',
      headers: { apikey: config.anonKey, 'Content-Type': 'application/json' },
      body: JSON.stringify({ email, password }),
      credentials: 'omit',
    });
    body = await response.json().catch(() => ({}));
  } catch {
    throw new NetError(`Cannot reach Supabase at ${config.url}.`);
  }
  if (response.status >= 500) throw new NetError(`Supabase answered ${response.status}.`);
  if (!response.ok || !body.access_token) {
    throw new AuthError(body.error_description || body.msg || 'Wrong email or password.');
  }
  return body.access_token;
}

/** The text of a FastAPI `detail`: a string, or a list of `{loc, msg}`. */
function detailOf(text) {
  let detail;
  try {
    detail = JSON.parse(text).detail;
  } catch {
    return '';
  }
  if (typeof detail === 'string') return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((e) => [Array.isArray(e.loc) ? e.loc[e.loc.length - 1] : '', e.msg].filter(Boolean).join(': '))
      .join('; ');
  }
  return '';
}

/** GETs `path` with the token; the body as `read` reads it (text, blob), or the failure sorted. */
async function fetchBody(path, { signal, accept, read }) {
  const headers = { Accept: accept };
  const t = token.get();
  if (t) headers.Authorization = `Bearer ${t}`;
  let response;
  try {
    response = await fetch(path, { headers, signal, cache: 'no-store', credentials: 'omit' });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new NetError(`Cannot reach the API at ${location.host}: is ava serve running?`);
  }
  if (response.ok) {
    try {
      return await read(response);
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new NetError('The API stopped answering part-way.');
    }
  }
  const text = await response.text().catch(() => '');
  if (response.status === 401) throw new AuthError('The API wants the admin token.');
  if (response.status >= 500) {
    const detail = detailOf(text);
    throw new NetError(`Cannot reach the API: it answered ${response.status}${detail ? ` (${detail})` : ''}.`);
  }
  throw new ApiError(response.status, detailOf(text) || `The API answered ${response.status}.`);
}

/** GETs `path` and returns the body as text (the exact JSON the API printed). */
export async function getText(path, { signal } = {}) {
  return fetchBody(path, { signal, accept: 'application/json', read: (r) => r.text() });
}

/** GETs `path` (with the token, which a plain link could not send) and saves it as `filename`. */
export async function download(path, filename) {
  const blob = await fetchBody(path, { accept: 'text/csv', read: (r) => r.blob() });
  const url = URL.createObjectURL(blob);
  const link = Object.assign(document.createElement('a'), { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** GETs `path` and parses the JSON. */
export async function get(path, options) {
  return JSON.parse(await getText(path, options));
}

/** A query string of the non-empty `params` (a leading `?`, or nothing). */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}
