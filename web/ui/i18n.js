// i18n.js - every string of the page in Japanese and English (en.js,
// ja.js hold the same keys; the e2e suite checks it).  Japanese when the
// browser asks for it first, English otherwise; the choice is kept.
import en from './en.js';
import ja from './ja.js';

const dicts = { en, ja };
const KEY = 'kura.lang';
let lang = pick();

function pick() {
  let saved = null;
  try { saved = localStorage.getItem(KEY); } catch { /* storage off */ }
  if (saved === 'ja' || saved === 'en') return saved;
  const langs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || 'en'];
  for (const l of langs) {
    if (/^ja\b/i.test(l)) return 'ja';
    if (/^en\b/i.test(l)) return 'en';
  }
  return 'en';
}

export function getLang() { return lang; }

export function setLang(l) {
  lang = l === 'ja' ? 'ja' : 'en';
  try { localStorage.setItem(KEY, lang); } catch { /* storage off */ }
  document.documentElement.lang = lang;
}

// t('key', {n: 3}) → the string with {n} replaced; a missing key shows itself.
export function t(key, vars) {
  // an unknown key (a role or status the server added later) shows its last part
  let s = dicts[lang][key] ?? dicts.en[key] ?? key.slice(key.indexOf('.') + 1);
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

// An error answer's text in the page's language (ui-api.md: error_ja beside error).
export function errText(e) {
  const d = (e && e.data) || {};
  if (lang === 'ja' && d.error_ja) return d.error_ja;
  return d.error || (e && e.message) || String(e);
}

// RFC 3339 UTC → local date and time in the page's language.
export function fmtTime(s) {
  if (!s) return '';
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return String(s);
  return d.toLocaleString(lang === 'ja' ? 'ja-JP' : 'en-GB', { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function fmtBytes(n) {
  if (n === undefined || n === null) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1048576) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1073741824) return `${(n / 1048576).toFixed(1)} MiB`;
  return `${(n / 1073741824).toFixed(2)} GiB`;
}
