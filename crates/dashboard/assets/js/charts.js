// Charts drawn by hand as inline SVG: one x position per calendar day (or bucket), bars or lines,
// a left and an optional right axis. Every data point is one mark element carrying
// `data-date` and `data-value`, with a <title> for its tooltip.

import { s } from './dom.js';
import { day } from './format.js';

const DAY_MS = 86400000;

/** The smallest "nice" step (1, 2, 2.5 or 5 × 10ⁿ) with four steps reaching `max`. */
function niceTop(max) {
  if (!(max > 0)) return 1;
  const raw = max / 4;
  const exp = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * exp).find((x) => x >= raw);
  return step * 4;
}

function dayIndex(first, iso) {
  return Math.round((Date.parse(`${iso}T00:00:00Z`) - first) / DAY_MS);
}

/**
 * Keeps a chart fitted to `box`: `fit.draw()` draws it with `draw()` now, and from then on
 * it is drawn again whenever the box's width has changed by more than 24 px since, so the
 * text stays readable at any size; `fit.stop()` ends the watching.
 */
export function fitted(box, draw) {
  let drawnWidth = 0;
  let drawn = false;
  const resized = new ResizeObserver(() => {
    const width = box.clientWidth;
    if (drawn && Math.abs(width - drawnWidth) > 24) {
      drawnWidth = width;
      draw();
    }
  });
  resized.observe(box);
  return {
    draw() {
      drawn = true;
      drawnWidth = box.clientWidth;
      draw();
    },
    stop: () => resized.disconnect(),
  };
}

/** The JSON text of a value, as the API printed it for a number (`null` for none). */
export function raw(value) {
  return typeof value === 'number' ? String(value) : 'null';
}

/**
 * An `svg#id` chart of `series` over `days` (ISO dates, ascending, as the API gave them):
 * one x position per calendar day, marks carrying `data-date`.
 * series: [{key, label, kind: 'bar'|'line', shape: 'circle'|'square', axis: 'left'|'right',
 *           values: number|null per day, format: n => text}]
 * axes: {left: {format}, right?: {format}}
 */
export function chart({ id, title, description, days, series, axes, width }) {
  const first = Date.parse(`${days[0]}T00:00:00Z`);
  const points = days.map((iso) => ({ at: dayIndex(first, iso), key: iso, short: day(iso), long: day(iso, true) }));
  return plot({ id, title, description, points, series, axes, width, attr: 'data-date' });
}

/**
 * The same over consecutive buckets (an hour or a day each): `points` are
 * `{key, short, long, tick}` in order (the key is the bucket's start as the API gave it,
 * in each mark's `data-bucket`; short labels the axis at the points whose `tick` is true,
 * long is the tooltip's).
 */
export function bucketChart({ id, title, description, points, series, axes, width }) {
  return plot({ id, title, description, points: points.map((p, at) => ({ ...p, at })), series, axes, width, attr: 'data-bucket' });
}

