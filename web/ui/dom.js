// dom.js - building the page without innerHTML: every text from the server
// or a record goes into a text node, so no record can inject markup.

// h('tag.class', {attr: value, on: {click: fn}}, child, ...) → Element.
// Children: strings, numbers, Nodes, arrays, null/undefined/false (skipped).
// spec: 'tag', 'tag.class', 'tag#id.class', 'tag.class#id'
export function h(spec, attrs, ...children) {
  const [tag, ...parts] = spec.split(/(?=[.#])/);
  const el = document.createElement(tag || 'div');
  const classes = parts.filter((x) => x[0] === '.').map((x) => x.slice(1));
  const id = parts.find((x) => x[0] === '#');
  if (classes.length) el.className = classes.join(' ');
  if (id) el.id = id.slice(1);
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === 'class') el.className = [el.className, v].filter(Boolean).join(' ');
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

// el.append(...) that skips null, undefined and false (the DOM's own
// append would write "null").
export function put(el, ...children) { return append(el, children); }

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

// A definition list from [[term, value], ...] (values may be Nodes); rows
// whose value is empty are left out.
export function dl(rows, cls = 'kv') {
  return h(`dl.${cls}`, rows.filter(([, v]) => v !== undefined && v !== null && v !== '' &&
    !(Array.isArray(v) && !v.length)).map(([k, v]) => [h('dt', k), h('dd', v)]));
}

// A table from headers and rows (arrays of cells).
export function table(headers, rows, { caption, cls = 'grid' } = {}) {
  return h(`table.${cls}`, caption ? h('caption', caption) : null,
    h('thead', h('tr', headers.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', rows.map((r) => (r instanceof Node ? r : h('tr', r.map((c) => (c instanceof Node && c.tagName === 'TD' ? c : h('td', c))))))));
}

export function hex(bytes) {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export function unhex(s) {
  if (typeof s !== 'string' || s.length % 2 || /[^0-9a-f]/i.test(s)) throw new Error('bad hex');
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
  return out;
}
