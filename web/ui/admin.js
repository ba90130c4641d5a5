// admin.js - the security administrator's morning screen (ui-api.md §4):
// alerts first, then accounts (dormant and locked marked), roles, the
// password, session, lockout and TLS policy in force, the ledger, backups.
import { get } from './api.js';
import { clear, dl, h, table, put } from './dom.js';
import { route } from './core.js';
import { fmtBytes, fmtTime, t } from './i18n.js';

const yes = (b) => (b ? t('common.yes') : t('common.no'));
const okBadge = (ok) => h(`span.badge.${ok ? 'ok' : 'bad'}`, ok ? t('common.ok') : t('common.fail'));

// Any JSON value as a readable list (for policy members the API may grow).
function kv(obj) {
  if (obj === null || obj === undefined) return '';
  if (Array.isArray(obj)) return obj.map((x) => (typeof x === 'object' ? kv(x) : String(x))).map((x, i) => [i ? ', ' : '', x]);
  if (typeof obj !== 'object') return String(obj);
  return dl(Object.entries(obj).map(([k, v]) => [t(`policy.${k}`), typeof v === 'boolean' ? yes(v) : kv(v)]));
}

route(/^#\/admin$/, async (el) => {
  const s = await get('/api/admin/status');
  const accounts = s.accounts || [];
  const b = s.backups || {};
  const gens = b.generations || [];
  const drill = b.last_drill || {};
  const ledger = s.ledger || {};
  const tls = s.tls || {};
  const dormant = accounts.filter((a) => a.dormant).length;
  const locked = accounts.filter((a) => a.locked).length;
  put(clear(el), h('h1', t('admin.title')),
    h('ul.summary-cards',
      h('li.card', h('strong', String((s.alerts || []).length)), ' ', t('admin.alerts')),
      h('li.card', h('strong', String(accounts.length)), ' ', t('admin.accounts'), ' · ', t('admin.dormantN', { n: dormant }), ' · ', t('admin.lockedN', { n: locked })),
      h('li.card', t('admin.lastBackup'), ': ', h('strong', b.last_backup ? fmtTime(b.last_backup) : t('admin.never'))),
      h('li.card', t('admin.lastVerify'), ': ', ledger.last_verify ? [fmtTime(ledger.last_verify.time), ' ', okBadge(ledger.last_verify.ok)] : t('admin.never')),
      h(`li.card${(b.checks || []).some((c) => !c.ok) ? '.bad' : ''}`, h('strong', String((b.checks || []).filter((c) => !c.ok).length)), ' ', t('admin.checksFailing'))),
    h('section.card#alerts', h('h2', t('admin.alerts')), (s.alerts || []).length
      ? table([t('audit.time'), t('audit.actor'), t('audit.action'), t('audit.patient'), t('audit.reason')],
        s.alerts.map((e) => h('tr.alert-row', h('td', fmtTime(e.time)), h('td', e.actor || ''), h('td', t(`action.${e.action}`)), h('td', e.patient || ''), h('td', [e.reason, e.detail].filter(Boolean).join(' — ')))))
      : h('p', t('admin.noAlerts'))),
    h('section.card#accounts', h('h2', t('admin.accounts')),
      table([t('admin.id'), t('admin.role'), t('admin.status'), t('admin.lastLogin'), t('admin.factors'), t('admin.flags')],
        accounts.map((a) => h(`tr${a.locked ? '.locked' : a.dormant ? '.dormant' : ''}`, h('td', a.id), h('td', t(`role.${a.role}`)),
          h('td', t(`acct.${a.status}`)), h('td', a.last_login ? fmtTime(a.last_login) : t('admin.never')), h('td', (a.factors || []).join(', ')),
          h('td', a.locked ? h('span.badge.bad', t('admin.locked'), a.locked_until ? ` → ${fmtTime(a.locked_until)}` : '') : null,
            a.dormant ? h('span.badge.warn', t('admin.dormant')) : null, a.must_change ? h('span.badge', t('admin.mustChange')) : null))))),
    h('section.card#roles', h('h2', t('admin.roles')),
      table([t('admin.role'), t('admin.scope'), t('admin.breakglass')], (s.roles || []).map((r) => [t(`role.${r.name}`), typeof r.scope === 'object' ? kv(r.scope) : t(`scope.${r.scope}`), yes(r.breakglass)]))),
    h('section.card#policy', h('h2', t('admin.policy')), kv(s.policy || {})),
    h('section.card#tls', h('h2', t('admin.tls')), dl([[t('admin.protocols'), (tls.protocols || []).join(', ')],
      [t('admin.ciphers'), (tls.tls12_ciphers || []).join(', ')], [t('admin.groups'), (tls.groups || []).join(', ')],
      [t('admin.listeners'), (tls.listeners || []).map((l) => h('div', `${l.address} (mTLS ${l.mtls})`))],
      [t('admin.certificate'), tls.certificate ? `${tls.certificate.subject || ''} · ${t('admin.notAfter')} ${fmtTime(tls.certificate.not_after)} · ${tls.certificate.key || ''}` : '']])),
    h('section.card#ledger', h('h2', t('admin.ledger')), dl([[t('admin.size'), String(ledger.size ?? '')],
      [t('admin.sth'), ledger.sth ? `${ledger.sth.tree_size} · ${fmtTime(ledger.sth.time)} · ${String(ledger.sth.root || '').slice(0, 16)}…` : ''],
      [t('admin.lastVerify'), ledger.last_verify ? [fmtTime(ledger.last_verify.time), ' ', okBadge(ledger.last_verify.ok)] : t('admin.never')]])),
    h('section.card#backups', h('h2', t('admin.backups')),
      dl([[t('admin.lastBackup'), b.last_backup ? fmtTime(b.last_backup) : t('admin.never')],
        [t('admin.lastDrill'), drill.time ? [fmtTime(drill.time), ' ', okBadge(drill.ok), ` RTO ${drill.rto_s ?? '?'} s · RPO ${drill.rpo_s ?? '?'} s`] : t('admin.never')],
        [t('admin.generationsN'), String(gens.length)]]),
      gens.length ? table([t('admin.generation'), t('audit.time'), t('admin.size'), t('admin.bytes'), t('admin.immutable'), t('admin.offline'), t('admin.targets')],
        gens.map((g) => [String(g.id), fmtTime(g.time), String(g.tree_size ?? ''), fmtBytes(g.bytes), yes(g.immutable), yes(g.offline), (g.targets || []).map((x) => (typeof x === 'object' ? JSON.stringify(x) : x)).join(', ')])) : h('p.warn', t('admin.noBackups')),
      (b.checks || []).length ? h('ul.checks', b.checks.map((c) => h('li', okBadge(c.ok), ` ${c.name}${c.detail ? ` — ${c.detail}` : ''}`))) : null));
});
