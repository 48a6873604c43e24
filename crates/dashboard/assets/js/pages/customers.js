// Customers `#/customers`: search, sort, pages; the state lives in the hash
// (`#/customers?page=2&search=ma&sort=last_call&order=desc`).

import { getText, query } from '../api.js';
import { h, note, replaceKeepingFocus, table } from '../dom.js';
import { count, date, text, when, yesNo } from '../format.js';

const PAGE_SIZE = 25;
const SORTS = ['name', 'created_at', 'last_call'];
const ORDERS = [
  ['name', 'asc', 'Name, A to Z'],
  ['name', 'desc', 'Name, Z to A'],
  ['last_call', 'desc', 'Latest call first'],
  ['last_call', 'asc', 'Earliest last call first'],
  ['created_at', 'desc', 'Newest customers first'],
  ['created_at', 'asc', 'Oldest customers first'],
];
const COLUMNS = ['Name', 'Phone', 'Email', 'Calls', 'Appointments', 'Last call', 'Customer since', 'New client'];
const DEBOUNCE_MS = 300;

function stateOf(q) {
  const page = Number.parseInt(q.get('page') || '1', 10);
  const sort = SORTS.includes(q.get('sort')) ? q.get('sort') : 'name';
  const order = q.get('order') === 'desc' ? 'desc' : 'asc';
  return { page: Number.isFinite(page) && page >= 1 ? page : 1, search: q.get('search') || '', sort, order };
}

function hashOf(state) {
  const q = new URLSearchParams();
  if (state.page > 1) q.set('page', String(state.page));
  if (state.search) q.set('search', state.search);
  if (state.sort !== 'name') q.set('sort', state.sort);
  if (state.order !== 'asc') q.set('order', state.order);
  const s = q.toString();
  return `#/customers${s ? `?${s}` : ''}`;
}

/** `tr[data-customer-id]`: the name links to the customer's page. */
function customerRow(c) {
  return h(
    'tr',
    { 'data-customer-id': c.id },
    h('td', { class: 'name' }, h('a', { href: `#/customers/${c.id}` }, c.name || `Customer #${c.id}`)),
    h('td', { class: 'phone' }, text(c.phone)),
    h('td', { class: 'email' }, text(c.email)),
    h('td', { class: 'num calls', 'data-value': c.calls }, count(c.calls)),
    h('td', { class: 'num appointments', 'data-value': c.appointments }, count(c.appointments)),
    h('td', { class: 'last-call' }, when(c.last_call_at) || '—'),
    h('td', { class: 'since' }, date(c.created_at) || '—'),
    h('td', { class: 'new-client' }, yesNo(c.is_new_client)),
  );
}

export default function customers({ main, query: initial, run, signal }) {
  let state = stateOf(initial);
  let seq = 0;
  let timer = null;

  // Search: debounced while typing, at once on Enter.
  const input = h('input', {
    id: 'search',
    type: 'search',
    value: state.search,
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: 'e.g. Maria or 555',
  });
  const sort = h(
    'select',
    { id: 'customer-sort' },
    ORDERS.map(([by, order, label]) => h('option', { value: `${by}:${order}` }, label)),
  );
  const form = h(
    'form',
    { class: 'filters', role: 'search' },
    h('div', { class: 'field grow' }, h('label', { for: 'search' }, 'Search by name or phone'), h('div', { class: 'search-row' }, input, h('button', { type: 'submit' }, 'Search'))),
    h('div', { class: 'field' }, h('label', { for: 'customer-sort' }, 'Sort by'), sort),
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
  sort.addEventListener('change', () => {
    const [by, order] = sort.value.split(':');
    location.hash = hashOf({ ...state, sort: by, order, page: 1 });
  });

  const list = table({ id: 'customers-table', caption: 'Customers', headers: COLUMNS });
  note(list.tbody, COLUMNS.length, 'Loading customers…', 'loading');

  const total = h('p', { id: 'customers-total', class: 'muted', 'aria-live': 'polite' });
  const prev = h('button', { id: 'prev-page', type: 'button', disabled: true }, '‹ Previous');
  const next = h('button', { id: 'next-page', type: 'button', disabled: true }, 'Next ›');
  const info = h('span', { id: 'page-info', 'aria-live': 'polite' }, 'Page 1 of 1');
  prev.addEventListener('click', () => {
    location.hash = hashOf({ ...state, page: Math.max(1, state.page - 1) });
  });
  next.addEventListener('click', () => {
    location.hash = hashOf({ ...state, page: state.page + 1 });
  });

  main.append(
    h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, 'Customers'), total),
    form,
    list.wrap,
    h('nav', { class: 'pager', 'aria-label': 'Pages of customers' }, prev, info, next),
  );

  function showSort() {
    sort.value = `${state.sort}:${state.order}`;
  }
  showSort();

  async function load() {
    const n = ++seq;
    const path = `/api/admin/customers${query({
      page: state.page,
      page_size: PAGE_SIZE,
      search: state.search,
      sort_by: state.sort,
      sort_order: state.order,
    })}`;
    list.table.setAttribute('aria-busy', 'true');
    try {
      const body = await getText(path, { signal });
      if (n !== seq) return;
      const data = JSON.parse(body);
      const pages = Math.max(1, data.total_pages);
      total.dataset.value = String(data.total);
      total.textContent = `${count(data.total)} ${data.total === 1 ? 'customer' : 'customers'}${state.search ? ` matching “${state.search}”` : ''}`;
      info.textContent = `Page ${data.page} of ${pages}`;
      prev.disabled = data.page <= 1;
      next.disabled = data.page >= pages;
      if (data.customers.length > 0) {
        replaceKeepingFocus(list.tbody, ...data.customers.map(customerRow));
      } else {
        const why = data.total === 0 ? (state.search ? `No customers match “${state.search}”.` : 'No customers yet.') : 'No customers on this page.';
        note(list.tbody, COLUMNS.length, why, 'empty');
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
    showSort();
    run(() => load(false));
  }

  return { title: 'Customers', load, update, destroy: () => clearTimeout(timer) };
}
