// How values are shown: times in the browser's zone, durations as m:ss, numbers, badges.

import { h } from './dom.js';

/** The browser's time zone (what every time on the page is shown in). */
export const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

const ISO = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/i;

/** A `Date` from the API's ISO 8601 text (no zone means UTC), or null. */
function parseTime(text) {
  if (typeof text !== 'string') return null;
  const m = ISO.exec(text.trim());
  if (!m) return null;
  const fraction = m[3] ? m[3].slice(0, 4) : '';
  let offset = (m[4] || 'Z').toUpperCase();
  if (/^[+-]\d{4}$/.test(offset)) offset = `${offset.slice(0, 3)}:${offset.slice(3)}`;
  const d = new Date(`${m[1]}T${m[2]}${fraction}${offset}`);
  return Number.isNaN(d.getTime()) ? null : d;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateTimeZone = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'long' });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
const timeOfDay = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });
const calendarDay = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });
const calendarDate = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeZone: 'UTC' });

function timeWith(format, text) {
  if (text === null || text === undefined || text === '') return null;
  const d = parseTime(text);
  return h('time', { datetime: d ? d.toISOString() : null }, d ? format.format(d) : String(text));
}

/** A `<time>` in the browser's zone (date and minutes), or null when there is none. */
export function when(text) {
  return timeWith(dateTime, text);
}

/** A `<time>` of the date only, in the browser's zone. */
export function date(text) {
  return timeWith(dateOnly, text);
}

/** A `<time>` with seconds and the zone's name. */
export function whenLong(text) {
  return timeWith(dateTimeZone, text);
}

/** A `<time>` of the time of day only. */
export function clock(text) {
  return timeWith(timeOfDay, text);
}

/** The calendar day of an API date (`2025-08-25T00:00:00Z`): `2025-08-25`. */
export function isoDay(text) {
  return String(text).slice(0, 10);
}

/** A calendar day, short (`Aug 25`) or medium (`Aug 25, 2025`). */
export function day(iso, long = false) {
  const d = new Date(`${iso}T00:00:00Z`);
  if (Number.isNaN(d.getTime())) return iso;
  return (long ? calendarDate : calendarDay).format(d);
}

/** Seconds as `m:ss` (minutes may pass 59). */
export function duration(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return '—';
  const sign = seconds < 0 ? '−' : '';
  const total = Math.round(Math.abs(seconds));
  return `${sign}${Math.floor(total / 60)}:${String(total % 60).padStart(2, '0')}`;
}

const integer = new Intl.NumberFormat();
const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

/** A count with the locale's grouping. */
export function count(n) {
  return typeof n === 'number' ? integer.format(n) : '—';
}

/** A number with at most two decimals. */
export function number(n) {
  return typeof n === 'number' ? decimal.format(n) : '—';
}

/** `booked` → `booked`, `info_only` → `info only`, none → `none`. */
export function words(value) {
  if (value === null || value === undefined || value === '') return 'none';
  return String(value).replace(/_/g, ' ');
}

/** A badge of `kind` (`outcome`, `sentiment`, `status`): `span.badge[data-kind=value]`. */
export function badge(kind, value) {
  const v = value === null || value === undefined ? '' : String(value);
  return h('span', { class: 'badge', [`data-${kind}`]: v }, words(v));
}

/** Yes or No (or a dash for none). */
export function yesNo(value) {
  if (value === null || value === undefined) return '—';
  return value ? 'Yes' : 'No';
}

/** A dash for an empty value. */
export function text(value) {
  return value === null || value === undefined || value === '' ? '—' : String(value);
}
