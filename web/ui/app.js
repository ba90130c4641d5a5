// app.js - the page's shell (docs/UI.md): who is logged in, the language,
// the hash routes, the login with its second factor, the forced password
// change and TOTP enrolment, the session's end.  Views live in their own
// modules and render into <main>.
import { ApiError, get, post, setCsrf, whenExpired, lastActivity } from './api.js';
import { clear, h, put } from './dom.js';
import { errText, getLang, setLang, t } from './i18n.js';
import { banner, flash, go, homeOf, hooks, route, routes, showFlash, state } from './core.js';
import './records.js';
import './audit.js';
import './admin.js';

const main = () => document.getElementById('main');
const IDLE_MIN_DEFAULT = 15; // when /api/me does not say idle_minutes; the server's limit decides

const clinical = (role) => !['auditor', 'security-admin', 'system'].includes(role);

// ---- routing ----

async function render() {
  const hash = location.hash || '#/';
  const el = main();
  chrome();
  showFlash();
  if (!state.me) { loginView(el); return; }
  if ((state.me.must_change && hash !== '#/password') || (!state.me.must_change && state.me.must_enroll && hash !== '#/totp')) {
    go(homeOf(state.me));
    return;
  }
  for (const [re, view] of routes) {
    const m = re.exec(hash);
    if (!m) continue;
    put(clear(el), h('p.loading', t('common.loading')));
    try {
      await view(el, ...m.slice(1).map((x) => (x === undefined ? x : decodeURIComponent(x))));
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return;
      put(clear(el), h('h1', { tabindex: -1 }, t('common.error')), h('p.error', { role: 'alert' }, errText(e)));
    }
    focusHeading(el);
    return;
  }
  go(homeOf(state.me));
}

function focusHeading(el) {
  const h1 = el.querySelector('h1');
  if (h1) { h1.setAttribute('tabindex', '-1'); h1.focus({ preventScroll: true }); }
}

// ---- the header: navigation, who, language, logout ----

function chrome() {
  document.documentElement.lang = getLang();
  document.title = `kura — ${t('app.title')}`;
  const lang = document.getElementById('lang');
  lang.textContent = getLang() === 'ja' ? 'English' : '日本語';
  lang.setAttribute('lang', getLang() === 'ja' ? 'en' : 'ja');
  lang.setAttribute('aria-label', t('app.switchLang'));
  const out = document.getElementById('logout');
  out.textContent = t('app.logout');
  out.hidden = !state.me;
  const nav = clear(document.getElementById('nav'));
  const who = clear(document.getElementById('who'));
  if (!state.me) return;
  const me = state.me;
  const links = [];
  if (clinical(me.role)) links.push(['#/patients', t('nav.patients')]);
  if (me.role === 'auditor') links.push(['#/audit', t('nav.audit')]);
  if (me.role === 'security-admin') links.push(['#/admin', t('nav.admin')]);
  links.push(['#/account', t('nav.account')]);
  put(nav, ...links.map(([href, label]) => h('a', { href, 'aria-current': location.hash.startsWith(href) ? 'page' : null }, label)));
  put(who, h('span', `${me.user} (${t(`role.${me.role}`)})`), h('span#session-left.muted', sessionLeft()));
}

function sessionLeft() {
  if (!state.me) return '';
  const idleEnd = lastActivity() + (state.me.idle_minutes || IDLE_MIN_DEFAULT) * 60000;
  const abs = Date.parse(state.me.expires) || Infinity;
  const end = Math.min(idleEnd, abs);
  const min = Math.max(0, Math.round((end - Date.now()) / 60000));
  return ` · ${t('app.sessionLeft', { min })}`;
}

setInterval(() => {
  const el = document.getElementById('session-left');
  if (el) el.textContent = sessionLeft();
}, 30000);

// ---- login (one step: user, password and the code together) ----

