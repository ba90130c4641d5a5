// records.js - patients and their records (READ-01, READ-02, AUTH-01..06):
// search, a patient's timeline, one record rendered for a person (FHIR,
// HL7 v2, PDF, DICOM, text) or raw, its history with who input, confirmed
// and for whom, differences between versions, the ledger proof checked in
// this browser, writes with a reason, break-glass, and the A4 print views.
import { api, get, post, q } from './api.js';
import { clear, dl, h, hex, table, put } from './dom.js';
import { banner, flash, go, route, state } from './core.js';
import { errText, fmtBytes, fmtTime, t } from './i18n.js';
import { renderFhir } from './fhir.js';
import { looksLikeHl7, renderHl7 } from './hl7.js';
import { renderDicom } from './dicom.js';
import { renderDiff } from './diff.js';
import { sha256Hex, verifyInclusion } from './verify.js';

const enc = encodeURIComponent;
const blobUrls = [];
window.addEventListener('hashchange', () => { while (blobUrls.length) URL.revokeObjectURL(blobUrls.pop()); });
const blobUrl = (blob) => { const u = URL.createObjectURL(blob); blobUrls.push(u); return u; };

const statusBadge = (s) => h(`span.badge.st-${s || 'unknown'}`, t(`status.${s}`));
const nameOf = (p) => (p && p.name && (p.name.kanji || p.name.text || p.name.romaji || p.name.kana)) || (p && p.id) || '';
const who = (v) => [v.inputter, v.on_behalf_of ? ` (${t('record.onBehalfOf')}: ${v.on_behalf_of})` : ''].join('');

// ---- search (READ-01: found promptly) ----

route(/^#\/patients(?:\?(.*))?$/, async (el, qs) => {
  const params = new URLSearchParams(qs || '');
  const text = h('input', { id: 'q', type: 'search', value: params.get('q') || '', autocomplete: 'off', 'aria-describedby': 'q-hint' });
  const bd = h('input', { id: 'birthdate', type: 'date', value: params.get('birthdate') || '' });
  const results = h('div#results', { 'aria-live': 'polite' });
  put(clear(el), h('h1', t('patients.title')),
    h('form.card.search', { role: 'search', on: { submit: (ev) => {
      ev.preventDefault();
      go(q('#/patients', { q: text.value.trim(), birthdate: bd.value }));
    } } },
    h('p.field', h('label', { for: 'q' }, t('patients.query')), text, h('small#q-hint.muted', t('patients.hint'))),
    h('p.field', h('label', { for: 'birthdate' }, t('patients.birthdate')), bd),
    h('p', h('button.primary', { type: 'submit' }, t('patients.search')))), results);
  if (!params.get('q') && !params.get('birthdate')) { text.focus(); return; }
  const j = await get(q('/api/patients', { q: params.get('q'), birthdate: params.get('birthdate'), limit: 100 }));
  const rows = (j.patients || []).map((p) => h('tr',
    h('td', h('a', { href: `#/patient/${enc(p.id)}` }, p.id)),
    h('td', { lang: 'ja' }, (p.name && p.name.kanji) || (p.name && p.name.text) || ''),
    h('td', { lang: 'ja' }, (p.name && p.name.kana) || ''), h('td', (p.name && p.name.romaji) || ''),
    h('td', p.birthdate || ''), h('td', p.gender ? t(`fhir.gender.${p.gender}`) : '')));
  put(results, h('p', t('patients.found', { n: rows.length })),
    j.hidden ? h('p.muted', t('patients.hidden', { n: j.hidden }), ' ',
      /^[A-Za-z0-9._-]{1,64}$/.test(params.get('q') || '') ? h('a#open-by-id', { href: `#/patient/${enc(params.get('q'))}` }, t('patients.openById', { id: params.get('q') })) : null) : null,
    rows.length ? table([t('patients.id'), t('patients.kanji'), t('patients.kana'), t('patients.romaji'), t('patients.birthdate'), t('patients.gender')], rows) : null);
});

