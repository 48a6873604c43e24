// The dashboard: hash routing, the admin token prompt, the "cannot reach the API" banner,
// the loading state of <main> (aria-busy) and the live refresh of the overview and call log.

import { AuthError, NetError, get, supabaseConfig, supabaseSignIn, token } from './js/api.js';
import { h } from './js/dom.js';
import { zone } from './js/format.js';
import overview from './js/pages/overview.js';
import trends from './js/pages/trends.js';
import calls from './js/pages/calls.js';
import call from './js/pages/call.js';
import customer from './js/pages/customer.js';
import appointments from './js/pages/appointments.js';
import analytics from './js/pages/analytics.js';
import customers from './js/pages/customers.js';

const ROUTES = [
  [/^\/$/, overview, '#/'],
  [/^\/trends$/, trends, '#/trends'],
  [/^\/calls$/, calls, '#/calls'],
  [/^\/calls\/([^/]+)$/, call, '#/calls'],
  [/^\/customers$/, customers, '#/customers'],
  [/^\/customers\/([^/]+)$/, customer, '#/customers'],
  [/^\/appointments$/, appointments, '#/appointments'],
  [/^\/analytics$/, analytics, '#/analytics'],
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const alerts = document.getElementById('alerts');

/** How often the live pages re-fetch: `?refresh=MS` in the page's URL, else 5 s. */
const REFRESH_MS = (() => {
  const n = Number(new URLSearchParams(location.search).get('refresh'));
  return Number.isFinite(n) && n >= 100 ? n : 5000;
})();

let current = null; // {path, page, controller}
let generation = 0; // moves on at every page change: late answers for an old page are dropped
let busy = 0;
let timer = null;
let refreshing = false;
let navigated = false;

function parseHash() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, search = ''] = hash.split('?');
  return { path: path || '/', query: new URLSearchParams(search) };
}

function setBusy(delta) {
  busy = Math.max(0, busy + delta);
  main.setAttribute('aria-busy', busy > 0 ? 'true' : 'false');
}

/**
 * Runs a page's `work` with the page's loading state and sorts its failure: a 401 asks for
 * the token, an unreachable API shows the banner, anything else says what the API said.
 */
async function run(work, { quiet = false } = {}) {
  const mine = generation;
  if (!quiet) setBusy(+1);
  try {
    await work();
    if (mine === generation) clearApiError();
  } catch (e) {
    if (mine !== generation || e.name === 'AbortError') return;
    if (e instanceof AuthError) {
      showLogin();
    } else if (e instanceof NetError) {
      showApiError(e.message);
      if (!quiet) for (const el of main.querySelectorAll('.loading')) el.textContent = 'Not loaded.';
    } else {
      showProblem(e.message || String(e));
      if (!quiet) for (const el of main.querySelectorAll('.loading')) el.textContent = 'Not loaded.';
    }
  } finally {
    if (!quiet && mine === generation) setBusy(-1);
  }
}

function leave() {
  generation += 1;
  busy = 0;
  stopLive();
  if (current) {
    current.controller.abort();
    if (current.page.destroy) current.page.destroy();
  }
  current = null;
}

function markNav(path) {
  for (const a of nav.querySelectorAll('a')) {
    const href = a.getAttribute('href');
    const route = ROUTES.find(([re]) => re.test(path));
    if (href === `#${path}`) a.setAttribute('aria-current', 'page');
    else if (route && route[2] === href) a.setAttribute('aria-current', 'true');
    else a.removeAttribute('aria-current');
  }
}

/** Shows the page the hash names (or updates the current one when only its query changed). */
function render() {
  const { path, query } = parseHash();
  if (current && current.path === path && current.page.update) {
    current.page.update(query);
    return;
  }
  leave();
  markNav(path);
  main.replaceChildren();
  const route = ROUTES.find(([re]) => re.test(path));
  if (!route) {
    document.title = 'Not found — Ava analytics';
    main.append(
      h('h1', { tabindex: '-1' }, 'Page not found'),
      h('p', {}, 'There is no page at ', h('code', {}, `#${path}`), '. ', h('a', { href: '#/' }, 'Go to the overview'), '.'),
    );
    main.setAttribute('aria-busy', 'false');
    focusHeading();
    return;
  }
  const controller = new AbortController();
  const params = path.match(route[0]).slice(1).map(decodeURIComponent);
  const page = route[1]({ main, params, query, run, signal: controller.signal });
  current = { path, page, controller };
  document.title = `${page.title} — Ava analytics`;
  focusHeading();
  run(() => page.load(false));
  if (page.live) startLive();
}

function focusHeading() {
  // Only after the first page: at start the focus stays where the browser put it.
  if (!navigated) return;
  const heading = main.querySelector('h1');
  if (heading) heading.focus({ preventScroll: false });
}

function startLive() {
  stopLive();
  timer = setInterval(tick, REFRESH_MS);
}

function stopLive() {
  if (timer !== null) clearInterval(timer);
  timer = null;
}

