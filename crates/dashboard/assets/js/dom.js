// Building the DOM: elements with attributes and children, SVG elements, tables.

function set(el, attrs) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : String(v));
  }
}

function fill(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** An HTML element: `h('a', {href: '#/'}, 'Overview')`. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  set(el, attrs);
  return fill(el, children);
}

// The SVG namespace, taken from an element the HTML parser made (no URL to spell out).
const holder = document.createElement('div');
holder.innerHTML = '<svg></svg>';
const SVG_NS = holder.firstChild.namespaceURI;

/** An SVG element. */
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  set(el, attrs);
  return fill(el, children);
}

/** A table in its own scrolling container: `{wrap, table, tbody}`. */
export function table({ id, caption, headers, className }) {
  const tbody = h('tbody');
  const table = h(
    'table',
    { id, class: className },
    caption ? h('caption', { class: 'sr-only' }, caption) : null,
    h('thead', {}, h('tr', {}, headers.map((x) => (x instanceof Node ? x : h('th', { scope: 'col' }, x))))),
    tbody,
  );
  const wrap = h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption || '' }, table);
  return { wrap, table, tbody };
}

/** Fills a table body with one row saying the table is loading (`kind` 'loading') or empty ('empty'). */
export function note(tbody, columns, text, kind) {
  const cell = h('td', { colspan: columns, class: kind === 'loading' ? 'loading' : null }, text);
  tbody.replaceChildren(h('tr', { class: kind === 'empty' ? 'empty' : null }, cell));
}

/** Replaces `el`'s children, keeping the keyboard focus on the same link if it was inside. */
export function replaceKeepingFocus(el, ...children) {
  const active = document.activeElement;
  const href = active && el.contains(active) ? active.getAttribute('href') : null;
  el.replaceChildren(...children);
  if (href) {
    const again = el.querySelector(`a[href="${CSS.escape(href)}"]`);
    if (again) again.focus();
  }
}
