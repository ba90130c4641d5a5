// Identity and access control, end to end (issue "Identity, access control
// and a tamper-evident audit trail"): an authorization campaign of >= 200
// attempts, each denial with its audit event (AC-02, AU-01, AU-15, LG-01,
// LG-03), the allowed cases allowed, password policy boundaries (AU-07..11),
// break-glass (BG-01..03) and tampering with audit events (LG-02).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { EXIT, dropTriggers, makeVault, oathtool, run, sqlite, sqliteRows, totp } from './lib/kura.mjs';

// A command the tree under test may not have yet (admin and audit commands
// were written in parallel): null when present, else a skip message.
function missing(cmd) {
  const r = run([cmd, '--help']);
  return /unknown command/.test(r.stderr) ? `'kura ${cmd}' is not in this build` : null;
}
const NO_ADMIN = missing('user') || missing('care') || missing('patient') || missing('factor');
const NO_AUDIT = missing('audit');
const NO_BREAKGLASS = missing('breakglass');

const OBS = (v) => JSON.stringify({ resourceType: 'Observation', status: 'final', code: { text: 'BT' },
  valueQuantity: { value: v, unit: 'Cel' } });
const PAT = (id) => JSON.stringify({ resourceType: 'Patient', id, name: [{ family: 'Yamada' }] });

// Outcome-4 (refused) events so far: the highest leaf index.
const lastDenial = (v) => sqliteRows(v.db, 'SELECT max(leaf_index) AS m FROM events WHERE outcome = 4;')[0].m ?? -1;

function setupCampaign() {
  const v = makeVault();
  v.user('dr.int');                                           // doctor, internal
  v.user('dr.sur', { departments: ['surgery'] });             // doctor, other department
  v.user('dr.care', { departments: ['surgery'] });            // gets a care assignment
  v.user('ns.int', { role: 'nurse' });
  v.user('ns.sur', { role: 'nurse', departments: ['surgery'] });
  v.user('ph.int', { role: 'pharmacist' });
  v.user('cl.ito', { role: 'clerk', departments: ['reception'] });
  v.user('dr.dis');
  v.user('dr.lock');
  v.user('dr.sess');
  v.user('dr.otp');
  // Records of patients of 'internal' (registered there by the writer).
  const recs = [];
  for (let i = 0; i < 4; i++) {
    const patient = `pI${i}`;
    recs.push({ patient, kind: 'note', rec: v.put(`note ${i}\n`, { patient, as: 'dr.int' }) });
    recs.push({ patient, kind: 'obs', rec: v.put(OBS(36 + i), { patient, type: 'Observation', as: 'dr.int' }) });
    recs.push({ patient, kind: 'patient', rec: v.put(PAT(patient), { patient, type: 'Patient', as: 'dr.int' }) });
  }
  // A restricted patient of 'internal'.
  const restricted = [v.put('restricted note\n', { patient: 'pR', as: 'dr.int' }),
    v.put(PAT('pR'), { patient: 'pR', type: 'Patient', as: 'dr.int' })];
  v.admin(['patient', 'set', 'pR', '--department', 'internal', '--restricted']);
  return { v, recs, restricted };
}