// ---- one patient: timeline, break-glass ----

let countdown = null;
function showBreakglass(until) {
  clearInterval(countdown);
  const end = Date.parse(until);
  if (!end) return;
  const tick = () => {
    const s = Math.max(0, Math.round((end - Date.now()) / 1000));
    const two = (n) => String(n).padStart(2, '0');
    const left = s >= 3600 ? `${Math.floor(s / 3600)}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}` : `${Math.floor(s / 60)}:${two(s % 60)}`;
    banner(t('bg.active', { left }), 'alert');
    if (!s) clearInterval(countdown);
  };
  tick();
  countdown = setInterval(tick, 1000);
}
window.addEventListener('hashchange', () => clearInterval(countdown));

function breakglassView(el, id, err) {
  const reason = h('textarea', { id: 'bg-reason', required: true, maxlength: 4096, rows: 3 });
  const msg = h('p.error', { role: 'alert' });
  put(clear(el), h('h1', t('bg.title')),
    h('section.card.bg', { role: 'alertdialog', 'aria-labelledby': 'bg-h', 'aria-describedby': 'bg-why' },
      h('h2#bg-h', t('bg.outside', { id })),
      h('p#bg-why', t('bg.explain')), h('p.muted', errText(err)),
      err.data.breakglass ? h('form', { on: { submit: async (ev) => {
        ev.preventDefault();
        if (!reason.value.trim()) { msg.textContent = t('common.reasonRequired'); return; }
        try {
          await post('/api/breakglass', { patient: id, reason: reason.value.trim() });
          go(`#/patient/${enc(id)}`);
        } catch (e) { msg.textContent = errText(e); }
      } } }, h('p.field', h('label', { for: 'bg-reason' }, t('bg.reason')), reason), msg,
      h('p', h('button.danger', { type: 'submit', id: 'bg-open' }, t('bg.open')), ' ', h('a.button', { href: '#/patients' }, t('common.cancel'))))
        : h('p.warn', t('bg.notAllowed'))));
  if (err.data.breakglass) reason.focus();
}

route(/^#\/patient\/([^/?]+)$/, async (el, id) => {
  let p;
  try { p = await get(`/api/patients/${enc(id)}`); } catch (e) {
    if (e.status === 403) { breakglassView(el, id, e); return; }
    throw e;
  }
  if (p.access && p.access.how === 'breakglass') showBreakglass(p.access.breakglass_until);
  const recs = p.records || [];
  put(clear(el), h('h1', { lang: 'ja' }, nameOf(p), ' ', h('small.muted', p.id)),
    dl([[t('patients.kana'), p.name && p.name.kana], [t('patients.romaji'), p.name && p.name.romaji],
      [t('patients.birthdate'), p.birthdate], [t('patients.gender'), p.gender && t(`fhir.gender.${p.gender}`)],
      [t('patients.identifiers'), (p.identifiers || []).map((i) => h('div', `${i.value} `, h('code.code', i.system || '')))],
      [t('patients.access'), p.access && t(`access.${p.access.how}`)]]),
    h('p.actions', h('a.button', { href: `#/print/patient/${enc(p.id)}` }, t('print.patient')), ' ',
      h('a.button', { href: `#/write/${enc(p.id)}` }, t('write.new'))),
    h('h2', t('patient.timeline', { n: recs.length })),
    recs.length ? h('ol.timeline', recs.map((r) => h('li',
      h('time', { datetime: r.time }, fmtTime(r.time)), ' ',
      h('a.rec', { href: `#/record/${enc(r.record)}` }, typeLabel(r)), ' ', statusBadge(r.status),
      h('span.muted', ` v${r.version} · ${who(r)}${r.confirmer ? ` · ${t('record.confirmer')}: ${r.confirmer}` : ''} · ${fmtBytes(r.size)}`),
      r.reason ? h('div.reason', `${t('record.reason')}: ${r.reason}`) : null))) : h('p', t('patient.none')));
});

