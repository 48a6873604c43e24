// Analytics `#/analytics`: when the calls come (a day × hour heatmap), how they end, what
// the appointments were for, and calls over time (per hour or day), in a chosen time zone.
// The state lives in the hash (`#/analytics?period=week&tz=America/Los_Angeles&interval=day`).

import { get, query } from '../api.js';
import { h, note, s, table } from '../dom.js';
import { count, number, words, zone } from '../format.js';
import { bucketChart, fitted, raw } from '../charts.js';

const PERIODS = [
  ['today', 'Today'],
  ['week', 'Last 7 days'],
  ['month', 'Last 30 days'],
];
const INTERVALS = [
  ['hour', 'Per hour'],
  ['day', 'Per day'],
];
/** Peak hours are counted over a week or a month only: "today" shows the week. */
const PEAK_PERIODS = ['week', 'month'];
const STATUSES = ['scheduled', 'completed', 'cancelled', 'rescheduled', 'no_show'];
const HOURS = Array.from({ length: 24 }, (_, i) => i);
const LEVELS = 5;

/** The browser's zone, UTC, then every other zone the browser knows, each once. */
export function zoneChoices() {
  let others = [];
  try {
    if (typeof Intl.supportedValuesOf === 'function') others = Intl.supportedValuesOf('timeZone');
  } catch {
    others = [];
  }
  return [...new Set([zone, 'UTC', ...others])];
}

function defaultInterval(period) {
  return period === 'today' ? 'hour' : 'day';
}

function stateOf(q) {
  const period = PERIODS.some(([p]) => p === q.get('period')) ? q.get('period') : 'week';
  const interval = INTERVALS.some(([i]) => i === q.get('interval')) ? q.get('interval') : defaultInterval(period);
  return { period, tz: q.get('tz') || zone, interval };
}

function hashOf(state) {
  const q = new URLSearchParams({ period: state.period, tz: state.tz });
  if (state.interval !== defaultInterval(state.period)) q.set('interval', state.interval);
  return `#/analytics?${q.toString().replace(/%2F/gi, '/')}`;
}

/** A formatter in `tz` (UTC where this browser does not know the zone). */
function formatIn(tz, options) {
  try {
    return new Intl.DateTimeFormat(undefined, { ...options, timeZone: tz });
  } catch {
    return new Intl.DateTimeFormat(undefined, { ...options, timeZone: 'UTC' });
  }
}

// Day 0 is Sunday: 2023-01-01 was one.
const weekday = (d, style) => new Intl.DateTimeFormat(undefined, { weekday: style, timeZone: 'UTC' }).format(new Date(Date.UTC(2023, 0, 1 + d)));
const DAYS = Array.from({ length: 7 }, (_, d) => ({ short: weekday(d, 'short'), long: weekday(d, 'long') }));
const hh = (hour) => String(hour).padStart(2, '0');

function plural(n, one, many) {
  return `${count(n)} ${n === 1 ? one : many}`;
}

function panel(id, title, ...children) {
  return h('section', { id, class: 'panel', 'aria-labelledby': `${id}-title` }, h('h2', { id: `${id}-title` }, title), ...children);
}

function loading() {
  return h('p', { class: 'loading', role: 'status' }, 'Loading…');
}

/** The heatmap: `table#peak-hours`, a `td[data-day][data-hour][data-value]` per cell. */
function heatmap(cells, tz) {
  const grid = Array.from({ length: 7 }, () => HOURS.map(() => 0));
  for (const c of cells) {
    if (c.day >= 0 && c.day < 7 && c.hour >= 0 && c.hour < 24) grid[c.day][c.hour] += c.value;
  }
  const max = Math.max(0, ...grid.flat());
  const level = (v) => (v > 0 ? Math.max(1, Math.ceil((v / max) * LEVELS)) : 0);
  const t = h(
    'table',
    { id: 'peak-hours', class: 'heatmap' },
    h('caption', { class: 'sr-only' }, `Calls per day of the week and hour of the day, ${tz}`),
    h('thead', {}, h('tr', {}, h('td', {}), HOURS.map((hour) => h('th', { scope: 'col', abbr: `${hh(hour)}:00` }, hh(hour))))),
    h(
      'tbody',
      {},
      DAYS.map((day, d) =>
        h(
          'tr',
          { 'data-day': d },
          h('th', { scope: 'row', abbr: day.long }, day.short),
          HOURS.map((hour) => {
            const v = grid[d][hour];
            return h(
              'td',
              {
                'data-day': d,
                'data-hour': hour,
                'data-value': v,
                'data-level': level(v),
                title: `${day.long} ${hh(hour)}:00–${hh(hour)}:59: ${plural(v, 'call', 'calls')}`,
              },
              v > 0 ? count(v) : h('span', { class: 'sr-only' }, '0'),
            );
          }),
        ),
      ),
    ),
  );
  const total = grid.flat().reduce((a, b) => a + b, 0);
  let busiest = null;
  grid.forEach((row, d) =>
    row.forEach((v, hour) => {
      if (v > 0 && (!busiest || v > busiest.v)) busiest = { d, hour, v };
    }),
  );
  const summary = h(
    'p',
    { id: 'peak-summary', class: 'muted', 'data-value': total },
    total
      ? `${plural(total, 'call', 'calls')}; the busiest hour is ${DAYS[busiest.d].long} ${hh(busiest.hour)}:00 (${plural(busiest.v, 'call', 'calls')}).`
      : 'No calls in this period.',
  );
  const legend = h(
    'p',
    { class: 'heat-legend', 'aria-hidden': 'true' },
    'Fewer',
    Array.from({ length: LEVELS + 1 }, (_, i) => h('span', { class: 'heat-swatch', 'data-level': i })),
    'More',
  );
  return [summary, h('div', { class: 'table-wrap heat-wrap', tabindex: '0', role: 'region', 'aria-label': 'Peak hours' }, t), legend];
}

