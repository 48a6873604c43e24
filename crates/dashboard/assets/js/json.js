// JSON shown exactly as the API sent it: a parser that keeps each number's text
// (`1e+16`, `0.10`, integers past 2^53) and each object's key order, and a printer.

class Raw {
  constructor(text) {
    this.text = text;
  }
}

/** Parses JSON `text`: objects become `{entries: [[key, value]…]}`, numbers `Raw`. */
export function parse(text) {
  let i = 0;
  const fail = () => {
    throw new SyntaxError(`bad JSON at ${i}`);
  };
  const space = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i += 1;
  };
  const string = () => {
    const start = i;
    i += 1;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) fail();
    i += 1;
    return JSON.parse(text.slice(start, i));
  };
  const value = () => {
    space();
    const c = text[i];
    if (c === '{') {
      i += 1;
      const entries = [];
      space();
      if (text[i] === '}') {
        i += 1;
        return { entries };
      }
      for (;;) {
        space();
        if (text[i] !== '"') fail();
        const key = string();
        space();
        if (text[i] !== ':') fail();
        i += 1;
        entries.push([key, value()]);
        space();
        if (text[i] === ',') i += 1;
        else if (text[i] === '}') {
          i += 1;
          return { entries };
        } else fail();
      }
    }
    if (c === '[') {
      i += 1;
      const items = [];
      space();
      if (text[i] === ']') {
        i += 1;
        return items;
      }
      for (;;) {
        items.push(value());
        space();
        if (text[i] === ',') i += 1;
        else if (text[i] === ']') {
          i += 1;
          return items;
        } else fail();
      }
    }
    if (c === '"') return string();
    const m = /^(?:-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 400));
    if (!m) fail();
    i += m[0].length;
    if (m[0] === 'true') return true;
    if (m[0] === 'false') return false;
    if (m[0] === 'null') return null;
    return new Raw(m[0]);
  };
  const out = value();
  space();
  if (i !== text.length) fail();
  return out;
}

/** The member `key` of a parsed object (the last one, as JSON.parse would), or undefined. */
export function member(object, key) {
  if (!object || !Array.isArray(object.entries)) return undefined;
  const found = object.entries.filter(([k]) => k === key);
  return found.length ? found[found.length - 1][1] : undefined;
}

/** Pretty-prints a parsed value with two-space indents, numbers as they were written. */
export function pretty(v, indent = '') {
  const inner = `${indent}  `;
  if (v instanceof Raw) return v.text;
  if (Array.isArray(v)) {
    if (!v.length) return '[]';
    return `[\n${v.map((x) => inner + pretty(x, inner)).join(',\n')}\n${indent}]`;
  }
  if (v && Array.isArray(v.entries)) {
    if (!v.entries.length) return '{}';
    return `{\n${v.entries.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${pretty(x, inner)}`).join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(v);
}
