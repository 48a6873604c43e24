// Call log `#/calls`: search, sort, pages; the state lives in the hash
// (`#/calls?page=2&search=ab&sort=duration_seconds&order=asc`); refreshed live.

import { download, getText, query } from '../api.js';
import { h, note, replaceKeepingFocus, table } from '../dom.js';
import { count } from '../format.js';
import { CALL_COLUMNS, callRow } from '../rows.js';

const PAGE_SIZE = 25;
const SORTS = { Started: 'started_at', Duration: 'duration_seconds', Score: 'satisfaction_score' };
const DEBOUNCE_MS = 300;

function stateOf(q) {
  const page = Number.parseInt(q.get('page') || '1', 10);
  const sort = Object.values(SORTS).includes(q.get('sort')) ? q.get('sort') : 'started_at';
  const order = q.get('order') === 'asc' ? 'asc' : 'desc';
  return { page: Number.isFinite(page) && page >= 1 ? page : 1, search: q.get('search') || '', sort, order };
}

function hashOf(state) {
  const q = new URLSearchParams();
  if (state.page > 1) q.set('page', String(state.page));
  if (state.search) q.set('search', state.search);
  if (state.sort !== 'started_at') q.set('sort', state.sort);
  if (state.order !== 'desc') q.set('order', state.order);
  const s = q.toString();
  return `#/calls${s ? `?${s}` : ''}`;
}

export default function calls({ main, query: initial, run, signal }) {
  let state = stateOf(initial);
  let seq = 0;
  let last = null;
  let timer = null;

  // Search: debounced while typing, at once on Enter.
  const input = h('input', {
    id: 'search',
    type: 'search',
    value: state.search,
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: 'e.g. 555 or Maria',
  });
  const form = h(
    'form',
    { class: 'search', role: 'search' },
    h('label', { for: 'search' }, 'Search by phone or customer name'),
    h('div', { class: 'search-row' }, input, h('button', { type: 'submit' }, 'Search')),
  );
  const apply = () => {
    clearTimeout(timer);
    const search = input.value.trim();
    if (search === state.search) return;
    state = { ...state, search, page: 1 };
    history.replaceState(null, '', hashOf(state));
    run(() => load(false));
  };
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(apply, DEBOUNCE_MS);
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    apply();
  });

  // Sortable headers: th[aria-sort] > button[data-sort].
  const headers = CALL_COLUMNS.map((label) => {
    const key = SORTS[label];
    if (!key) return h('th', { scope: 'col' }, label);
    const button = h('button', { type: 'button', class: 'sort', 'data-sort': key }, label, h('span', { class: 'arrow', 'aria-hidden': 'true' }));
    button.addEventListener('click', () => {
      const order = state.sort === key ? (state.order === 'asc' ? 'desc' : 'asc') : 'desc';
      location.hash = hashOf({ ...state, sort: key, order, page: 1 });
    });
    return h('th', { scope: 'col', 'aria-sort': 'none' }, button);
  });
  const list = table({ id: 'calls-table', caption: 'Calls', headers });
  note(list.tbody, CALL_COLUMNS.length, 'Loading calls…', 'loading');

  const total = h('p', { id: 'calls-total', class: 'muted', 'aria-live': 'polite' });
  const prev = h('button', { id: 'prev-page', type: 'button', disabled: true }, '‹ Previous');
  const next = h('button', { id: 'next-page', type: 'button', disabled: true }, 'Next ›');
  const info = h('span', { id: 'page-info', 'aria-live': 'polite' }, 'Page 1 of 1');
  prev.addEventListener('click', () => {
    location.hash = hashOf({ ...state, page: Math.max(1, state.page - 1) });
  });
  next.addEventListener('click', () => {
    location.hash = hashOf({ ...state, page: state.page + 1 });
  });

  // Every call of the current search, in the current order (the pages are the screen's).
  const csv = h('button', { id: 'download-csv', type: 'button' }, 'Download CSV');
  csv.addEventListener('click', () => {
    const path = `/api/admin/calls/export.csv${query({ search: state.search, sort_by: state.sort, sort_order: state.order })}`;
    run(() => download(path, 'calls.csv'));
  });

  main.append(
    h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, 'Call log'), total, csv),
    form,
    list.wrap,
    h('nav', { class: 'pager', 'aria-label': 'Pages of calls' }, prev, info, next),
  );

  function showSort() {
    for (const th of headers) {
      const button = th.querySelector('button[data-sort]');
      if (!button) continue;
      const on = button.dataset.sort === state.sort;
      th.setAttribute('aria-sort', on ? (state.order === 'asc' ? 'ascending' : 'descending') : 'none');
      button.querySelector('.arrow').textContent = on ? (state.order === 'asc' ? ' ▲' : ' ▼') : ' ↕';
    }
  }
  showSort();

  async function load(quiet) {
    const n = ++seq;
    const path = `/api/admin/calls${query({
      page: state.page,
      page_size: PAGE_SIZE,
      search: state.search,
      sort_by: state.sort,
      sort_order: state.order,
    })}`;
    if (!quiet) list.table.setAttribute('aria-busy', 'true');
    try {
      const text = await getText(path, { signal });
      // An unchanged answer leaves the rows alone (and the focus where it is).
      if (n !== seq || `${path}\n${text}` === last) return;
      last = `${path}\n${text}`;
      const data = JSON.parse(text);
      const pages = Math.max(1, data.total_pages);
      total.dataset.value = String(data.total);
      total.textContent = `${count(data.total)} ${data.total === 1 ? 'call' : 'calls'}${state.search ? ` matching “${state.search}”` : ''}`;
      info.textContent = `Page ${data.page} of ${pages}`;
      prev.disabled = data.page <= 1;
      next.disabled = data.page >= pages;
      if (data.calls.length > 0) {
        replaceKeepingFocus(list.tbody, ...data.calls.map((c) => callRow(c)));
      } else {
        const why = data.total === 0 ? (state.search ? `No calls match “${state.search}”.` : 'No calls yet.') : 'No calls on this page.';
        note(list.tbody, CALL_COLUMNS.length, why, 'empty');
      }
    } finally {
      if (n === seq) list.table.setAttribute('aria-busy', 'false');
    }
  }

  /** The hash changed (back, forward, a header, a page button): show that state. */
  function update(q) {
    clearTimeout(timer);
    state = stateOf(q);
    input.value = state.search;
    showSort();
    run(() => load(false));
  }

  return {
    title: 'Call log',
    live: true,
    load,
    update,
    destroy: () => clearTimeout(timer),
  };
}
