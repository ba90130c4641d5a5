// core.js - what the views share: the logged-in account, the route table,
// navigation and the status banner (app.js renders; views register routes).
import { clear, h, put } from './dom.js';

export const state = { me: null, expiredMsg: '' };
export const routes = [];
export const hooks = { render: () => {} };

// route(/^#\/x\/([^/]+)$/, async (mainEl, ...captures) => {...})
export function route(re, view) { routes.push([re, view]); }

export function go(hash) {
  if (location.hash === hash) hooks.render(); else location.hash = hash;
}

export function homeOf(me) {
  if (me.must_change) return '#/password';
  if (me.must_enroll) return '#/totp';
  if (me.role === 'auditor') return '#/audit';
  if (me.role === 'security-admin') return '#/admin';
  return '#/patients';
}

export function banner(text, kind = 'info') {
  const b = clear(document.getElementById('banner'));
  if (text) put(b, h(`p.banner.${kind}`, text));
}

// A message for the next screen (after go()): shown once, then cleared.
let pending = null;
export function flash(text, kind = 'ok') { pending = [text, kind]; }
export function showFlash() {
  banner(...(pending || ['']));
  pending = null;
}
