// Overview `#/`: the period's figures and the ten most recent calls (refreshed live).

import { getText, query } from '../api.js';
import { h, note, replaceKeepingFocus, table } from '../dom.js';
import { count, number } from '../format.js';
import { CALL_COLUMNS, callRow } from '../rows.js';

const PERIODS = [
  ['today', 'Today'],
  ['week', 'Last 7 days'],
  ['month', 'Last 30 days'],
];

const METRICS = [
  ['total_calls', 'Total calls', count],
  ['total_talk_time_hours', 'Talk time', (v) => `${number(v)} h`],
  ['avg_call_duration_minutes', 'Average call', (v) => `${number(v)} min`],
  ['appointments_booked', 'Appointments booked', count],
  ['conversion_rate', 'Conversion rate', (v) => `${number(v)} %`],
  ['avg_satisfaction_score', 'Average satisfaction', number],
  ['calls_escalated', 'Escalations', count],
  ['escalation_rate', 'Escalation rate', (v) => `${number(v)} %`],
];

/** The numbers of a flat JSON object exactly as the API printed them (`28.01`, `5.0`). */
function printedNumbers(text) {
  const out = {};
  for (const m of text.matchAll(/"([A-Za-z_]+)"\s*:\s*(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|null)/g)) out[m[1]] = m[2];
  return out;
}

export default function overview({ main, run, signal }) {
  let period = 'today';
  let seq = 0;
  let lastCalls = null;

  const buttons = PERIODS.map(([value, label]) =>
    h('button', { type: 'button', 'data-period': value, 'aria-pressed': String(value === period) }, label),
  );
  for (const b of buttons) {
    b.addEventListener('click', () => {
      if (period === b.dataset.period) return;
      period = b.dataset.period;
      for (const other of buttons) other.setAttribute('aria-pressed', String(other === b));
      run(() => load(false));
    });
  }

  const cards = new Map(
    METRICS.map(([key, label]) => {
      const value = h('p', { class: 'value loading' }, '…');
      const card = h('li', { class: 'card', 'data-metric': key }, h('p', { class: 'label' }, label), value);
      return [key, { card, value }];
    }),
  );

  const recent = table({ id: 'recent-calls', caption: 'The 10 most recent calls', headers: CALL_COLUMNS });
  note(recent.tbody, CALL_COLUMNS.length, 'Loading calls…', 'loading');

  main.append(
    h(
      'div',
      { class: 'page-head' },
      h('h1', { tabindex: '-1' }, 'Overview'),
      h('div', { class: 'switch', role: 'group', 'aria-label': 'Period' }, buttons),
    ),
    h('ul', { class: 'cards', 'aria-label': 'Key figures' }, [...cards.values()].map((c) => c.card)),
    h('section', { 'aria-labelledby': 'recent-title' }, h('h2', { id: 'recent-title' }, 'Recent calls'), recent.wrap),
  );

  async function load() {
    const n = ++seq;
    const [overviewText, callsText] = await Promise.all([
      getText(`/api/admin/metrics/overview${query({ period })}`, { signal }),
      getText('/api/admin/calls?page_size=10', { signal }),
    ]);
    if (n !== seq) return;
    const printed = printedNumbers(overviewText);
    const figures = JSON.parse(overviewText);
    for (const [key, , format] of METRICS) {
      const { card, value } = cards.get(key);
      card.dataset.value = printed[key] ?? String(figures[key]);
      value.classList.remove('loading');
      value.textContent = format(figures[key]);
    }
    if (callsText === lastCalls) return;
    lastCalls = callsText;
    const list = JSON.parse(callsText).calls;
    if (list.length === 0) note(recent.tbody, CALL_COLUMNS.length, 'No calls yet.', 'empty');
    else replaceKeepingFocus(recent.tbody, ...list.map((c) => callRow(c)));
  }

  return { title: 'Overview', live: true, load };
}
