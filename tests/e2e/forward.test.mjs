// forward.test.mjs - `kura audit forward` end to end against a real rsyslog
// (Debian rsyslog + rsyslog-gnutls, driver gtls, mutual TLS, x509/name),
// started by the test: events forwarded, rsyslog stopped mid-stream, more
// events written and a forward run that must fail without moving the cursor,
// rsyslog restarted, the rest forwarded; then every event of the vault's
// `events` table must be in rsyslog's file exactly once, in order, with its
// leaf index and an ATNA AuditMessage naming the right DICOM EventID.  Last,
// a receiver configured with a client certificate of the same CA but
// CN=intruder must be refused and its cursor must never move.
//
// Self-contained (node built-ins, the kura binary from KURA_BIN, openssl,
// sqlite3, oathtool, /usr/sbin/rsyslogd); it does not use lib/kura.mjs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync,
  writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const KURA = process.env.KURA_BIN;
const RSYSLOGD = '/usr/sbin/rsyslogd';
const FAST_KDF = ['--kdf-ops', '1', '--kdf-mem-mib', '8'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// DICOM EventIDs (CID 400) for the actions this scenario makes
// (src/audit/export.c); any other action must at least carry an EventID.
// EventActionCode for the record operations.
const ACTION_CODE = { write: 'C', read: 'R', confirm: 'U' };
const EVENT_ID = {
  init: '110100', login: '110114', logout: '110114', 'password-change': '110113',
  'factor-enroll': '110113', 'config-change': '110113', 'account-add': '110113',
  write: '110110', read: '110110', confirm: '110110', 'audit-forward': '110106',
};

let dir, vault, passFile, auth, outFile, conf, port;
let rsyslog = null; // the running rsyslogd ChildProcess
let failed = false; // keep the files for a look
let adminEnv, drCred;

// ---- small helpers (copied in, not imported: lib/kura.mjs is being rewritten) ----

function env(extra = {}) {
  const e = { ...process.env };
  for (const k of ['KURA_VAULT', 'KURA_PASSPHRASE', 'KURA_PASSPHRASE_FILE', 'KURA_SESSION_FILE',
    'KURA_CREDENTIALS', 'LC_ALL', 'LC_MESSAGES', 'LANGUAGE']) delete e[k];
  e.LANG = 'C.UTF-8';
  e.KURA_VAULT = vault;
  e.KURA_PASSPHRASE_FILE = passFile;
  return { ...e, ...extra };
}

function kura(args, { input, extraEnv = {}, timeout = 30_000 } = {}) {
  const r = spawnSync(KURA, args, { input, env: env(extraEnv), timeout, encoding: 'utf8' });
  if (r.error && r.error.code !== 'EPIPE') throw r.error;
  return { status: r.status, signal: r.signal, stdout: r.stdout || '', stderr: r.stderr || '' };
}

function ok(args, opts) {
  const r = kura(args, opts);
  if (r.status !== 0) {
    throw new Error(`kura ${args.join(' ')} exited ${r.status} ${r.signal || ''}: ` +
      `${r.stderr}${r.stdout}`);
  }
  return r;
}

const admin = (args, opts = {}) => ok(args, { ...opts, extraEnv: adminEnv });

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

function sqliteRows(sql) {
  const out = sh('sqlite3', ['-bail', '-json', join(vault, 'vault.db')], { input: sql });
  return out.trim() ? JSON.parse(out) : [];
}

const events = () => sqliteRows('select leaf_index, action from events order by leaf_index;');

function cursor(name) {
  const rows = sqliteRows(`select value from state where kind = 'forward' and key = '${name}';`);
  assert.equal(rows.length, 1, `no state row (forward, ${name})`);
  return JSON.parse(rows[0].value);
}

function randPw() {
  return `K${randomBytes(12).toString('base64url')}#7`;
}

function writeSecret(path, text) {
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

function creds(path, user, pw) {
  return writeSecret(path, `[kura]\nuser = ${user}\npassword = ${pw}\n`);
}

function totp(secret) {
  return sh('oathtool', ['--totp', '-b', secret]).trim();
}

// ---- rsyslog ----

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

function portOpen() {
  return new Promise((resolve) => {
    const c = connect({ host: '127.0.0.1', port });
    c.on('connect', () => { c.destroy(); resolve(true); });
    c.on('error', () => resolve(false));
  });
}

// CA, server certificate for IP 127.0.0.1, clients CN=kura-test and CN=intruder.
function makeCerts() {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  const o = { cwd: dir };
  sh('openssl', ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2',
    '-subj', '/CN=kura-test-ca', '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], o);
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\n' +
    'extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n');
  writeFileSync(join(dir, 'client.ext'),
    'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n');
  for (const [name, cn, ext] of [['server', '127.0.0.1', 'server.ext'],
    ['client', 'kura-test', 'client.ext'], ['intruder', 'intruder', 'client.ext']]) {
    sh('openssl', ['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`,
      '-subj', `/CN=${cn}`], o);
    sh('openssl', ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key',
      '-CAcreateserial', '-days', '2', '-extfile', ext, '-out', `${name}.pem`], o);
  }
}

// As tests/syslog/rsyslog_roundtrip.c, plus a 64 KiB message size (set before
// any module is loaded) and control characters escaped on receipt (rsyslog's
// default, spelled out) so each ATNA XML stays on one line of the file.
function writeConf() {
  mkdirSync(join(dir, 'work'), { mode: 0o700 });
  writeFileSync(conf, `global(maxMessageSize="64k"
  workDirectory="${dir}/work"
  parser.escapeControlCharactersOnReceive="on"
  DefaultNetstreamDriver="gtls"
  DefaultNetstreamDriverCAFile="${dir}/ca.pem"
  DefaultNetstreamDriverCertFile="${dir}/server.pem"
  DefaultNetstreamDriverKeyFile="${dir}/server.key")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="${port}" ruleset="fromtls"
  StreamDriver.Name="gtls" StreamDriver.Mode="1"
  StreamDriver.AuthMode="x509/name" PermittedPeer=["kura-test"])
template(name="t" type="string"
  string="app=%app-name% msgid=%msgid% sd=%structured-data% msg=%msg%\\n")
$ActionFileEnableSync on
ruleset(name="fromtls") {
  action(type="omfile" file="${outFile}" template="t" flushOnTXEnd="on"
    asyncWriting="off")
}
`);
}

async function startRsyslog() {
  const log = join(dir, 'rsyslogd.log');
  rsyslog = spawn(RSYSLOGD, ['-n', '-f', conf, '-i', join(dir, 'rsyslog.pid')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let exited = false;
  const buf = [];
  rsyslog.stdout.on('data', (d) => buf.push(d));
  rsyslog.stderr.on('data', (d) => buf.push(d));
  rsyslog.on('exit', () => {
    exited = true;
    try { writeFileSync(log, Buffer.concat(buf), { flag: 'a' }); } catch { /* dir gone */ }
  });
  for (let i = 0; i < 200; i++) {
    if (exited) {
      rsyslog = null;
      throw new Error(`rsyslogd exited at start: ${Buffer.concat(buf).toString()}`);
    }
    if (await portOpen()) return;
    await sleep(50);
  }
  throw new Error(`rsyslogd does not listen on port ${port}: ${Buffer.concat(buf).toString()}`);
}

async function stopRsyslog() {
  const p = rsyslog;
  if (!p) return;
  rsyslog = null;
  if (p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 5000);
  await gone;
  clearTimeout(t);
}

const received = () => (existsSync(outFile) ? readFileSync(outFile, 'utf8') : '')
  .split('\n').filter((l) => l.length > 0);

async function waitLines(n, ms = 10_000) {
  const end = Date.now() + ms;
  while (received().length < n && Date.now() < end) await sleep(50);
  return received().length;
}

// ---- the vault ----

function setupVault() {
  writeSecret(passFile, randomBytes(24).toString('base64'));
  mkdirSync(auth, { mode: 0o700 });
  const initial = randPw();
  const initialFile = writeSecret(join(auth, 'admin.initial'), initial);
  ok(['init', ...FAST_KDF, '--admin', 'admin', '--admin-password-file', initialFile]);
  const adminCred = creds(join(auth, 'admin.cred'), 'admin', initial);
  const pw = randPw();
  ok(['--credentials', adminCred, 'passwd', '--new-password-file',
    writeSecret(join(auth, 'admin.pw'), pw)]);
  creds(adminCred, 'admin', pw);
  const enrol = JSON.parse(ok(['--json', '--credentials', adminCred, 'factor', 'enroll',
    'totp']).stdout);
  assert.ok(enrol.secret_base32, 'factor enroll totp --json gave no secret_base32');
  adminEnv = { KURA_SESSION_FILE: join(auth, 'admin.session') };
  ok(['--credentials', adminCred, '--otp', totp(enrol.secret_base32), 'login'],
    { extraEnv: adminEnv });

  // The doctor, with its first password changed.
  const drInitial = randPw();
  admin(['user', 'add', 'dr.sato', '--role', 'doctor', '--department', 'internal',
    '--password-file', writeSecret(join(auth, 'dr.initial'), drInitial)]);
  drCred = creds(join(auth, 'dr.cred'), 'dr.sato', drInitial);
  const drPw = randPw();
  ok(['--credentials', drCred, 'passwd', '--new-password-file',
    writeSecret(join(auth, 'dr.pw'), drPw)]);
  creds(drCred, 'dr.sato', drPw);

  // Two receivers on the same rsyslog: siem (CN=kura-test, permitted) and
  // rogue (CN=intruder, same CA, not permitted).
  for (const [name, who] of [['siem', 'client'], ['rogue', 'intruder']]) {
    const set = { host: '127.0.0.1', port: String(port), ca: join(dir, 'ca.pem'),
      cert: join(dir, `${who}.pem`), key: join(dir, `${who}.key`), server_name: '127.0.0.1' };
    for (const [k, v] of Object.entries(set)) admin(['config', 'set', `syslog.${name}.${k}`, v]);
    admin(['audit', 'forward', '--add', name]);
  }
}

// N records written and read back by the doctor (write and read events,
// each session with its login and logout).
function putRecords(n) {
  for (let i = 0; i < n; i++) {
    const r = ok(['--credentials', drCred, 'put', '--patient', `P${1 + (i % 2)}`,
      '--type', 'Observation', '--confirm', '-'],
    { input: '{"resourceType":"Observation","status":"final"}' });
    const ref = r.stdout.trim();
    assert.match(ref, /^[0-9a-f-]{36}@1$/, `put printed ${JSON.stringify(r.stdout)}`);
    ok(['--credentials', drCred, 'get', ref]);
  }
}

const forward = (name, extra) =>
  kura(['audit', 'forward', '--receiver', name, ...extra], { extraEnv: adminEnv });

// Forward --once until the cursor has passed every event, which the run
// itself may have appended to (it is audited): at most a few rounds.
async function forwardAll() {
  for (let round = 0; round < 5; round++) {
    const r = forward('siem', ['--once', '--max-seconds', '10']);
    assert.equal(r.status, 0, `forward to siem failed: ${r.stderr}${r.stdout}`);
    const ev = events();
    const last = ev[ev.length - 1].leaf_index;
    if (cursor('siem').next_leaf > last) {
      assert.equal(cursor('siem').next_seq, ev.length + 1, 'next_seq is not #events + 1');
      return ev;
    }
  }
  throw new Error('the siem cursor never caught up with the events table');
}

// ---- the suite ----

before(async () => {
  try {
    await setup();
  } catch (e) {
    failed = true;
    throw e;
  }
});

async function setup() {
  assert.ok(KURA, 'set KURA_BIN to the kura binary (e.g. build/src/cli/kura)');
  const missing = [];
  try { accessSync(RSYSLOGD, constants.X_OK); } catch { missing.push('rsyslog (rsyslogd)'); }
  if (!existsSync('/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so') &&
      spawnSync('sh', ['-c', 'ls /usr/lib/*/rsyslog/lmnsd_gtls.so']).status !== 0) {
    missing.push('rsyslog-gnutls (lmnsd_gtls.so)');
  }
  for (const t of ['oathtool', 'openssl', 'sqlite3']) {
    if (spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0) missing.push(t);
  }
  if (missing.length) {
    throw new Error(`forward e2e needs ${missing.join(', ')}: install them with ` +
      'scripts/bootstrap (CI does)');
  }
  dir = mkdtempSync(join(tmpdir(), 'kura-fwd-'));
  vault = join(dir, 'vault');
  passFile = join(dir, 'passphrase');
  auth = join(dir, 'auth');
  outFile = join(dir, 'received.log');
  conf = join(dir, 'rx.conf');
  makeCerts();
  port = await freePort();
  writeConf();
  await startRsyslog();
  setupVault();
}

after(async () => {
  await stopRsyslog();
  if (dir && !failed && !process.env.KURA_KEEP) rmSync(dir, { recursive: true, force: true });
  else if (dir) console.error(`forward e2e: files kept in ${dir}`);
});

test('every event reaches a real rsyslog exactly once across a receiver outage',
  { timeout: 50_000 }, async () => {
    try {
      putRecords(4);
      let ev = await forwardAll();
      const firstN = ev.length;
      assert.equal(await waitLines(firstN), firstN, 'rsyslog did not write every event');

      // rsyslog stopped mid-stream; more events; a run that must fail.
      await stopRsyslog();
      putRecords(5);
      const before = cursor('siem');
      assert.ok(events().length > firstN, 'no new events were written');
      const down = forward('siem', ['--once', '--max-seconds', '3']);
      assert.equal(down.status, 13, `forward with rsyslog down: exit ${down.status} ` +
        `(expected 13, I/O): ${down.stderr}${down.stdout}`);
      assert.match(down.stderr, /siem/);
      assert.deepEqual(cursor('siem'), before, 'the cursor moved while the receiver was down');

      // Restarted: the rest goes through.
      await startRsyslog();
      ev = await forwardAll();
      const n = ev.length;
      assert.equal(await waitLines(n), n, 'rsyslog did not write every event after restart');
      await sleep(500); // a late duplicate would show up by now
      checkFile(ev);
    } catch (e) {
      failed = true;
      throw e;
    }
  });

test('a client certificate with CN=intruder is refused; its cursor never moves',
  { timeout: 20_000 }, async () => {
    try {
      if (!rsyslog) await startRsyslog();
      const lines = received().length;
      const start = cursor('rogue');
      assert.deepEqual(start, { next_leaf: 0, next_seq: 1 });
      const r = forward('rogue', ['--once', '--max-seconds', '3']);
      assert.notEqual(r.status, 0, `forward as CN=intruder succeeded: ${r.stdout}`);
      await sleep(1000);
      assert.equal(received().length, lines, 'rsyslog accepted events from CN=intruder');
      assert.deepEqual(cursor('rogue'), start, 'the intruder cursor moved');
    } catch (e) {
      failed = true;
      throw e;
    }
  });

// Every sequenceId 1..N once and in order, each with the leaf of the N-th
// event; each body an ATNA AuditMessage with the action's EventID.
function checkFile(ev) {
  const lines = received();
  assert.equal(lines.length, ev.length, `${lines.length} lines for ${ev.length} events`);
  lines.forEach((line, i) => {
    const where = `line ${i + 1} (${ev[i].action}, leaf ${ev[i].leaf_index})`;
    assert.match(line, /^app=kura msgid=IHE\+RFC-3881 /, where);
    const seq = /\[meta sequenceId="(\d+)"\]/.exec(line);
    assert.ok(seq, `${where}: no sequenceId`);
    assert.equal(Number(seq[1]), i + 1, `${where}: sequenceId`);
    const leaf = /\[kura@32473 leaf="(\d+)"/.exec(line);
    assert.ok(leaf, `${where}: no kura@32473 leaf`);
    assert.equal(Number(leaf[1]), ev[i].leaf_index, `${where}: leaf`);
    const msg = line.slice(line.indexOf(' msg=') + 5).replace(/^\uFEFF/, '');
    assert.ok(msg.startsWith('<AuditMessage'), `${where}: body is not an AuditMessage: ` +
      msg.slice(0, 80));
    assert.ok(msg.trimEnd().endsWith('</AuditMessage>'), `${where}: AuditMessage cut short`);
    const id = /<EventID\b[^>]*\bcsd-code="(\d+)"/.exec(msg);
    assert.ok(id, `${where}: no EventID`);
    if (EVENT_ID[ev[i].action]) assert.equal(id[1], EVENT_ID[ev[i].action], `${where}: EventID`);
    if (ACTION_CODE[ev[i].action]) {
      const code = ACTION_CODE[ev[i].action];
      assert.match(msg, new RegExp(`<EventIdentification EventActionCode="${code}"`),
        `${where}: EventActionCode`);
    }
  });
  for (const [action, code] of [['write', '110110'], ['read', '110110'], ['login', '110114']]) {
    assert.ok(ev.some((e) => e.action === action), `no ${action} event (${code}) in the vault`);
  }
}