/** `table#outcomes`: a `tr[data-outcome][data-value]` per outcome, in the API's order. */
function outcomesTable(outcomes) {
  const total = outcomes.reduce((a, o) => a + o.count, 0);
  const max = Math.max(0, ...outcomes.map((o) => o.count));
  const t = table({ id: 'outcomes', caption: 'Calls per outcome', headers: ['Outcome', 'Calls', 'Share', h('th', { scope: 'col', class: 'bar-col' }, h('span', { class: 'sr-only' }, 'Bar'))] });
  if (!outcomes.length) {
    note(t.tbody, 4, 'No calls in this period.', 'empty');
    return t.wrap;
  }
  t.tbody.append(
    ...outcomes.map((o) => {
      const width = max > 0 ? (o.count / max) * 100 : 0;
      return h(
        'tr',
        { 'data-outcome': o.outcome, 'data-value': o.count },
        h('th', { scope: 'row' }, h('span', { class: 'badge', 'data-outcome': o.outcome === 'in_progress' ? '' : o.outcome }, words(o.outcome))),
        h('td', { class: 'num count' }, count(o.count)),
        h('td', { class: 'num share' }, total ? `${number((o.count / total) * 100)} %` : '—'),
        h('td', { class: 'bar-col' }, barOf(width)),
      );
    }),
  );
  return t.wrap;
}

/** A horizontal bar `width` % long, drawn in SVG (the page's CSP allows no inline styles). */
function barOf(width) {
  return h(
    'span',
    { class: 'hbar' },
    s('svg', { viewBox: '0 0 100 10', preserveAspectRatio: 'none', 'aria-hidden': 'true', focusable: 'false' }, s('rect', { x: 0, y: 0, width: width.toFixed(2), height: 10 })),
  );
}

/** `table#services`: a `tr[data-service]` per service, its status cells `td[data-status]`. */
function servicesTable(services) {
  const found = new Set(services.flatMap((s) => Object.keys(s.by_status)));
  const statuses = [...STATUSES.filter((x) => found.has(x)), ...[...found].filter((x) => !STATUSES.includes(x)).sort()];
  const headers = ['Service', 'Total', ...statuses.map((x) => words(x)), 'By AI', 'AI share'];
  const t = table({ id: 'services', caption: 'Appointments per service', headers });
  if (!services.length) {
    note(t.tbody, headers.length, 'No appointments in this period.', 'empty');
    return t.wrap;
  }
  t.tbody.append(
    ...services.map((s) =>
      h(
        'tr',
        { 'data-service': s.service_type },
        h('th', { scope: 'row' }, s.service_type === '' ? h('span', { class: 'muted' }, 'none') : s.service_type),
        h('td', { class: 'num appointments', 'data-value': s.appointments }, count(s.appointments)),
        statuses.map((x) => h('td', { class: 'num', 'data-status': x, 'data-value': s.by_status[x] ?? 0 }, count(s.by_status[x] ?? 0))),
        h('td', { class: 'num booked-by-ai', 'data-value': s.booked_by_ai }, count(s.booked_by_ai)),
        h('td', { class: 'num ai-rate', 'data-value': raw(s.ai_booked_rate) }, `${number(s.ai_booked_rate)} %`),
      ),
    ),
  );
  return t.wrap;
}

