// Customer `#/customers/{id}`: the customer's fields, a timeline of their calls and
// appointments, and both as tables.

import { ApiError, get } from '../api.js';
import { h, note, table } from '../dom.js';
import { badge, duration, text, when, whenLong, words, yesNo } from '../format.js';
import { CALL_COLUMNS, callRow, customerLink } from '../rows.js';
import { notFound } from './call.js';

export const APPOINTMENT_COLUMNS = ['When', 'Service', 'Provider', 'Length', 'Status', 'Booked by', 'Requests'];

/** `tr[data-appointment-id]`; `withCustomer` adds the customer's cell after the time. */
export function appointmentRow(a, withCustomer = false) {
  return h(
    'tr',
    { 'data-appointment-id': a.id },
    h('td', { class: 'when' }, when(a.appointment_datetime) || '—'),
    withCustomer ? h('td', { class: 'customer' }, customerLink(a.customer_id, a.customer_name)) : null,
    h('td', { class: 'service' }, text(a.service_type)),
    h('td', { class: 'provider' }, text(a.provider)),
    h('td', { class: 'length num' }, typeof a.duration_minutes === 'number' ? `${a.duration_minutes} min` : '—'),
    h('td', { class: 'status' }, badge('status', a.status)),
    h('td', { class: 'booked-by' }, text(a.booked_by)),
    h('td', { class: 'requests' }, text(a.special_requests || a.cancellation_reason)),
  );
}

/** Microseconds since 1970 of the API's ISO 8601 text (no zone means UTC), or null. */
export function instant(value) {
  if (typeof value !== 'string') return null;
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$/i.exec(value.trim());
  if (!m) return null;
  let offset = (m[4] || 'Z').toUpperCase();
  if (/^[+-]\d{4}$/.test(offset)) offset = `${offset.slice(0, 3)}:${offset.slice(3)}`;
  const ms = Date.parse(`${m[1]}T${m[2]}${offset}`);
  if (Number.isNaN(ms)) return null;
  return ms * 1000 + Number((m[3] || '').padEnd(6, '0').slice(0, 6));
}

const KIND_ORDER = { call: 0, appointment: 1, booked: 2 };

/**
 * The customer's calls (at `started_at`), appointments (at `appointment_datetime`) and
 * bookings (each appointment's `created_at`) as one list, newest first; at the same
 * instant calls, then appointments, then bookings, each by id, highest first; entries
 * without a time last.
 */
export function timelineOf(calls, appointments) {
  const entries = [
    ...calls.map((c) => ({ kind: 'call', id: c.id, at: c.started_at, item: c })),
    ...appointments.map((a) => ({ kind: 'appointment', id: a.id, at: a.appointment_datetime, item: a })),
    ...appointments.map((a) => ({ kind: 'booked', id: a.id, at: a.created_at, item: a })),
  ].map((e) => ({ ...e, key: instant(e.at) }));
  return entries.sort((x, y) => {
    if (x.key === null || y.key === null) {
      if (x.key !== y.key) return x.key === null ? 1 : -1;
    } else if (x.key !== y.key) {
      return y.key - x.key;
    }
    return KIND_ORDER[x.kind] - KIND_ORDER[y.kind] || y.id - x.id;
  });
}

function entryOf(e) {
  const at = h('p', { class: 'at' }, when(e.at) || 'No time recorded');
  const attrs = { class: `event entry kind-${e.kind}`, 'data-kind': e.kind, 'data-id': e.id };
  if (e.kind === 'call') {
    const c = e.item;
    return h(
      'li',
      attrs,
      at,
      h('p', { class: 'what' }, h('a', { href: `#/calls/${c.id}`, class: 'type' }, 'Call'), ' ', badge('outcome', c.outcome), ' ', h('span', { class: 'muted' }, duration(c.duration_seconds))),
      c.escalated ? h('p', { class: 'muted' }, `Escalated${c.escalation_reason ? `: ${c.escalation_reason}` : ''}`) : null,
    );
  }
  const a = e.item;
  const service = [text(a.service_type), a.provider ? ` with ${a.provider}` : ''].join('');
  if (e.kind === 'booked') {
    return h(
      'li',
      attrs,
      at,
      h('p', { class: 'what' }, h('span', { class: 'type' }, 'Booked'), ' ', service, a.booked_by ? ` (by ${words(a.booked_by)})` : ''),
      h('p', { class: 'muted' }, 'For ', when(a.appointment_datetime) || 'no time', '.'),
    );
  }
  return h(
    'li',
    attrs,
    at,
    h('p', { class: 'what' }, h('span', { class: 'type' }, 'Appointment'), ' ', service, ' ', badge('status', a.status)),
    a.special_requests || a.cancellation_reason ? h('p', { class: 'muted' }, text(a.special_requests || a.cancellation_reason)) : null,
  );
}

export default function customer({ main, params: [id], signal }) {
  const heading = h('h1', { id: 'customer-title', tabindex: '-1' }, `Customer #${id}`);
  const fields = h('dl', { class: 'meta' });
  const timeline = h('ol', { id: 'customer-timeline', class: 'timeline', 'aria-labelledby': 'timeline-title' }, h('li', { class: 'loading' }, 'Loading…'));
  const booked = table({ id: 'customer-appointments', caption: 'Appointments', headers: APPOINTMENT_COLUMNS });
  const calls = table({ id: 'customer-calls', caption: 'Calls', headers: CALL_COLUMNS });
  note(booked.tbody, APPOINTMENT_COLUMNS.length, 'Loading…', 'loading');
  note(calls.tbody, CALL_COLUMNS.length, 'Loading…', 'loading');
  main.append(
    h(
      'section',
      { id: 'customer-page', 'aria-labelledby': 'customer-title' },
      heading,
      h(
        'div',
        { class: 'detail-grid' },
        h('section', { class: 'panel', 'aria-labelledby': 'fields-title' }, h('h2', { id: 'fields-title' }, 'Details'), fields),
        h('section', { class: 'panel', 'aria-labelledby': 'timeline-title' }, h('h2', { id: 'timeline-title' }, 'Timeline'), h('div', { class: 'timeline-box', tabindex: '0', role: 'region', 'aria-label': 'Timeline' }, timeline)),
      ),
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
    const entries = timelineOf(data.calls, data.appointments);
    if (entries.length) timeline.replaceChildren(...entries.map(entryOf));
    else timeline.replaceChildren(h('li', { class: 'empty' }, 'No calls or appointments yet.'));
    if (data.appointments.length) booked.tbody.replaceChildren(...data.appointments.map((a) => appointmentRow(a)));
    else note(booked.tbody, APPOINTMENT_COLUMNS.length, 'No appointments.', 'empty');
    if (data.calls.length) calls.tbody.replaceChildren(...data.calls.map((x) => callRow(x, c.name)));
    else note(calls.tbody, CALL_COLUMNS.length, 'No calls.', 'empty');
  }

  return { title: `Customer #${id}`, load };
}