const TYPE_KEYS = { hl7v2: 'type.hl7v2', 'application/pdf': 'type.pdf', 'application/dicom': 'type.dicom' };
function typeLabel(r) {
  const k = TYPE_KEYS[r.type] || TYPE_KEYS[r.content_type];
  return k ? t(k) : t(`type.${r.type}`); // an unknown type shows as it is
}

// ---- content: fetched once, rendered by kind ----

async function fetchVersion(rid, n, purpose) {
  const r = await api(q(`/api/records/${enc(rid)}/versions/${n}`, { purpose }), { raw: true });
  const bytes = new Uint8Array(await r.blob.arrayBuffer());
  return { blob: r.blob, bytes, type: r.headers.get('Content-Type') || '', leaf: r.headers.get('X-Kura-Leaf-Index') };
}

function kindOf(rec, bytes) {
  const ct = `${rec.content_type || ''}`.toLowerCase();
  const head = String.fromCharCode(...bytes.subarray(0, 5));
  if (ct.includes('pdf') || head === '%PDF-') return 'pdf';
  if (ct.includes('dicom') || (bytes.length > 132 && String.fromCharCode(...bytes.subarray(128, 132)) === 'DICM')) return 'dicom';
  const text = decodeText(bytes);
  if (rec.type === 'hl7v2' || ct.includes('hl7') || (text !== null && looksLikeHl7(text))) return 'hl7';
  if (text !== null && (ct.includes('json') || /^\s*\{/.test(text))) {
    try { if (JSON.parse(text).resourceType) return 'fhir'; } catch { /* not JSON */ }
  }
  return text !== null ? 'text' : 'binary';
}

function decodeText(bytes) {
  try { return new TextDecoder('utf-8', { fatal: true }).decode(bytes); } catch { return null; }
}

function renderContent(rec, c, { print = false } = {}) {
  const kind = kindOf(rec, c.bytes);
  const text = decodeText(c.bytes);
  // downloads are opaque bytes: a stored HTML or SVG document must never
  // open as a page of this origin from a blob: URL
  const url = blobUrl(new Blob([c.bytes], { type: 'application/octet-stream' }));
  const dlName = `${rec.patient}-v${rec.version}.${{ pdf: 'pdf', dicom: 'dcm', hl7: 'hl7', fhir: 'json', text: 'txt' }[kind] || 'bin'}`;
  if (kind === 'fhir') return h('div.content', { dataset: { kind } }, renderFhir(JSON.parse(text)));
  if (kind === 'hl7') return h('div.content', { dataset: { kind } }, renderHl7(text));
  if (kind === 'dicom') return h('div.content', { dataset: { kind } }, renderDicom(c.bytes, url, dlName));
  if (kind === 'pdf') {
    const pdf = blobUrl(new Blob([c.bytes], { type: 'application/pdf' }));
    return h('div.content', { dataset: { kind } },
      print ? h('p', t('print.pdfNote')) : h('iframe.pdf', { src: pdf, title: t('record.pdfTitle') }),
      h('p.no-print', h('a.button', { href: pdf, download: dlName }, t('record.download'))));
  }
  if (kind === 'text') return h('div.content', { dataset: { kind } }, h('pre.text', text));
  return h('div.content', { dataset: { kind } }, h('p', t('record.binary', { size: fmtBytes(c.bytes.length) })), h('a.button', { href: url, download: dlName }, t('record.download')));
}

function rawView(c) {
  const text = decodeText(c.bytes);
  if (text !== null) return h('pre.raw', text);
  const lines = [];
  for (let o = 0; o < Math.min(c.bytes.length, 4096); o += 16) {
    const row = c.bytes.subarray(o, o + 16);
    lines.push(`${o.toString(16).padStart(8, '0')}  ${hex(row).replace(/(..)/g, '$1 ')} ${String.fromCharCode(...row).replace(/[^\x20-\x7e]/g, '.')}`);
  }
  return h('pre.raw', lines.join('\n'), c.bytes.length > 4096 ? `\n… ${fmtBytes(c.bytes.length)}` : '');
}

// ---- authenticity: the proof checked here ----

async function checkProof(rid, n) {
  const [proof, pem] = await Promise.all([get(q('/api/ledger/proof', { record: rid, version: n })),
    api('/api/ledger/pubkey').then((r) => r.data.text)]);
  return verifyInclusion(proof, pem, rid, n);
}

function proofPanel(rid, n, onDone) {
  const out = h('div#proof', { 'aria-live': 'polite' }, h('p.muted', t('proof.checking')));
  checkProof(rid, n).then((v) => {
    put(clear(out), h('p.verified', { role: 'status' }, '✔ ', t('proof.verified')),
      dl([[t('proof.leaf'), h('code', `${v.leaf.record}@${v.leaf.version} · ${v.leafHash}`)],
        [t('proof.treeSize'), String(v.sth.tree_size)], [t('proof.sthTime'), fmtTime(v.sth.timestamp || new Date(Number(v.sth.timestamp_us) / 1000).toISOString())],
        [t('proof.root'), h('code', v.sth.root_hash)], [t('proof.logId'), h('code', v.logId)]]),
      h('p.muted', t('proof.how')));
    if (onDone) onDone(v);
  }).catch((e) => {
    put(clear(out), h('p.failed', { role: 'alert' }, '✘ ', t('proof.failed'), ': ', errText(e)));
    if (onDone) onDone(null);
  });
  return out;
}

// ---- one record ----

route(/^#\/record\/([^/?]+)$/, async (el, rid) => {
  const rec = await get(`/api/records/${enc(rid)}`);
  const versions = rec.versions || [];
  const latest = versions[versions.length - 1] || rec;
  put(clear(el), h('h1', typeLabel(rec), ' ', statusBadge(latest.status), ' ', h('small.muted', `v${latest.version}`)),
    h('p', h('a', { href: `#/patient/${enc(rec.patient)}` }, `← ${t('record.patient')}: ${rec.patient}`)),
    versionFacts(latest));
  const body = h('div');
  const rawBox = h('div', { hidden: true });
  const toggle = h('button', { type: 'button', id: 'raw-toggle', 'aria-pressed': 'false', on: { click: () => {
    rawBox.hidden = !rawBox.hidden; body.hidden = !rawBox.hidden;
    toggle.setAttribute('aria-pressed', String(!rawBox.hidden));
    toggle.textContent = rawBox.hidden ? t('record.raw') : t('record.readable');
  } } }, t('record.raw'));
  put(el, h('p.actions', toggle, ' ', h('a.button', { href: `#/print/record/${enc(rid)}` }, t('print.record'))));
  put(el, h('section.card', { 'aria-label': t('record.content') }, body, rawBox));
  if (latest.status === 'entered-in-error') put(body, h('p.warn', t('record.retracted')));
  else {
    const c = await fetchVersion(rid, latest.version);
    put(body, renderContent(rec, c));
    put(rawBox, rawView(c));
  }
  put(el, h('section.card', h('h2', t('proof.title')), proofPanel(rid, latest.version),
    h('p', t('sig.label'), ': ', latest.signature ? `${latest.signature.status || ''}` : t('sig.none'))));
  put(el, historySection(rid, versions));
  put(el, actionsSection(rec, latest));
});

