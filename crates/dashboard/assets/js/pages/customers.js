// Customers `#/customers`: search, sort, pages; the state lives in the hash
// (`#/customers?page=2&search=ma&sort=last_call&order=desc`).

import { h } from '../dom.js';
import { count, date, text, when, yesNo } from '../format.js';
import { pagedList } from '../list.js';

const COLUMNS = ['Name', 'Phone', 'Email', 'Calls', 'Appointments', 'Last call', 'Customer since', 'New client'];

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

export default function customers(ctx) {
  return pagedList(ctx, {
    name: 'customers',
    title: 'Customers',
    caption: 'Customers',
    nouns: ['customer', 'customers'],
    columns: COLUMNS,
    row: customerRow,
    search: { label: 'Search by name or phone', placeholder: 'e.g. Maria or 555' },
    sort: {
      default: ['name', 'asc'],
      select: 'customer-sort',
      options: [
        ['name', 'asc', 'Name, A to Z'],
        ['name', 'desc', 'Name, Z to A'],
        ['last_call', 'desc', 'Latest call first'],
        ['last_call', 'asc', 'Earliest last call first'],
        ['created_at', 'desc', 'Newest customers first'],
        ['created_at', 'asc', 'Oldest customers first'],
      ],
    },
  });
}