test('authorization campaign: >= 200 attempts, every denial audited, every allowed case allowed',
  { skip: NO_ADMIN || false, timeout: 170_000 }, (t) => {
    const { v, recs, restricted } = setupCampaign();
    t.after(() => v.cleanup());
    let denied = 0, allowed = 0;
    const tally = {};
    // A denied attempt: the exit code, and a new refused (outcome 4) event,
    // by this actor when one is named.
    const deny = (category, args, want, opts = {}) => {
      const before = lastDenial(v);
      const r = v.run(args, opts);
      assert.equal(r.status, want, `${category}: kura ${args.join(' ')} as ${opts.as}: ${r.stderr}`);
      const ev = sqliteRows(v.db, `SELECT leaf_index, actor, action, outcome FROM events WHERE outcome = 4 AND leaf_index > ${before} ORDER BY leaf_index;`);
      assert.ok(ev.length >= 1, `${category}: no refused event for kura ${args.join(' ')} as ${opts.as}`);
      if (opts.actor !== undefined) {
        assert.ok(ev.some((e) => e.actor === opts.actor), `${category}: no refused event by ${opts.actor}: ${JSON.stringify(ev)}`);
      }
      denied++;
      tally[category] = (tally[category] || 0) + 1;
      return ev;
    };
    const allow = (what, args, opts = {}) => {
      const r = v.run(args, opts);
      assert.equal(r.status, 0, `${what}: kura ${args.join(' ')} as ${opts.as}: ${r.stderr}`);
      allowed++;
      return r;
    };
    const clinical = recs.filter((r) => r.kind !== 'patient');

    // Allowed: same department (doctor, nurse, pharmacist), clerk on administrative data.
    for (const r of recs) {
      allow('same department', ['get', r.rec], { as: 'dr.int' });
      allow('same department (nurse)', ['get', r.rec], { as: 'ns.int' });
    }
    for (const r of recs.filter((x) => x.kind === 'patient')) allow('clerk, administrative', ['get', r.rec], { as: 'cl.ito' });
    allow('nurse writes an Observation', ['put', '--patient', 'pI0', '--type', 'Observation', '-'], { as: 'ns.int', input: OBS(37.5) });

    // 1. Wrong role.
    for (let k = 0; k < 3; k++) {
      for (const r of clinical) {
        deny('wrong role', ['get', r.rec], EXIT.PASSPHRASE, { as: 'cl.ito', actor: 'cl.ito' });
        deny('wrong role', ['get', r.rec], EXIT.PASSPHRASE, { as: 'admin', actor: 'admin' });
      }
      for (const r of recs.filter((x) => x.kind === 'note')) {
        deny('wrong role', ['amend', r.rec, '--reason', 'r', '-'], EXIT.PASSPHRASE, { as: 'ns.int', input: 'x\n', actor: 'ns.int' });
        deny('wrong role', ['amend', r.rec, '--reason', 'r', '-'], EXIT.PASSPHRASE, { as: 'ph.int', input: 'x\n', actor: 'ph.int' });
      }
      deny('wrong role', ['put', '--patient', 'pI1', '--type', 'text/plain', '-'], EXIT.PASSPHRASE, { as: 'cl.ito', input: 'x\n', actor: 'cl.ito' });
    }

    // 2. Another department.
    for (let k = 0; k < 2; k++) {
      for (const r of recs) {
        deny('other department', ['get', r.rec], EXIT.PASSPHRASE, { as: 'dr.sur', actor: 'dr.sur' });
        deny('other department', ['get', r.rec], EXIT.PASSPHRASE, { as: 'ns.sur', actor: 'ns.sur' });
      }
      deny('other department', ['amend', recs[0].rec, '--reason', 'r', '-'], EXIT.PASSPHRASE, { as: 'dr.sur', input: 'x\n', actor: 'dr.sur' });
    }
    // ... until a care assignment: then allowed, for that patient only.
    deny('other department', ['get', recs[0].rec], EXIT.PASSPHRASE, { as: 'dr.care', actor: 'dr.care' });
    v.admin(['care', 'assign', '--patient', 'pI0', '--user', 'dr.care']);
    for (const r of recs.filter((x) => x.patient === 'pI0')) allow('care assignment', ['get', r.rec], { as: 'dr.care' });
    for (const r of recs.filter((x) => x.patient === 'pI1')) {
      deny('other department', ['get', r.rec], EXIT.PASSPHRASE, { as: 'dr.care', actor: 'dr.care' });
    }

    // 3. A restricted patient: even its own department needs a grant.
    for (let k = 0; k < 4; k++) {
      for (const rec of restricted) {
        deny('restricted patient', ['get', rec], EXIT.PASSPHRASE, { as: 'dr.int', actor: 'dr.int' });
        deny('restricted patient', ['get', rec], EXIT.PASSPHRASE, { as: 'ns.int', actor: 'ns.int' });
      }
      deny('restricted patient', ['get', restricted[1]], EXIT.PASSPHRASE, { as: 'cl.ito', actor: 'cl.ito' });
    }
    v.admin(['patient', 'grant', 'pR', '--user', 'dr.int', '--reason', 'attending physician']);
    for (const rec of restricted) allow('grant on a restricted patient', ['get', rec], { as: 'dr.int' });
    deny('restricted patient', ['get', restricted[0]], EXIT.PASSPHRASE, { as: 'ns.int', actor: 'ns.int' });

    // 4. A disabled account; enabled again it works.
    allow('before disable', ['get', recs[0].rec], { as: 'dr.dis' });
    v.admin(['user', 'disable', 'dr.dis']);
    for (let k = 0; k < 15; k++) deny('disabled account', ['get', recs[k % recs.length].rec], EXIT.LOCKED, { as: 'dr.dis' });
    v.admin(['user', 'enable', 'dr.dis']);
    allow('enabled again', ['get', recs[0].rec], { as: 'dr.dis' });

    // 5. Locked: 5 wrong passwords, then even the right one is refused; the lock is an event.
    const wrong = v.writeCred('dr.lock', 'Wrong-password-42!', join(v.dir, 'cred-dr.lock-wrong'));
    for (let k = 0; k < 5; k++) deny('wrong password', ['--credentials', wrong, 'get', recs[0].rec], EXIT.AUTH, { as: null });
    assert.equal(sqliteRows(v.db, "SELECT count(*) AS n FROM events WHERE action = 'lockout' AND actor = 'dr.lock';")[0].n, 1,
      'the lockout is an audit event');
    for (let k = 0; k < 15; k++) deny('locked account', ['get', recs[k % recs.length].rec], EXIT.LOCKED, { as: 'dr.lock' });
    v.admin(['user', 'unlock', 'dr.lock']);
    allow('unlocked', ['get', recs[0].rec], { as: 'dr.lock' });

    // 6. An ended session reused (logout, then a password change).
    const sess = join(v.dir, 'dr.sess.session');
    const login = () => {
      const r = run(['--credentials', v.users.get('dr.sess').cred, 'login'], { env: { ...v.env, KURA_SESSION_FILE: sess } });
      assert.equal(r.status, 0, r.stderr);
    };
    const viaSession = (file = sess) => ({ as: null, env: { KURA_SESSION_FILE: file } });
    login();
    allow('session', ['get', recs[0].rec], viaSession());
    const saved = join(v.dir, 'dr.sess.saved');
    copyFileSync(sess, saved);
    allow('logout', ['logout'], viaSession());
    for (let k = 0; k < 10; k++) deny('ended session', ['get', recs[k].rec], EXIT.EXPIRED, viaSession(saved));
    login();
    copyFileSync(sess, saved);
    v.passwd('dr.sess');
    for (let k = 0; k < 10; k++) deny('ended session', ['get', recs[k].rec], EXIT.EXPIRED, viaSession(saved));

    // 7, 8. Second factor: a wrong code, and a code used twice.
    const secret = v.enrollTotp('dr.otp');
    const cred = v.users.get('dr.otp').cred;
    const code = totp(secret);
    // (oathtool may run in the next 30 s step)
    assert.ok([code, totp(secret, { step: 1 })].includes(oathtool(secret)), 'the test\'s RFC 6238 agrees with oathtool');
    const wrongCode = String((Number(code) + 500_000) % 1_000_000).padStart(6, '0');
    for (let k = 0; k < 3; k++) {
      deny('wrong one-time code', ['--credentials', cred, '--otp', wrongCode, 'get', recs[0].rec], EXIT.AUTH, { as: null });
    }
    deny('missing one-time code', ['--credentials', cred, 'get', recs[0].rec], EXIT.AUTH, { as: null });
    // (four failures so far: one more would lock; a success resets the count)
    allow('right code', ['--credentials', cred, '--otp', code, 'get', recs[0].rec], { as: null });
    for (let k = 0; k < 4; k++) {
      deny('replayed one-time code', ['--credentials', cred, '--otp', code, 'get', recs[k].rec], EXIT.AUTH, { as: null });
    }
    allow('the next code', ['--credentials', cred, '--otp', totp(secret, { step: 1 }), 'get', recs[0].rec], { as: null });

    t.diagnostic(`denied ${denied}, allowed ${allowed}: ${JSON.stringify(tally)}`);
    assert.ok(denied >= 200, `only ${denied} denied attempts`);
    for (const c of ['wrong role', 'other department', 'restricted patient', 'disabled account', 'locked account',
      'ended session', 'wrong one-time code', 'replayed one-time code']) assert.ok(tally[c] > 0, c);
    const vr = v.verify();
    assert.equal(vr.status, 0, vr.stdout + vr.stderr);
  });