function loginView(el) {
  clear(el);
  const msg = h('p.error', { role: 'alert', id: 'login-error' }, state.expiredMsg);
  const user = h('input', { id: 'user', name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const pass = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const otp = h('input', { id: 'otp', name: 'otp', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6,8}', maxlength: 8 });
  const rec = h('input', { id: 'recovery', name: 'recovery', autocomplete: 'off' });
  const recRow = h('p.field', { hidden: true }, h('label', { for: 'recovery' }, t('login.recovery')), rec);
  const toggle = h('button.linkish', { type: 'button', on: { click: () => { recRow.hidden = !recRow.hidden; if (!recRow.hidden) rec.focus(); } } }, t('login.useRecovery'));
  const submit = h('button.primary', { type: 'submit', id: 'login-submit' }, t('login.submit'));
  const form = h('form.card.login', { on: { submit: async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    msg.textContent = '';
    const body = { user: user.value.trim(), password: pass.value };
    if (otp.value.trim()) body.otp = otp.value.trim();
    if (!recRow.hidden && rec.value.trim()) body.recovery = rec.value.trim();
    try {
      const me = await post('/api/login', body);
      pass.value = '';
      signedIn(me);
    } catch (e) {
      pass.value = '';
      otp.value = '';
      msg.textContent = e.status === 423 ? t('login.locked') : e.status === 401 ? t('login.failed') : errText(e);
      submit.disabled = false;
      (e.status === 401 ? pass : user).focus();
    }
  } } },
  h('h1', t('login.title')),
  h('p.muted', t('login.hint')),
  h('p.field', h('label', { for: 'user' }, t('login.user')), user),
  h('p.field', h('label', { for: 'password' }, t('login.password')), pass),
  h('p.field', h('label', { for: 'otp' }, t('login.otp')), otp),
  recRow, h('p', toggle), msg, h('p', submit));
  put(el, form);
  user.focus();
}

function signedIn(me) {
  state.me = me;
  state.expiredMsg = '';
  setCsrf(me.csrf_token);
  banner('');
  go(homeOf(me));
}

async function logout() {
  try { await post('/api/logout', {}); } catch { /* ended anyway */ }
  ended('');
}

function ended(msg) {
  state.me = null;
  setCsrf('');
  state.expiredMsg = msg;
  banner('');
  if (location.hash !== '#/') history.replaceState(null, '', '#/');
  render();
}

whenExpired(() => ended(t('login.expired')));

// ---- the account: password change (AU-11) and TOTP enrolment (AU-12) ----

route(/^#\/password$/, (el) => passwordView(el));
route(/^#\/totp$/, (el) => totpView(el));
route(/^#\/account$/, (el) => {
  put(clear(el), h('h1', t('account.title')), h('p', t('account.intro')),
    h('ul.actions', h('li', h('a.button', { href: '#/password' }, t('account.changePassword'))),
      h('li', h('a.button', { href: '#/totp' }, t('account.enrollTotp')))),
    h('p.muted', t('account.factors', { f: (state.me.factors || []).join(', ') })));
});

function passwordView(el) {
  const forced = state.me.must_change;
  const old = h('input', { id: 'old-password', type: 'password', autocomplete: 'current-password', required: true });
  const nw = h('input', { id: 'new-password', type: 'password', autocomplete: 'new-password', required: true, minlength: 8 });
  const again = h('input', { id: 'new-password2', type: 'password', autocomplete: 'new-password', required: true });
  const msg = h('div', { role: 'alert' });
  const form = h('form.card', { on: { submit: async (ev) => {
    ev.preventDefault();
    clear(msg);
    if (nw.value !== again.value) { put(msg, h('p.error', t('password.mismatch'))); return; }
    try {
      await post('/api/password', { old: old.value, new: nw.value });
      state.me = await get('/api/me');
      setCsrf(state.me.csrf_token);
      flash(t('password.changed'));
      go(homeOf(state.me));
    } catch (e) {
      if (e.status === 401 && e.data && /password/.test(e.data.error || '')) { put(msg, h('p.error', t('password.wrongOld'))); return; }
      put(msg, h('p.error', errText(e)), e.data && Array.isArray(e.data.policy) ? h('ul', e.data.policy.map((p) => h('li', typeof p === 'string' ? p : (getLang() === 'ja' && p.ja) || p.en || p.text || JSON.stringify(p)))) : null);
    }
  } } },
  h('h1', t('password.title')), forced ? h('p.warn', t('password.forced')) : null,
  h('p.muted', t('password.policy')),
  h('p.field', h('label', { for: 'old-password' }, t('password.old')), old),
  h('p.field', h('label', { for: 'new-password' }, t('password.new')), nw),
  h('p.field', h('label', { for: 'new-password2' }, t('password.again')), again),
  msg, h('p', h('button.primary', { type: 'submit' }, t('password.submit'))));
  put(clear(el), form);
}

async function totpView(el) {
  put(clear(el), h('h1', t('totp.title')), h('p', t('totp.intro')));
  const start = h('button.primary', { type: 'button', id: 'totp-start' }, t('totp.start'));
  const area = h('div');
  put(el, h('p', start), area);
  start.addEventListener('click', async () => {
    start.disabled = true;
    const j = await post('/api/factors/totp', {}).catch((e) => { put(area, h('p.error', errText(e))); return null; });
    if (!j) { start.disabled = false; return; }
    const svg = new Blob([j.qr_svg], { type: 'image/svg+xml' });
    const code = h('input', { id: 'totp-code', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6,8}', required: true });
    const msg = h('p.error', { role: 'alert' });
    put(clear(area), 
      h('img.qr', { src: URL.createObjectURL(svg), alt: t('totp.qrAlt'), width: 220, height: 220 }),
      h('p', t('totp.secret'), ' ', h('code#totp-secret', j.secret_base32)),
      h('form.card', { on: { submit: async (ev) => {
        ev.preventDefault();
        try {
          await post('/api/factors/totp/confirm', { code: code.value.trim() });
          state.me = await get('/api/me');
          setCsrf(state.me.csrf_token);
          flash(t('totp.done'));
          go(homeOf(state.me));
        } catch (e) { msg.textContent = e.status === 400 ? t('totp.wrong') : errText(e); code.value = ''; code.focus(); }
      } } }, h('p.field', h('label', { for: 'totp-code' }, t('totp.code')), code), msg,
      h('p', h('button.primary', { type: 'submit' }, t('totp.confirm')))));
    code.focus();
  });
}

// ---- start ----

async function boot() {
  document.getElementById('lang').addEventListener('click', () => { setLang(getLang() === 'ja' ? 'en' : 'ja'); render(); });
  document.getElementById('logout').addEventListener('click', logout);
  window.addEventListener('hashchange', render);
  setLang(getLang());
  try {
    const me = await get('/api/me', { quiet401: true });
    state.me = me;
    setCsrf(me.csrf_token);
  } catch { state.me = null; }
  render();
}

hooks.render = render;
boot();
