// A searchable, paged list whose state lives in the hash (`#/NAME?page=2&search=ab&sort=KEY&order=asc`):
// the call log and the customers page. The search is debounced while typing (at once on Enter);
// the sort and the pages move the hash; a total line and a pager follow every answer.

import { getText, query } from './api.js';
import { h, note, replaceKeepingFocus, table } from './dom.js';
import { count } from './format.js';

const PAGE_SIZE = 25;
const DEBOUNCE_MS = 300;

/**
 * The page of a list. What differs from one list to another is in `spec`:
 * - `name`: the route `#/NAME`, the API `/api/admin/NAME`, the answer's array `NAME`,
 *   the ids `NAME-table` and `NAME-total`;
 * - `title` (the heading), `caption` (the table's), `nouns` (`['call', 'calls']`);
 * - `columns` (their labels) and `row(item)` (a `tr`);
 * - `search`: `{label, placeholder}`;
 * - `sort`: `{default: [key, order], headers: {label: key}}` (the sortable columns' headers) or
 *   `{default: [key, order], select: id, options: [[key, order, label], …]}` (a picker beside the search);
 * - `actions(current)`: elements after the total line (`current()` is the state);
 * - `live`: refreshed quietly by the app, an unchanged answer leaving the rows (and the focus) alone.
 */
export function pagedList({ main, query: initial, run, signal }, spec) {
  const { name, title, caption, nouns, columns, row, search: searchText, live = false } = spec;
  const [sortDefault, orderDefault] = spec.sort.default;
  const keys = spec.sort.headers ? Object.values(spec.sort.headers) : spec.sort.options.map(([key]) => key);
  const otherOrder = orderDefault === 'asc' ? 'desc' : 'asc';

  function stateOf(q) {
    const page = Number.parseInt(q.get('page') || '1', 10);
    const sort = keys.includes(q.get('sort')) ? q.get('sort') : sortDefault;
    const order = q.get('order') === otherOrder ? otherOrder : orderDefault;
    return { page: Number.isFinite(page) && page >= 1 ? page : 1, search: q.get('search') || '', sort, order };
  }

  function hashOf(state) {
    const q = new URLSearchParams();
    if (state.page > 1) q.set('page', String(state.page));
    if (state.search) q.set('search', state.search);
    if (state.sort !== sortDefault) q.set('sort', state.sort);
    if (state.order !== orderDefault) q.set('order', state.order);
    const s = q.toString();
    return `#/${name}${s ? `?${s}` : ''}`;
  }

  let state = stateOf(initial);
  let seq = 0;
  let last = null;
  let timer = null;
  const go = (changes) => {
    location.hash = hashOf({ ...state, ...changes });
  };

  // Search: debounced while typing, at once on Enter.
  const input = h('input', {
    id: 'search',
    type: 'search',
    value: state.search,
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: searchText.placeholder,
  });
  const searchRow = h('div', { class: 'search-row' }, input, h('button', { type: 'submit' }, 'Search'));
  const sorter = spec.sort.headers ? sortHeaders(columns, spec.sort.headers, () => state, go) : sortPicker(spec.sort, go);
  const form = sorter.field
    ? h(
        'form',
        { class: 'filters', role: 'search' },
        h('div', { class: 'field grow' }, h('label', { for: 'search' }, searchText.label), searchRow),
        sorter.field,
      )
    : h('form', { class: 'search', role: 'search' }, h('label', { for: 'search' }, searchText.label), searchRow);
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

  const list = table({ id: `${name}-table`, caption, headers: sorter.headers || columns });
  note(list.tbody, columns.length, `Loading ${nouns[1]}…`, 'loading');

  const total = h('p', { id: `${name}-total`, class: 'muted', 'aria-live': 'polite' });
  const prev = h('button', { id: 'prev-page', type: 'button', disabled: true }, '‹ Previous');
  const next = h('button', { id: 'next-page', type: 'button', disabled: true }, 'Next ›');
  const info = h('span', { id: 'page-info', 'aria-live': 'polite' }, 'Page 1 of 1');
  prev.addEventListener('click', () => go({ page: Math.max(1, state.page - 1) }));
  next.addEventListener('click', () => go({ page: state.page + 1 }));

  main.append(
    h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, title), total, spec.actions ? spec.actions(() => state) : []),
    form,
    list.wrap,
    h('nav', { class: 'pager', 'aria-label': `Pages of ${nouns[1]}` }, prev, info, next),
  );
  sorter.show(state);

  async function load(quiet) {
    const n = ++seq;
    const path = `/api/admin/${name}${query({
      page: state.page,
      page_size: PAGE_SIZE,
      search: state.search,
      sort_by: state.sort,
      sort_order: state.order,
    })}`;
    if (!quiet) list.table.setAttribute('aria-busy', 'true');
    try {
      const text = await getText(path, { signal });
      if (n !== seq) return;
      if (live) {
        // An unchanged answer leaves the rows alone (and the focus where it is).
        if (`${path}\n${text}` === last) return;
        last = `${path}\n${text}`;
      }
      const data = JSON.parse(text);
      const pages = Math.max(1, data.total_pages);
      const matching = state.search ? ` matching “${state.search}”` : '';
      total.dataset.value = String(data.total);
      total.textContent = `${count(data.total)} ${data.total === 1 ? nouns[0] : nouns[1]}${matching}`;
      info.textContent = `Page ${data.page} of ${pages}`;
      prev.disabled = data.page <= 1;
      next.disabled = data.page >= pages;
      const items = data[name];
      if (items.length > 0) {
        replaceKeepingFocus(list.tbody, ...items.map((item) => row(item)));
      } else {
        const why = data.total === 0 ? (state.search ? `No ${nouns[1]} match “${state.search}”.` : `No ${nouns[1]} yet.`) : `No ${nouns[1]} on this page.`;
        note(list.tbody, columns.length, why, 'empty');
      }
    } finally {
      if (n === seq) list.table.setAttribute('aria-busy', 'false');
    }
  }

  /** The hash changed (back, forward, the sort, a page button): show that state. */
  function update(q) {
    clearTimeout(timer);
    state = stateOf(q);
    input.value = state.search;
    sorter.show(state);
    run(() => load(false));
  }

  return { title, live, load, update, destroy: () => clearTimeout(timer) };
}