test('password policy boundaries through kura passwd (AU-07..11)', { skip: NO_ADMIN || false }, (t) => {
  const v = makeVault();
  t.after(() => v.cleanup());
  v.user('dr.pw');
  const u = v.users.get('dr.pw');
  const attempt = (pw) => {
    const f = join(v.dir, 'try-pw');
    writeFileSync(f, `${pw}\n`, { mode: 0o600 });
    const r = run(['--credentials', u.cred, 'passwd', '--new-password-file', f], { env: v.env });
    if (r.status === 0) { u.password = pw; v.writeCred('dr.pw', pw, u.cred); }
    return r;
  };
  const cases = [
    ['7 characters', 'Tq4#Vn8', EXIT.POLICY],
    ['8 characters', 'Tq4#Vn8%', EXIT.OK],
    ['12 characters', 'Tq4#Vn8%Rw2!', EXIT.OK],
    ['13 characters', 'Tq4#Vn8%Rw2!z', EXIT.OK],
    ['one class only', 'qwxzvbnmkjhgfdp', EXIT.POLICY],
    ['a dictionary word', 'Password123!', EXIT.POLICY],
    ['the user id', 'dr.pw-Xy7$kkQ9', EXIT.POLICY],
    ['the last password again', 'Tq4#Vn8%Rw2!z', EXIT.POLICY],
    ['an earlier password', 'Tq4#Vn8%', EXIT.POLICY],
  ];
  for (const [what, pw, want] of cases) {
    const r = attempt(pw);
    assert.equal(r.status, want, `${what} (${pw}): ${r.stderr}`);
    if (want === EXIT.POLICY) assert.match(r.stderr, /^kura: error: /, what);
  }
  // Each refusal is an audit event (password-change, outcome 4).
  const refused = sqliteRows(v.db, "SELECT count(*) AS n FROM events WHERE action = 'password-change' AND actor = 'dr.pw' AND outcome = 4;")[0].n;
  assert.equal(refused, cases.filter((c) => c[2] === EXIT.POLICY).length);
  // A new account's initial password must be changed first (exit 16).
  v.user('dr.new', { change: false });
  assert.equal(v.run(['list'], { as: 'dr.new' }).status, EXIT.EXPIRED);
  v.passwd('dr.new');
  assert.equal(v.run(['list'], { as: 'dr.new' }).status, 0);
});