function versionFacts(v) {
  return dl([[t('record.time'), fmtTime(v.time)], [t('record.inputter'), v.inputter],
    [t('record.confirmer'), v.confirmer || t('record.notConfirmed')], [t('record.onBehalfOf'), v.on_behalf_of],
    [t('record.reason'), v.reason], [t('record.status'), t(`status.${v.status}`)],
    [t('record.contentType'), v.content_type], [t('record.size'), fmtBytes(v.size)],
    [t('record.id'), h('code', `${v.record}@${v.version}`)], [t('record.leafIndex'), v.leaf_index !== undefined ? String(v.leaf_index) : '']]);
}

function historySection(rid, versions) {
  const n = versions.length;
  const pick = (name, dflt) => (v) => h('input', { type: 'radio', name, value: v.version, 'aria-label': `${name === 'a' ? t('diff.left') : t('diff.right')} v${v.version}`, checked: v.version === dflt });
  const pa = pick('a', n > 1 ? versions[n - 2].version : 1);
  const pb = pick('b', n ? versions[n - 1].version : 1);
  const rows = versions.slice().reverse().map((v) => h('tr', h('td', pa(v)), h('td', pb(v)),
    h('td', `v${v.version}`), h('td', statusBadge(v.status)), h('td', fmtTime(v.time)), h('td', v.inputter),
    h('td', v.confirmer || ''), h('td', v.on_behalf_of || ''), h('td', v.reason || ''), h('td', fmtBytes(v.size))));
  const form = h('form', { on: { submit: (ev) => {
    ev.preventDefault();
    const fd = new FormData(ev.target);
    go(`#/compare/${enc(rid)}/${fd.get('a')}/${fd.get('b')}`);
  } } }, table([t('diff.left'), t('diff.right'), t('record.version'), t('record.status'), t('record.time'), t('record.inputter'),
    t('record.confirmer'), t('record.onBehalfOf'), t('record.reason'), t('record.size')], rows, { caption: t('history.caption') }),
  n > 1 ? h('p', h('button', { type: 'submit', id: 'compare' }, t('diff.compare'))) : null);
  return h('section.card', h('h2', t('history.title', { n })), form);
}