function plot({ id, title, description, points, series, axes, width, attr }) {
  const W = Math.max(300, Math.round(width));
  const H = W < 500 ? 220 : 260;
  const margin = { top: 14, right: axes.right ? 48 : 14, bottom: 30, left: 52 };
  const plotW = W - margin.left - margin.right;
  const plotH = H - margin.top - margin.bottom;
  const span = points.length ? points[points.length - 1].at + 1 : 1;
  const band = plotW / span;
  const xOf = (p) => margin.left + band * (p.at + 0.5);

  const tops = {};
  for (const side of ['left', 'right']) {
    const values = series.filter((x) => x.axis === side).flatMap((x) => x.values.filter((v) => typeof v === 'number'));
    tops[side] = niceTop(Math.max(0, ...values));
  }
  const yOf = (side, v) => margin.top + plotH - (Math.max(0, v) / tops[side]) * plotH;

  const svg = s(
    'svg',
    {
      id,
      class: band < 6 ? 'chart dense' : 'chart',
      viewBox: `0 0 ${W} ${H}`,
      width: W,
      height: H,
      role: 'img',
      'aria-labelledby': `${id}-title ${id}-desc`,
    },
    s('title', { id: `${id}-title` }, title),
    s('desc', { id: `${id}-desc` }, description),
  );

  // Grid and axes.
  const grid = s('g', { class: 'grid', 'aria-hidden': 'true' });
  for (let i = 0; i <= 4; i += 1) {
    const y = margin.top + plotH - (plotH * i) / 4;
    grid.append(s('line', { x1: margin.left, x2: W - margin.right, y1: y, y2: y, class: i === 0 ? 'axis' : null }));
    grid.append(s('text', { x: margin.left - 6, y: y + 4, 'text-anchor': 'end' }, axes.left.format((tops.left * i) / 4)));
    if (axes.right) {
      grid.append(s('text', { x: W - margin.right + 6, y: y + 4, 'text-anchor': 'start' }, axes.right.format((tops.right * i) / 4)));
    }
  }
  // Labels about 64 px apart: every nth point, or every nth of those marked `tick`.
  const fit = Math.max(1, Math.floor(plotW / 64));
  const ticked = points.some((p) => 'tick' in p);
  const candidates = ticked ? points.filter((p) => p.tick) : points;
  const every = Math.max(1, Math.ceil((ticked ? candidates.length : span) / fit));
  candidates.forEach((p, i) => {
    if ((ticked ? i : p.at) % every !== 0) return;
    grid.append(s('text', { x: xOf(p), y: H - 10, 'text-anchor': 'middle' }, p.short));
  });
  svg.append(grid);

  // The series: bars first, lines over them.
  const ordered = [...series].sort((a, b) => (a.kind === 'bar' ? 0 : 1) - (b.kind === 'bar' ? 0 : 1));
  for (const x of ordered) {
    const group = s('g', { class: `series s-${x.key}`, 'data-series': x.key });
    const tip = (p, v) => s('title', {}, `${p.long}: ${typeof v === 'number' ? x.format(v) : 'no data'} (${x.label})`);
    if (x.kind === 'line') {
      let d = '';
      let drawing = false;
      points.forEach((p, i) => {
        const v = x.values[i];
        if (typeof v !== 'number') {
          drawing = false;
          return;
        }
        d += `${drawing ? 'L' : 'M'}${xOf(p).toFixed(1)},${yOf(x.axis, v).toFixed(1)}`;
        drawing = true;
      });
      group.append(s('path', { d, class: 'line', 'aria-hidden': 'true' }));
    }
    points.forEach((p, i) => {
      const v = x.values[i];
      const attrs = { class: 'mark', [attr]: p.key, 'data-value': raw(v), 'data-series': x.key };
      if (typeof v !== 'number') attrs.class = 'mark missing';
      let mark;
      if (x.kind === 'bar') {
        const w = Math.max(1, Math.min(band * 0.7, 28));
        const y = typeof v === 'number' ? yOf(x.axis, v) : margin.top + plotH;
        mark = s('rect', { ...attrs, x: (xOf(p) - w / 2).toFixed(1), y: y.toFixed(1), width: w.toFixed(1), height: (margin.top + plotH - y).toFixed(1) });
      } else {
        const cx = xOf(p);
        const cy = typeof v === 'number' ? yOf(x.axis, v) : margin.top + plotH;
        // Smaller dots where the points are close (an hour each over a month).
        const r = Math.min(4, Math.max(1.5, band / 3));
        mark =
          x.shape === 'square'
            ? s('rect', { ...attrs, x: (cx - r).toFixed(1), y: (cy - r).toFixed(1), width: 2 * r, height: 2 * r })
            : s('circle', { ...attrs, cx: cx.toFixed(1), cy: cy.toFixed(1), r });
      }
      mark.append(tip(p, v));
      group.append(mark);
    });
    svg.append(group);
  }
  return svg;
}