export default function analytics({ main, query: initial, run, signal }) {
  let state = stateOf(initial);
  let seq = 0;
  let series = null;

  const periodButtons = PERIODS.map(([value, label]) => h('button', { type: 'button', 'data-period': value, 'aria-pressed': 'false' }, label));
  for (const b of periodButtons) {
    b.addEventListener('click', () => {
      if (state.period === b.dataset.period) return;
      const period = b.dataset.period;
      location.hash = hashOf({ ...state, period, interval: defaultInterval(period) });
    });
  }

  const tzSelect = h('select', { id: 'tz', name: 'tz', 'aria-describedby': 'tz-help' });
  const choices = zoneChoices();
  tzSelect.append(
    ...choices.map((z, i) => h('option', { value: z }, i === 0 ? `${z} (this browser)` : z)),
  );
  tzSelect.addEventListener('change', () => {
    location.hash = hashOf({ ...state, tz: tzSelect.value });
  });

  const intervalButtons = INTERVALS.map(([value, label]) => h('button', { type: 'button', 'data-interval': value, 'aria-pressed': 'false' }, label));
  for (const b of intervalButtons) {
    b.addEventListener('click', () => {
      if (state.interval === b.dataset.interval) return;
      location.hash = hashOf({ ...state, interval: b.dataset.interval });
    });
  }

  const peakNote = h('p', { id: 'peak-note', class: 'note', hidden: true });
  const peakBox = h('div', { id: 'peak-box' }, loading());
  const outcomesBox = h('div', { id: 'outcomes-box' }, loading());
  const servicesBox = h('div', { id: 'services-box' }, loading());
  const seriesBox = h('div', { id: 'timeseries-box', class: 'chart-box' }, loading());
  const seriesHelp = h('p', { id: 'timeseries-help', class: 'muted' });

  main.append(
    h(
      'div',
      { class: 'page-head' },
      h('h1', { tabindex: '-1' }, 'Analytics'),
      h(
        'form',
        { class: 'filters pickers', 'aria-label': 'Period and time zone' },
        h('div', { class: 'field' }, h('span', { id: 'period-label', class: 'label' }, 'Period'), h('div', { class: 'switch', role: 'group', 'aria-labelledby': 'period-label' }, periodButtons)),
        h('div', { class: 'field' }, h('label', { for: 'tz' }, 'Time zone'), tzSelect),
      ),
    ),
    h('p', { id: 'tz-help', class: 'muted' }, 'Days and hours are counted in this time zone: a period starts at its midnight.'),
    panel('peak', 'Peak hours', peakNote, peakBox),
    panel(
      'timeseries',
      'Calls over time',
      h('div', { class: 'switch', role: 'group', 'aria-label': 'Interval' }, intervalButtons),
      seriesHelp,
      seriesBox,
    ),
    panel('outcome', 'Outcomes', outcomesBox),
    panel('service', 'Services', h('p', { class: 'muted' }, 'Appointments dated on the period’s days (today’s later ones too), per service.'), servicesBox),
  );
  main.querySelector('form.pickers').addEventListener('submit', (event) => event.preventDefault());

  /** The pickers as the state says (a zone this browser does not list is added). */
  function showState() {
    for (const b of periodButtons) b.setAttribute('aria-pressed', String(b.dataset.period === state.period));
    for (const b of intervalButtons) b.setAttribute('aria-pressed', String(b.dataset.interval === state.interval));
    if (![...tzSelect.options].some((o) => o.value === state.tz)) tzSelect.append(h('option', { value: state.tz }, state.tz));
    tzSelect.value = state.tz;
  }
  showState();

  function drawSeries() {
    if (!series) return;
    const { rows, tz, interval } = series;
    const hourly = interval === 'hour';
    const tickFormat = formatIn(tz, hourly ? { hour: 'numeric' } : { month: 'short', day: 'numeric' });
    const dayFormat = formatIn(tz, { month: 'short', day: 'numeric' });
    const longFormat = formatIn(tz, hourly ? { dateStyle: 'medium', timeStyle: 'short' } : { dateStyle: 'medium' });
    const hourOf = formatIn(tz, { hour: 'numeric', hourCycle: 'h23' });
    const multiDay = hourly && rows.length > 24;
    const points = rows.map((r) => {
      const at = new Date(r.timestamp);
      // Hourly over days: a label at each local midnight, naming the day.
      const midnight = Number.parseInt(hourOf.format(at), 10) % 24 === 0;
      return {
        key: r.timestamp,
        short: multiDay ? dayFormat.format(at) : tickFormat.format(at),
        long: longFormat.format(at),
        tick: multiDay ? midnight : true,
      };
    });
    const width = seriesBox.clientWidth || main.clientWidth || 640;
    const what = hourly ? 'hour' : 'day';
    const numbers = table({
      id: 'timeseries-table',
      caption: `Calls, bookings and average satisfaction per ${what}`,
      headers: [hourly ? 'Hour starting' : 'Day', 'Calls', 'Appointments booked', 'Average satisfaction'],
    });
    numbers.tbody.append(
      ...rows.map((r, i) =>
        h(
          'tr',
          { 'data-bucket': r.timestamp },
          h('th', { scope: 'row' }, h('time', { datetime: r.timestamp }, points[i].long)),
          h('td', { class: 'num calls', 'data-value': r.total_calls }, count(r.total_calls)),
          h('td', { class: 'num booked', 'data-value': r.appointments_booked }, count(r.appointments_booked)),
          h('td', { class: 'num satisfaction', 'data-value': raw(r.avg_satisfaction_score) }, number(r.avg_satisfaction_score)),
        ),
      ),
    );
    seriesBox.replaceChildren(
      bucketChart({
        id: 'chart-timeseries',
        title: `Calls and bookings per ${what}, ${tz}`,
        description: `Bars: calls started. Line with dots: appointments booked.${hourly ? '' : ' Line with squares: average satisfaction (right axis).'}`,
        points,
        width,
        axes: hourly ? { left: { format: count } } : { left: { format: count }, right: { format: number } },
        series: [
          { key: 'calls', label: 'calls', kind: 'bar', axis: 'left', values: rows.map((r) => r.total_calls), format: count },
          { key: 'bookings', label: 'bookings', kind: 'line', shape: 'circle', axis: 'left', values: rows.map((r) => r.appointments_booked), format: count },
          // An hour's average of a few scores is noise: per hour it is in the numbers only.
          hourly ? null : { key: 'satisfaction', label: 'average satisfaction', kind: 'line', shape: 'square', axis: 'right', values: rows.map((r) => r.avg_satisfaction_score), format: number },
        ].filter(Boolean),
      }),
      h(
        'ul',
        { class: 'legend' },
        [
          ['calls', 'Calls', 'bar'],
          ['bookings', 'Appointments booked', 'dot'],
          hourly ? null : ['satisfaction', 'Average satisfaction (right axis)', 'square'],
        ]
          .filter(Boolean)
          .map(([key, label, shape]) => h('li', {}, h('span', { class: `swatch ${shape} s-${key}`, 'aria-hidden': 'true' }), label)),
      ),
      h('details', { class: 'numbers' }, h('summary', {}, `The numbers per ${what}`), numbers.wrap),
    );
  }

  const fit = fitted(seriesBox, drawSeries);

  async function load() {
    const n = ++seq;
    const { period, tz, interval } = state;
    const peakPeriod = PEAK_PERIODS.includes(period) ? period : 'week';
    const [peak, outcomes, services, rows] = await Promise.all([
      get(`/api/admin/analytics/peak-hours${query({ period: peakPeriod, tz })}`, { signal }),
      get(`/api/admin/analytics/outcome-distribution${query({ period, tz })}`, { signal }),
      get(`/api/admin/analytics/services${query({ period, tz })}`, { signal }),
      get(`/api/admin/analytics/timeseries${query({ period, interval, tz })}`, { signal }),
    ]);
    if (n !== seq) return;
    peakNote.hidden = peakPeriod === period;
    peakNote.textContent = peakNote.hidden ? '' : 'Peak hours are counted over a week or a month: this shows the last 7 days.';
    peakBox.dataset.period = peakPeriod;
    peakBox.dataset.tz = tz;
    peakBox.replaceChildren(...heatmap(peak, tz));
    Object.assign(outcomesBox.dataset, { period, tz });
    Object.assign(servicesBox.dataset, { period, tz });
    outcomesBox.replaceChildren(outcomesTable(outcomes.outcomes));
    servicesBox.replaceChildren(servicesTable(services.services));
    const calls = rows.reduce((a, r) => a + r.total_calls, 0);
    seriesHelp.textContent = `${plural(calls, 'call', 'calls')} from the period’s first midnight to now, per ${interval === 'hour' ? 'hour' : 'day'} in ${tz}.`;
    series = { rows, tz, interval };
    fit.draw();
    Object.assign(seriesBox.dataset, { period, tz, interval });
  }

  /** The hash changed (a picker, back, forward): show that state. */
  function update(q) {
    state = stateOf(q);
    showState();
    run(() => load(false));
  }

  return { title: 'Analytics', load, update, destroy: fit.stop };
}
