// Customer `#/customers/{id}`: the customer's fields, appointments and calls.

import { ApiError, get } from '../api.js';
import { h, note, table } from '../dom.js';
import { badge, text, when, whenLong, yesNo } from '../format.js';
import { CALL_COLUMNS, callRow, customerLink } from '../rows.js';
import { notFound } from './call.js';

export const APPOINTMENT_COLUMNS = ['When', 'Service', 'Provider', 'Length', 'Status', 'Booked by', 'Requests'];

/** `tr[data-appointment-id]`; `withCustomer` adds the customer's cell after the time. */
export function appointmentRow(a, withCustomer = false) {
  return h(
    'tr',
    { 'data-appointment-id': a.id },
    h('td', { class: 'when' }, when(a.appointment_datetime) || '—'),
    withCustomer ? h('td', { class: 'customer' }, customerLink(a.customer_id)) : null,
    h('td', { class: 'service' }, text(a.service_type)),
    h('td', { class: 'provider' }, text(a.provider)),
    h('td', { class: 'length num' }, typeof a.duration_minutes === 'number' ? `${a.duration_minutes} min` : '—'),
    h('td', { class: 'status' }, badge('status', a.status)),
    h('td', { class: 'booked-by' }, text(a.booked_by)),
    h('td', { class: 'requests' }, text(a.special_requests || a.cancellation_reason)),
  );
}

export default function customer({ main, params: [id], signal }) {
  const heading = h('h1', { id: 'customer-title', tabindex: '-1' }, `Customer #${id}`);
  const fields = h('dl', { class: 'meta' });
  const booked = table({ id: 'customer-appointments', caption: 'Appointments', headers: APPOINTMENT_COLUMNS });
  const calls = table({ id: 'customer-calls', caption: 'Calls', headers: CALL_COLUMNS });
  note(booked.tbody, APPOINTMENT_COLUMNS.length, 'Loading…', 'loading');
  note(calls.tbody, CALL_COLUMNS.length, 'Loading…', 'loading');
  main.append(
    h(
      'section',
      { id: 'customer-page', 'aria-labelledby': 'customer-title' },
      heading,
      h('section', { class: 'panel', 'aria-labelledby': 'fields-title' }, h('h2', { id: 'fields-title' }, 'Details'), fields),
      h('section', { 'aria-labelledby': 'appointments-title' }, h('h2', { id: 'appointments-title' }, 'Appointments'), booked.wrap),
      h('section', { 'aria-labelledby': 'calls-title' }, h('h2', { id: 'calls-title' }, 'Calls'), calls.wrap),
    ),
  );

  async function load() {
    let data;
    try {
      data = await get(`/api/customers/${encodeURIComponent(id)}/history`, { signal });
    } catch (e) {
      if (e instanceof ApiError) {
        notFound(main, `Customer #${id}`, e.message);
        return;
      }
      throw e;
    }
    const c = data.customer;
    heading.textContent = text(c.name);
    document.title = `${text(c.name)} — Ava analytics`;
    fields.replaceChildren(
      ...[
        ['Phone', text(c.phone)],
        ['Email', text(c.email)],
        ['New client', yesNo(c.is_new_client)],
        ['Allergies', yesNo(c.has_allergies)],
        ['Pregnant', yesNo(c.is_pregnant)],
        ['Notes', text(c.notes)],
        ['Customer since', whenLong(c.created_at) || '—'],
        ['Updated', whenLong(c.updated_at) || '—'],
      ].flatMap(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]),
    );
    if (data.appointments.length) booked.tbody.replaceChildren(...data.appointments.map((a) => appointmentRow(a)));
    else note(booked.tbody, APPOINTMENT_COLUMNS.length, 'No appointments.', 'empty');
    if (data.calls.length) calls.tbody.replaceChildren(...data.calls.map((x) => callRow(x, c.name)));
    else note(calls.tbody, CALL_COLUMNS.length, 'No calls.', 'empty');
  }

  return { title: `Customer #${id}`, load };
}