test('break-glass: denied, then granted with an alert, flagged until reviewed (BG-01..03)',
  { skip: NO_ADMIN || NO_BREAKGLASS || false }, (t) => {
    const v = makeVault();
    t.after(() => v.cleanup());
    v.user('dr.er', { departments: ['emergency'] });
    const rec = v.put('chart\n', { patient: 'pB', as: 'dr.sato' });
    assert.equal(v.run(['get', rec], { as: 'dr.er' }).status, EXIT.PASSPHRASE, 'outside the scope');
    const bg = v.run(['breakglass', '--patient', 'pB', '--reason', 'unconscious patient in the ER'], { as: 'dr.er' });
    assert.equal(bg.status, 0, bg.stderr);
    const r = v.run(['get', rec], { as: 'dr.er' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'chart\n');
    const alerts = sqliteRows(v.db, "SELECT * FROM events WHERE actor = 'dr.er' AND severity = 1;");
    assert.ok(alerts.length >= 1, 'break-glass raises an alert-severity event');
    assert.ok(alerts.some((e) => e.patient_id === 'pB' && /unconscious/.test(e.reason + e.detail)), JSON.stringify(alerts));
    // Only that patient.
    const other = v.put('other chart\n', { patient: 'pC', as: 'dr.sato' });
    assert.equal(v.run(['get', other], { as: 'dr.er' }).status, EXIT.PASSPHRASE);

    if (NO_AUDIT) {
      t.diagnostic(`flag and review not checked: ${NO_AUDIT}`);
      return;
    }
    v.user('au.kimura', { role: 'auditor', departments: [] });
    const secret = v.enrollTotp('au.kimura');
    const sess = join(v.dir, 'au.session');
    const li = run(['--credentials', v.users.get('au.kimura').cred, '--otp', totp(secret), 'login'],
      { env: { ...v.env, KURA_SESSION_FILE: sess } });
    assert.equal(li.status, 0, li.stderr);
    const asAuditor = { as: null, env: { KURA_SESSION_FILE: sess } };
    const search = (flag) => {
      const r = v.run(['audit', 'search', '--flag', flag, '--format', 'json', `patient=pB`], asAuditor);
      assert.equal(r.status, 0, r.stderr);
      const out = r.stdout.trim();
      if (!out) return [];
      try { return [JSON.parse(out)].flat(); } catch { return out.split('\n').map((l) => JSON.parse(l)); }
    };
    const bgEvents = search('breakglass');
    assert.ok(bgEvents.length >= 1, 'the break-glass access is flagged breakglass');
    assert.ok(search('unreviewed').length >= 1, 'and unreviewed');
    const review = v.run(['audit', 'review', '--from', '-1d', '--to', 'now', '--note', 'ER case checked'], asAuditor);
    assert.equal(review.status, 0, review.stderr);
    assert.equal(search('unreviewed').length, 0, 'review clears the unreviewed flag');
    assert.ok(search('breakglass').length >= 1, 'the access stays marked as break-glass');
  });

test('tampering with audit events and account state is detected (LG-02)', { skip: NO_ADMIN || false }, (t) => {
  const v = makeVault();
  t.after(() => v.cleanup());
  v.put('x\n');
  v.put('y\n');
  v.user('ns.tamper', { role: 'nurse' });
  assert.equal(v.verify().status, 0);
  const events = v.events();
  assert.ok(events.length > 5);
  const mid = events[Math.floor(events.length / 2)].leaf_index;

  const cases = {
    'leaf-missing': (db) => sqlite(db, `DELETE FROM events WHERE leaf_index = ${mid};`),
    'event-hash': (db) => sqlite(db, `UPDATE events SET actor = 'mallory' WHERE leaf_index = ${mid};`),
    'leaf-extra': (db) => sqlite(db, `INSERT INTO events SELECT leaf_index + 1000000, time_us, utc_offset_min, clock, severity, outcome, action, actor, role, terminal, client_ip, cert_fp, patient_id, record_id, version, query, reason, detail FROM events WHERE leaf_index = ${mid};`),
  };
  for (const [want, edit] of Object.entries(cases)) {
    const path = v.copy(`t-${want}`);
    const db = join(path, 'vault.db');
    dropTriggers(db);
    edit(db);
    const r = v.run(['--json', 'verify'], { as: 'admin', env: { KURA_VAULT: path } });
    assert.equal(r.status, EXIT.VERIFY, `${want}: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout, new RegExp(want), `${want} reported: ${r.stdout}`);
  }
  // An account's role edited in the state table: it cannot log in, and verify says state-mac.
  const path = v.copy('t-state');
  const db = join(path, 'vault.db');
  dropTriggers(db);
  const rows = sqliteRows(db, "SELECT kind, key, CAST(value AS TEXT) AS value FROM state WHERE value LIKE '%ns.tamper%' OR key = 'ns.tamper';");
  const acct = rows.find((r) => r.key === 'ns.tamper' && /nurse/.test(r.value));
  assert.ok(acct, `the account row: ${JSON.stringify(rows)}`);
  const edited = acct.value.replace('"nurse"', '"doctor"');
  assert.notEqual(edited, acct.value);
  sqlite(db, `UPDATE state SET value = CAST('${edited.replace(/'/g, "''")}' AS BLOB) WHERE kind = '${acct.kind}' AND key = 'ns.tamper';`);
  const li = v.run(['get', 'x'], { as: 'ns.tamper', env: { KURA_VAULT: path } });
  assert.equal(li.status, EXIT.DAMAGED, `edited account: ${li.stderr}`);
  const r = v.run(['--json', 'verify'], { as: 'admin', env: { KURA_VAULT: path } });
  assert.equal(r.status, EXIT.VERIFY, r.stdout + r.stderr);
  assert.match(r.stdout, /state-mac/);
});
