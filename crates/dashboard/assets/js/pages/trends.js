// Trends `#/trends`: calls and bookings per day, conversion rate and average satisfaction,
// over the last 30, 60 or 90 days, as SVG charts with a table for screen readers.

import { get, query } from '../api.js';
import { h, table } from '../dom.js';
import { count, day, isoDay, number } from '../format.js';
import { chart, fitted, raw } from '../charts.js';

const RANGES = [30, 60, 90];

function legend(items) {
  return h(
    'ul',
    { class: 'legend' },
    items.map(([key, label, shape]) => h('li', {}, h('span', { class: `swatch ${shape} s-${key}`, 'aria-hidden': 'true' }), label)),
  );
}

function fallback(caption, columns, rows) {
  const t = table({ caption, headers: columns, className: 'sr-only' });
  t.tbody.append(...rows.map((cells) => h('tr', {}, cells.map((c, i) => (i === 0 ? h('th', { scope: 'row' }, c) : h('td', {}, c))))));
  // A table is never narrower than its content: the hidden box around it is what clips.
  return h('div', { class: 'sr-only' }, t.table);
}

export default function trends({ main, run, signal }) {
  let days = 30;
  let seq = 0;
  let metrics = null;

  const buttons = RANGES.map((n) =>
    h('button', { type: 'button', 'data-days': String(n), 'aria-pressed': String(n === days) }, `${n} days`),
  );
  for (const b of buttons) {
    b.addEventListener('click', () => {
      const n = Number(b.dataset.days);
      if (n === days) return;
      days = n;
      for (const other of buttons) other.setAttribute('aria-pressed', String(other === b));
      run(() => load(false));
    });
  }

  const volume = h('div', { class: 'chart-box' }, h('p', { class: 'loading', role: 'status' }, 'Loading…'));
  const rates = h('div', { class: 'chart-box' }, h('p', { class: 'loading', role: 'status' }, 'Loading…'));
  main.append(
    h(
      'div',
      { class: 'page-head' },
      h('h1', { tabindex: '-1' }, 'Trends'),
      h('div', { class: 'switch', role: 'group', 'aria-label': 'Range' }, buttons),
    ),
    h('section', { class: 'panel', 'aria-labelledby': 'volume-title' }, h('h2', { id: 'volume-title' }, 'Calls and bookings per day'), volume),
    h('section', { class: 'panel', 'aria-labelledby': 'rates-title' }, h('h2', { id: 'rates-title' }, 'Conversion rate and average satisfaction'), rates),
  );

  function draw() {
    if (!metrics) return;
    const dates = metrics.map((m) => isoDay(m.date));
    const width = volume.clientWidth || main.clientWidth || 640;
    const span = dates.length ? `${day(dates[0], true)} to ${day(dates[dates.length - 1], true)}` : `the last ${days} days`;
    const empty = dates.length ? null : h('p', { class: 'empty' }, `No daily figures in the last ${days} days.`);
    volume.replaceChildren(
      ...(empty ? [empty] : []),
      chart({
        id: 'chart-volume',
        title: `Calls and bookings per day, ${span}`,
        description: 'Bars: calls answered each day. Line with dots: appointments booked each day.',
        days: dates,
        width,
        axes: { left: { format: count } },
        series: [
          { key: 'calls', label: 'calls', kind: 'bar', axis: 'left', values: metrics.map((m) => m.total_calls), format: count },
          { key: 'bookings', label: 'bookings', kind: 'line', shape: 'circle', axis: 'left', values: metrics.map((m) => m.appointments_booked), format: count },
        ],
      }),
      legend([
        ['calls', 'Calls', 'bar'],
        ['bookings', 'Appointments booked', 'dot'],
      ]),
      fallback(
        'Calls and bookings per day',
        ['Date', 'Calls', 'Appointments booked'],
        metrics.map((m, i) => [dates[i], raw(m.total_calls), raw(m.appointments_booked)]),
      ),
    );
    rates.replaceChildren(
      ...(empty ? [empty.cloneNode(true)] : []),
      chart({
        id: 'chart-rates',
        title: `Conversion rate and average satisfaction per day, ${span}`,
        description: 'Line with dots: conversion rate in percent (left axis). Line with squares: average satisfaction score (right axis).',
        days: dates,
        width,
        axes: { left: { format: (v) => `${number(v)}%` }, right: { format: number } },
        series: [
          { key: 'conversion', label: 'conversion rate', kind: 'line', shape: 'circle', axis: 'left', values: metrics.map((m) => m.conversion_rate), format: (v) => `${number(v)} %` },
          { key: 'satisfaction', label: 'average satisfaction', kind: 'line', shape: 'square', axis: 'right', values: metrics.map((m) => m.avg_satisfaction_score), format: number },
        ],
      }),
      legend([
        ['conversion', 'Conversion rate (%, left axis)', 'dot'],
        ['satisfaction', 'Average satisfaction (right axis)', 'square'],
      ]),
      fallback(
        'Conversion rate and average satisfaction per day',
        ['Date', 'Conversion rate (%)', 'Average satisfaction'],
        metrics.map((m, i) => [dates[i], raw(m.conversion_rate), raw(m.avg_satisfaction_score)]),
      ),
    );
  }

  // Redrawn to the box's width, so the text stays readable at any size.
  const fit = fitted(volume, draw);

  async function load() {
    const n = ++seq;
    const data = await get(`/api/admin/analytics/daily${query({ days })}`, { signal });
    if (n !== seq) return;
    metrics = data.metrics;
    fit.draw();
  }

  return { title: 'Trends', load, destroy: fit.stop };
}
