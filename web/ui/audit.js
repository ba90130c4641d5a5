// audit.js - the auditor's views (LG-01, LG-05, BG-02): who accessed a
// patient, what an account did, anomalies (off-hours, bulk, break-glass),
// and marking a period reviewed.
import { get, post, q } from './api.js';
import { clear, h, table, put } from './dom.js';
import { go, route } from './core.js';
import { errText, fmtTime, t } from './i18n.js';

const FIELDS = ['patient', 'user', 'action', 'from', 'to'];

route(/^#\/audit(?:\?(.*))?$/, async (el, qs) => {
  const params = new URLSearchParams(qs || '');
  const inputs = Object.fromEntries(FIELDS.map((f) => [f, h('input', { id: `a-${f}`, name: f, value: params.get(f) || '', placeholder: /from|to/.test(f) ? '2026-12-01T00:00:00Z' : '' })]));
  const flagged = h('input', { id: 'a-flagged', type: 'checkbox', checked: params.get('flagged') === '1' });
  const search = (extra) => go(q('#/audit', { ...Object.fromEntries(FIELDS.map((f) => [f, inputs[f].value.trim()])), flagged: flagged.checked ? '1' : '', ...extra }));
  put(clear(el), h('h1', t('audit.title')),
    h('p.tabs', h('a.button', { href: '#/audit?flagged=1', id: 'a-anomalies' }, t('audit.anomalies')), ' ',
      h('span.muted', t('audit.tabsHint'))),
    h('form.card.filters', { on: { submit: (ev) => { ev.preventDefault(); search({}); } } },
      FIELDS.map((f) => h('p.field', h('label', { for: `a-${f}` }, t(`audit.${f}`)), inputs[f])),
      h('p.field.inline', flagged, h('label', { for: 'a-flagged' }, t('audit.flagged'))),
      h('p', h('button.primary', { type: 'submit', id: 'a-search' }, t('audit.search')))));
  const res = h('div#audit-results', { 'aria-live': 'polite' });
  put(el, res, reviewForm(params));
  if (![...params.keys()].length) return;
  const query = Object.fromEntries([...FIELDS, 'flagged'].map((f) => [f, params.get(f) || undefined]));
  const j = await get(q('/api/audit/events', { ...query, limit: 200 }));
  const events = j.events || [];
  const heading = params.get('patient') ? t('audit.whoPatient', { p: params.get('patient') })
    : params.get('user') ? t('audit.whatUser', { u: params.get('user') }) : params.get('flagged') ? t('audit.anomalies') : t('audit.events');
  put(res, h('h2', heading), h('p', t('audit.total', { n: j.total ?? events.length, shown: events.length })),
    events.length ? table([t('audit.time'), t('audit.actor'), t('audit.action'), t('audit.outcome'), t('audit.patient'), t('audit.record'), t('audit.where'), t('audit.reason'), t('audit.flags')],
      events.map((e) => h(`tr${(e.flags || []).includes('breakglass') ? '.bg-row' : ''}`,
        h('td', fmtTime(e.time)), h('td', h('a', { href: q('#/audit', { user: e.actor }) }, e.actor || ''), e.role ? h('small.muted', ` ${t(`role.${e.role}`)}`) : ''),
        h('td', t(`action.${e.action}`)), h('td', t(`outcome.${e.outcome}`)), h('td', e.patient ? h('a', { href: q('#/audit', { patient: e.patient }) }, e.patient) : ''),
        h('td', e.record ? h('code', `${e.record.slice(0, 8)}…${e.version ? `@${e.version}` : ''}`) : ''),
        h('td', [e.client_ip, e.terminal].filter(Boolean).join(' · ')), h('td', [e.reason, e.detail].filter(Boolean).join(' — ')),
        h('td', (e.flags || []).map((f) => h(`span.badge.flag-${f}`, t(`flag.${f}`))))))) : null);
});

function reviewForm(params) {
  const from = h('input', { id: 'r-from', required: true, value: params.get('from') || '', placeholder: '2026-12-01T00:00:00Z' });
  const to = h('input', { id: 'r-to', required: true, value: params.get('to') || '', placeholder: '2026-12-02T00:00:00Z' });
  const note = h('input', { id: 'r-note' });
  const msg = h('p', { role: 'status', id: 'r-result' });
  return h('section.card', h('h2', t('review.title')), h('p.muted', t('review.explain')),
    h('form', { on: { submit: async (ev) => {
      ev.preventDefault();
      try {
        const r = await post('/api/audit/review', { from: from.value.trim(), to: to.value.trim(), ...(note.value.trim() ? { note: note.value.trim() } : {}) });
        msg.textContent = t('review.done', { n: r.reviewed, m: r.breakglass });
        msg.className = 'ok';
      } catch (e) { msg.textContent = errText(e); msg.className = 'error'; }
    } } }, h('p.field', h('label', { for: 'r-from' }, t('audit.from')), from),
    h('p.field', h('label', { for: 'r-to' }, t('audit.to')), to),
    h('p.field', h('label', { for: 'r-note' }, t('review.note')), note), msg,
    h('p', h('button.primary', { type: 'submit', id: 'r-submit' }, t('review.submit')))));
}