function reasonField(id) {
  return h('textarea', { id, required: true, maxlength: 4096, rows: 2 });
}

function actionsSection(rec, latest) {
  if (['auditor', 'security-admin'].includes(state.me.role)) return null;
  const box = h('section.card.no-print', h('h2', t('actions.title')));
  const msg = h('p.error', { role: 'alert' });
  const act = async (path, body) => {
    try { await post(path, body); flash(t('actions.done')); go(`#/record/${enc(rec.record)}`); } catch (e) { msg.textContent = errText(e); }
  };
  const mk = (what, label, extra = []) => {
    const reason = reasonField(`${what}-reason`);
    return h('details', h('summary', label), h('form', { on: { submit: (ev) => {
      ev.preventDefault();
      if (!reason.value.trim()) { msg.textContent = t('common.reasonRequired'); return; }
      const body = { reason: reason.value.trim() };
      for (const x of extra) x.collect(body);
      act(`/api/records/${enc(rec.record)}/${what}`, body);
    } } }, extra.map((x) => x.el), h('p.field', h('label', { for: `${what}-reason` }, t('record.reason')), reason),
    h('p', h('button.primary', { type: 'submit', id: `${what}-submit` }, label))));
  };
  if (latest.status === 'draft') put(box, mk('confirm', t('actions.confirm')));
  if (latest.status !== 'entered-in-error') {
    const ta = h('textarea', { id: 'amend-content', rows: 8 });
    const conf = h('input', { type: 'checkbox', id: 'amend-confirm' });
    if (/json|text|hl7/.test(latest.content_type || '') || latest.type === 'hl7v2') {
      fetchVersion(rec.record, latest.version).then((c) => { ta.value = decodeText(c.bytes) || ''; }).catch(() => {});
      put(box, mk('amend', t('actions.amend'), [{ el: h('p.field', h('label', { for: 'amend-content' }, t('write.content')), ta),
        collect: (b) => { b.content = ta.value; } }, { el: h('p.field.inline', conf, h('label', { for: 'amend-confirm' }, t('write.confirm'))), collect: (b) => { b.confirm = conf.checked; } }]));
    }
    put(box, mk('retract', t('actions.retract')));
  }
  put(box, msg);
  return box;
}