/** Sortable headers, `th[aria-sort] > button[data-sort]`: a click sorts by that column, again flips the order. */
function sortHeaders(columns, sortable, current, go) {
  const headers = columns.map((label) => {
    const key = sortable[label];
    if (!key) return h('th', { scope: 'col' }, label);
    const button = h('button', { type: 'button', class: 'sort', 'data-sort': key }, label, h('span', { class: 'arrow', 'aria-hidden': 'true' }));
    button.addEventListener('click', () => {
      const { sort, order } = current();
      go({ sort: key, order: sort === key ? (order === 'asc' ? 'desc' : 'asc') : 'desc', page: 1 });
    });
    return h('th', { scope: 'col', 'aria-sort': 'none' }, button);
  });
  function show(state) {
    for (const th of headers) {
      const button = th.querySelector('button[data-sort]');
      if (!button) continue;
      const on = button.dataset.sort === state.sort;
      th.setAttribute('aria-sort', on ? (state.order === 'asc' ? 'ascending' : 'descending') : 'none');
      button.querySelector('.arrow').textContent = on ? (state.order === 'asc' ? ' ▲' : ' ▼') : ' ↕';
    }
  }
  return { headers, show };
}

/** A `select#ID` of sort orders (`KEY:ORDER`), in its own field beside the search. */
function sortPicker({ select: id, options }, go) {
  const picker = h(
    'select',
    { id },
    options.map(([key, order, label]) => h('option', { value: `${key}:${order}` }, label)),
  );
  picker.addEventListener('change', () => {
    const [sort, order] = picker.value.split(':');
    go({ sort, order, page: 1 });
  });
  const field = h('div', { class: 'field' }, h('label', { for: id }, 'Sort by'), picker);
  return {
    field,
    show: (state) => {
      picker.value = `${state.sort}:${state.order}`;
    },
  };
}
