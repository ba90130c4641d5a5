// diff.js - two versions side by side, line by line (longest common
// subsequence; JSON pretty-printed and HL7 split at segments first, so a
// change shows as the lines it touched).
import { h } from './dom.js';
import { t } from './i18n.js';

const MAX_CELLS = 4e6; // beyond this the LCS table is too big for a slow terminal

export function normalise(text, contentType) {
  if (/json/.test(contentType || '') || /^\s*[{[]/.test(text)) {
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch { /* as it is */ }
  }
  return text.replace(/\r\n|\r/g, '\n');
}

// → [{op: '=', a, b} | {op: '-', a} | {op: '+', b}]
export function diffLines(a, b) {
  const n = a.length;
  const m = b.length;
  if (n * m > MAX_CELLS) return [...a.map((x) => ({ op: '-', a: x })), ...b.map((x) => ({ op: '+', b: x }))];
  const L = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) L[i][j] = a[i] === b[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) { out.push({ op: '=', a: a[i++], b: b[j++] }); } else if (L[i + 1][j] >= L[i][j + 1]) out.push({ op: '-', a: a[i++] }); else out.push({ op: '+', b: b[j++] });
  }
  while (i < n) out.push({ op: '-', a: a[i++] });
  while (j < m) out.push({ op: '+', b: b[j++] });
  return out;
}

export function renderDiff(textA, textB, labelA, labelB, contentType) {
  const a = normalise(textA, contentType).split('\n');
  const b = normalise(textB, contentType).split('\n');
  const d = diffLines(a, b);
  let la = 0;
  let lb = 0;
  const rows = [];
  // pair a run of deletions with the following run of additions on the same rows
  for (let k = 0; k < d.length;) {
    if (d[k].op === '=') { la++; lb++; rows.push(h('tr.same', h('td.ln', la), h('td', h('code', d[k].a)), h('td.ln', lb), h('td', h('code', d[k].b)))); k++; continue; }
    const dels = [];
    const adds = [];
    while (k < d.length && d[k].op === '-') dels.push(d[k++].a);
    while (k < d.length && d[k].op === '+') adds.push(d[k++].b);
    for (let x = 0; x < Math.max(dels.length, adds.length); x++) {
      const da = dels[x];
      const db = adds[x];
      rows.push(h('tr.chg',
        h('td.ln', da !== undefined ? ++la : ''), h(`td${da !== undefined ? '.del' : ''}`, da !== undefined ? h('del', h('code', da)) : ''),
        h('td.ln', db !== undefined ? ++lb : ''), h(`td${db !== undefined ? '.add' : ''}`, db !== undefined ? h('ins', h('code', db)) : '')));
    }
  }
  const changed = d.filter((x) => x.op !== '=').length;
  return h('div.diff',
    h('p', changed ? t('diff.changed', { n: changed }) : t('diff.same')),
    h('table.grid.diff', h('colgroup', h('col.ln'), h('col'), h('col.ln'), h('col')), h('thead', h('tr', h('th', { scope: 'col', colspan: 2 }, labelA), h('th', { scope: 'col', colspan: 2 }, labelB))), h('tbody', rows)));
}