// ---- compare two versions (AUTH-05) ----

route(/^#\/compare\/([^/]+)\/(\d+)\/(\d+)$/, async (el, rid, a, b) => {
  const rec = await get(`/api/records/${enc(rid)}`);
  const va = (rec.versions || []).find((v) => String(v.version) === a) || {};
  const vb = (rec.versions || []).find((v) => String(v.version) === b) || {};
  const load = async (v) => (v.status === 'entered-in-error' ? { bytes: new Uint8Array(), text: '' } : fetchVersion(rid, v.version).then((c) => ({ ...c, text: decodeText(c.bytes) })));
  const [ca, cb] = await Promise.all([load(va), load(vb)]);
  const label = (v) => `v${v.version} · ${t(`status.${v.status}`)} · ${fmtTime(v.time)} · ${v.inputter}${v.reason ? ` · ${v.reason}` : ''}`;
  put(clear(el), h('h1', t('diff.title', { a, b })), h('p', h('a', { href: `#/record/${enc(rid)}` }, `← ${t('diff.back')}`)),
    h('div.cols', versionFacts(va), versionFacts(vb)));
  if (ca.text === null || cb.text === null) {
    const [ha, hb] = await Promise.all([sha256Hex(ca.bytes), sha256Hex(cb.bytes)]);
    put(el, h('p', ha === hb ? t('diff.same') : t('diff.binary')), dl([[`v${a} SHA-256`, h('code', ha)], [`v${b} SHA-256`, h('code', hb)]]));
  } else put(el, renderDiff(ca.text, cb.text, label(va), label(vb), rec.content_type));
});

// ---- write a new record (with a reason; confirm or leave a draft) ----

route(/^#\/write\/([^/?]+)$/, async (el, pid) => {
  const type = h('select', { id: 'w-type' }, ['Observation', 'Condition', 'AllergyIntolerance', 'MedicationRequest', 'Encounter', 'DiagnosticReport', 'DocumentReference', 'hl7v2', 'text/plain', 'application/pdf'].map((x) => h('option', { value: x }, x)));
  const ctype = h('input', { id: 'w-ctype', value: 'application/fhir+json' });
  type.addEventListener('change', () => { ctype.value = { hl7v2: 'x-application/hl7-v2+er7', 'text/plain': 'text/plain; charset=utf-8', 'application/pdf': 'application/pdf' }[type.value] || 'application/fhir+json'; });
  const content = h('textarea', { id: 'w-content', rows: 10 });
  const file = h('input', { id: 'w-file', type: 'file' });
  const reason = reasonField('w-reason');
  const conf = h('input', { id: 'w-confirm', type: 'checkbox' });
  const behalf = h('input', { id: 'w-behalf', autocomplete: 'off' });
  const msg = h('p.error', { role: 'alert' });
  put(clear(el), h('h1', t('write.title', { id: pid })), h('form.card', { on: { submit: async (ev) => {
    ev.preventDefault();
    if (!reason.value.trim()) { msg.textContent = t('common.reasonRequired'); return; }
    const body = { patient: pid, type: type.value, content_type: ctype.value, reason: reason.value.trim(), confirm: conf.checked };
    if (behalf.value.trim()) body.on_behalf_of = behalf.value.trim();
    if (file.files[0]) {
      const b = new Uint8Array(await file.files[0].arrayBuffer());
      let s = '';
      for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
      body.content_base64 = btoa(s);
    } else body.content = content.value;
    try { const r = await post('/api/records', body); flash(t('actions.done')); go(`#/record/${enc(r.record)}`); } catch (e) { msg.textContent = errText(e); }
  } } },
  h('p.field', h('label', { for: 'w-type' }, t('write.type')), type),
  h('p.field', h('label', { for: 'w-ctype' }, t('record.contentType')), ctype),
  h('p.field', h('label', { for: 'w-content' }, t('write.content')), content),
  h('p.field', h('label', { for: 'w-file' }, t('write.file')), file),
  h('p.field', h('label', { for: 'w-behalf' }, t('record.onBehalfOf')), behalf),
  h('p.field', h('label', { for: 'w-reason' }, t('record.reason')), reason),
  h('p.field.inline', conf, h('label', { for: 'w-confirm' }, t('write.confirm'))),
  msg, h('p', h('button.primary', { type: 'submit', id: 'w-submit' }, t('write.submit')))));
});

