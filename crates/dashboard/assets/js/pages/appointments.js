// Appointments `#/appointments`: by date range (days in the browser's zone) and status.

import { get, query } from '../api.js';
import { h, note, table } from '../dom.js';
import { count } from '../format.js';
import { APPOINTMENT_COLUMNS, appointmentRow } from './customer.js';

const STATUSES = ['scheduled', 'completed', 'cancelled', 'rescheduled', 'no_show'];
const COLUMNS = [APPOINTMENT_COLUMNS[0], 'Customer', ...APPOINTMENT_COLUMNS.slice(1)];

/** The instant a local calendar day (`YYYY-MM-DD`) starts, or the next one starts, in UTC. */
function localDayStart(iso, plusDays = 0) {
  const [y, m, d] = iso.split('-').map(Number);
  return new Date(y, m - 1, d + plusDays).toISOString();
}

export default function appointments({ main, query: initial, run, signal }) {
  let seq = 0;
  const seen = new Set(STATUSES);
  const from = h('input', { id: 'from', type: 'date', value: initial.get('from') || '' });
  const to = h('input', { id: 'to', type: 'date', value: initial.get('to') || '' });
  const status = h(
    'select',
    { id: 'status' },
    h('option', { value: '' }, 'All statuses'),
    STATUSES.map((x) => h('option', { value: x }, x.replace(/_/g, ' '))),
  );
  const wanted = initial.get('status') || '';
  if (wanted && !seen.has(wanted)) {
    seen.add(wanted);
    status.append(h('option', { value: wanted }, wanted.replace(/_/g, ' ')));
  }
  status.value = wanted;

  const form = h(
    'form',
    { class: 'filters', 'aria-label': 'Filter appointments' },
    h('div', { class: 'field' }, h('label', { for: 'from' }, 'From'), from),
    h('div', { class: 'field' }, h('label', { for: 'to' }, 'To'), to),
    h('div', { class: 'field' }, h('label', { for: 'status' }, 'Status'), status),
  );
  const summary = h('p', { class: 'muted', 'aria-live': 'polite' });
  const list = table({ id: 'appointments-table', caption: 'Appointments', headers: COLUMNS });
  note(list.tbody, COLUMNS.length, 'Loading appointments…', 'loading');
  main.append(h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, 'Appointments'), summary), form, list.wrap);

  const changed = () => {
    const q = new URLSearchParams();
    if (from.value) q.set('from', from.value);
    if (to.value) q.set('to', to.value);
    if (status.value) q.set('status', status.value);
    const s = q.toString();
    history.replaceState(null, '', `#/appointments${s ? `?${s}` : ''}`);
    run(() => load());
  };
  for (const el of [from, to, status]) el.addEventListener('change', changed);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    changed();
  });

  async function load() {
    const n = ++seq;
    const data = await get(
      `/api/appointments${query({
        start_date: from.value ? localDayStart(from.value) : '',
        // Through the end of the "to" day: the API's end is inclusive, so up to the last ms.
        end_date: to.value ? new Date(Date.parse(localDayStart(to.value, 1)) - 1).toISOString() : '',
        status: status.value,
      })}`,
      { signal },
    );
    if (n !== seq) return;
    const rows = data.appointments;
    for (const a of rows) {
      if (a.status && !seen.has(a.status)) {
        seen.add(a.status);
        status.append(h('option', { value: a.status }, String(a.status).replace(/_/g, ' ')));
      }
    }
    summary.textContent = `${count(rows.length)} ${rows.length === 1 ? 'appointment' : 'appointments'}`;
    if (rows.length) list.tbody.replaceChildren(...rows.map((a) => appointmentRow(a, true)));
    else note(list.tbody, COLUMNS.length, 'No appointments match these filters.', 'empty');
  }

  return { title: 'Appointments', load };
}