function tick() {
  if (document.visibilityState !== 'visible' || refreshing || !current || !current.page.live) return;
  const page = current.page;
  refreshing = true;
  run(() => page.load(true), { quiet: true }).finally(() => {
    refreshing = false;
  });
}

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && timer !== null) tick();
});

// --- The admin token ---------------------------------------------------------------------

function showLogin() {
  if (document.getElementById('login')) return;
  leave();
  clearApiError();
  markNav('');
  document.title = 'Sign in — Ava analytics';
  const input = h('input', {
    id: 'token',
    name: 'token',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    'aria-describedby': 'login-help',
  });
  const email = h('input', { id: 'email', name: 'email', type: 'email', autocomplete: 'username' });
  const password = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password' });
  const submit = h('button', { id: 'login-submit', type: 'submit', class: 'primary' }, 'Sign in');
  const help = h(
    'p',
    { id: 'login-help' },
    'The analytics API needs the admin token (ADMIN_API_TOKEN). It is kept for this browser tab only.',
  );
  const tokenLabel = h('label', { for: 'token' }, 'Admin token');
  // Shown when the server names a Supabase project (`/config.json`).
  const account = h(
    'div',
    { id: 'login-account', class: 'login-account', hidden: true },
    h('label', { for: 'email' }, 'Email'),
    email,
    h('label', { for: 'password' }, 'Password'),
    password,
  );
  const form = h(
    'form',
    { id: 'login', class: 'login', novalidate: true, 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title', tabindex: '-1' }, 'Sign in'),
    help,
    account,
    tokenLabel,
    input,
    submit,
  );
  let supabase = null;
  supabaseConfig().then((config) => {
    if (!config || !form.isConnected) return;
    supabase = config;
    account.hidden = false;
    help.textContent = 'Sign in with your staff account, or enter the admin token. It is kept for this browser tab only.';
    tokenLabel.textContent = 'Or the admin token';
    input.required = false;
    if (!input.value) email.focus();
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = input.value.trim();
    const byAccount = supabase && email.value.trim() !== '';
    if (!value && !byAccount) {
      loginError(form, supabase ? 'Enter your email and password, or the admin token.' : 'Enter the admin token.');
      (supabase ? email : input).focus();
      return;
    }
    submit.disabled = true;
    try {
      if (byAccount) {
        token.set(await supabaseSignIn(supabase, email.value.trim(), password.value));
      } else {
        token.set(value);
      }
      await get('/api/admin/analytics/daily?days=1');
    } catch (e) {
      submit.disabled = false;
      token.clear();
      if (e instanceof AuthError) {
        if (byAccount) {
          loginError(form, `Sign-in refused: ${e.message}`);
          password.select();
          password.focus();
        } else {
          loginError(form, 'Wrong token: the API refused it. Check ADMIN_API_TOKEN and try again.');
          input.select();
          input.focus();
        }
      } else if (e instanceof NetError) {
        showApiError(e.message);
      } else {
        loginError(form, e.message || String(e));
      }
      return;
    }
    form.remove();
    clearApiError();
    render();
  });
  main.replaceChildren(form);
  main.setAttribute('aria-busy', 'false');
  input.focus();
}

function loginError(form, message) {
  let error = document.getElementById('login-error');
  if (!error) {
    error = h('p', { id: 'login-error', class: 'error', role: 'alert' });
    form.querySelector('#login-submit').before(error);
  }
  error.textContent = message;
  form.querySelector('#token').setAttribute('aria-invalid', 'true');
}

// --- Banners -----------------------------------------------------------------------------

function showApiError(message) {
  let banner = document.getElementById('api-error');
  if (!banner) {
    const retry = h('button', { id: 'retry', type: 'button' }, 'Retry');
    // Loads the page again, keeping its state (period, filters, page).
    retry.addEventListener('click', () => {
      clearApiError();
      if (document.getElementById('login')) document.getElementById('login-submit').click();
      else if (current) run(() => current.page.load(false));
      else render();
    });
    banner = h('div', { id: 'api-error', class: 'banner error', role: 'alert' }, h('p', {}), retry);
    alerts.append(banner);
  }
  banner.querySelector('p').textContent = message;
}

function clearApiError() {
  const banner = document.getElementById('api-error');
  if (banner) banner.remove();
}

function showProblem(message) {
  const old = document.getElementById('problem');
  if (old) old.remove();
  const close = h('button', { type: 'button', class: 'link' }, 'Dismiss');
  const banner = h('div', { id: 'problem', class: 'banner warning', role: 'alert' }, h('p', {}, message), close);
  close.addEventListener('click', () => banner.remove());
  alerts.append(banner);
}

// --- Start -------------------------------------------------------------------------------

document.getElementById('timezone').textContent = `Times in ${zone}`;
document.getElementById('skip').addEventListener('click', () => {
  const target = main.querySelector('h1') || main;
  target.focus();
});
window.addEventListener('hashchange', () => {
  navigated = true;
  const problem = document.getElementById('problem');
  if (problem) problem.remove();
  if (document.getElementById('login')) return;
  render();
});
render();