// ---- print (READ-01: 書面に表示), laid out for A4 by print.css ----

async function printRecordBlock(rid) {
  const rec = await get(`/api/records/${enc(rid)}`);
  const versions = rec.versions || [];
  const v = versions[versions.length - 1] || rec;
  const block = h('article.print-record', h('h2', typeLabel(rec), ' — ', `v${v.version}`, ' ', statusBadge(v.status)), versionFacts(v));
  let digest = '';
  if (v.status !== 'entered-in-error') {
    const c = await fetchVersion(rid, v.version, 'print');
    digest = await sha256Hex(c.bytes);
    put(block, renderContent(rec, c, { print: true }));
  }
  const code = h('p.vcode', t('print.checking'));
  const ver = await checkProof(rid, v.version).catch(() => null);
  put(clear(code), h('strong', `${t('print.vcode')}: `),
    h('code', `${rid}@${v.version}`), ' · ', ver ? h('code', `leaf ${ver.leafHash.slice(0, 16)} · tree ${ver.sth.tree_size} · root ${ver.sth.root_hash.slice(0, 16)}`) : t('proof.failed'),
    digest ? [' · ', h('code', `sha256 ${digest.slice(0, 32)}`)] : '',
    h('br'), ver ? t('print.vcodeHow') : '');
  put(block, table([t('record.version'), t('record.status'), t('record.time'), t('record.inputter'), t('record.confirmer'), t('record.onBehalfOf'), t('record.reason')],
    versions.map((x) => [`v${x.version}`, t(`status.${x.status}`), fmtTime(x.time), x.inputter, x.confirmer || '', x.on_behalf_of || '', x.reason || '']), { caption: t('history.caption') }), code);
  return block;
}

function printHeader(title) {
  return h('header.print-head', h('h1', title),
    h('p', `${t('print.printedBy')}: ${state.me.user} · ${fmtTime(new Date().toISOString())}`),
    h('p.no-print', h('button.primary', { type: 'button', id: 'do-print', on: { click: () => window.print() } }, t('print.print')), ' ',
      h('button', { type: 'button', on: { click: () => history.back() } }, t('common.back'))));
}

route(/^#\/print\/record\/([^/?]+)$/, async (el, rid) => {
  const block = await printRecordBlock(rid);
  put(clear(el), h('div.print-page', printHeader(t('print.recordTitle')), block));
  document.body.classList.add('printing');
});

route(/^#\/print\/patient\/([^/?]+)$/, async (el, id) => {
  const p = await get(`/api/patients/${enc(id)}`);
  const blocks = [];
  for (const r of (p.records || []).slice(0, 50)) blocks.push(await printRecordBlock(r.record));
  put(clear(el), h('div.print-page', printHeader(t('print.patientTitle')),
    h('section.print-patient', h('h2', { lang: 'ja' }, nameOf(p), ` (${p.id})`),
      dl([[t('patients.kana'), p.name && p.name.kana], [t('patients.birthdate'), p.birthdate], [t('patients.gender'), p.gender && t(`fhir.gender.${p.gender}`)]])),
    blocks));
});

window.addEventListener('hashchange', () => document.body.classList.remove('printing'));
