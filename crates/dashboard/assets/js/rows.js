// A call as a table row: the same cells in the call log, the overview and a customer's page.

import { h } from './dom.js';
import { badge, duration, number, text, when } from './format.js';

/** The columns of a call row, in order. */
export const CALL_COLUMNS = ['Started', 'Phone', 'Customer', 'Duration', 'Outcome', 'Sentiment', 'Score'];

/** A link to the customer, named when the name is known (the call log sends it as `customer_name`). */
export function customerLink(id, name) {
  if (id === null || id === undefined) return null;
  return h('a', { href: `#/customers/${id}` }, name || `Customer #${id}`);
}

/** `td.score[data-value]`: the score to two decimals (an average may have sixteen), the exact value as its title. */
function scoreCell(score) {
  if (typeof score !== 'number') return h('td', { class: 'score num', 'data-value': 'null' }, '—');
  return h('td', { class: 'score num', 'data-value': String(score), title: String(score) }, number(score));
}

/** `tr[data-call-id]` with `td.started` (a link to the call), phone, customer (named by `customerName`, else the call's `customer_name`), duration, badges, score. */
export function callRow(call, customerName) {
  const started = when(call.started_at);
  // A call without a start time (the file has some) is named by its id.
  const link = h('a', { href: `#/calls/${call.id}` }, started || `Call #${call.id}`);
  return h(
    'tr',
    { 'data-call-id': call.id },
    h('td', { class: 'started' }, link),
    h('td', { class: 'phone' }, text(call.phone_number)),
    h('td', { class: 'customer' }, customerLink(call.customer_id, customerName ?? call.customer_name)),
    h('td', { class: 'duration num' }, duration(call.duration_seconds)),
    h('td', { class: 'outcome' }, badge('outcome', call.outcome)),
    h('td', { class: 'sentiment' }, badge('sentiment', call.sentiment)),
    scoreCell(call.satisfaction_score),
  );
}
