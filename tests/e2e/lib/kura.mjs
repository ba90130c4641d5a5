// Helpers for the end-to-end suites: temporary vaults, running the kura CLI,
// and poking at vault.db with the sqlite3 command-line tool (Debian package
// sqlite3, installed by scripts/bootstrap).  Node built-ins only.
//
// Every vault lives in its own mkdtemp directory under os.tmpdir(), with its
// own random passphrase in a file passed as KURA_PASSPHRASE_FILE, so suites
// and tests can run in parallel (node --test --test-concurrency=N).
import { spawn, spawnSync } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const KURA = process.env.KURA_BIN || join(ROOT, 'build/src/cli/kura');
export const DATA = join(ROOT, 'tests/data');

// Fast Argon2id for tests (the defaults take 64 MiB and ~0.3 s per open).
export const FAST_KDF = ['--kdf-ops', '1', '--kdf-mem-mib', '8'];

// Documented exit codes (README "Exit codes").
export const EXIT = {
  OK: 0, VERIFY: 1, USAGE: 2, PASSPHRASE: 3, NOTFOUND: 4, INVALID: 5, TOOBIG: 6,
  STATE: 7, BUSY: 8, NOVAULT: 9, NOTVAULT: 10, DAMAGED: 11, EXISTS: 12, IO: 13,
  AUTH: 14, LOCKED: 15, EXPIRED: 16, POLICY: 17, INTERNAL: 70,
};
export const DOCUMENTED_EXITS = new Set(Object.values(EXIT));

export const sha256 = (b) => createHash('sha256').update(b).digest('hex');

// The environment every kura child gets: the inherited one without anything
// that would change kura's behaviour behind the test's back.
function baseEnv(extra = {}) {
  const env = { ...process.env };
  for (const k of ['KURA_VAULT', 'KURA_PASSPHRASE', 'KURA_PASSPHRASE_FILE',
    'KURA_CREDENTIALS', 'KURA_SESSION_FILE', 'KURA_OTP', 'LC_ALL', 'LC_MESSAGES', 'LANGUAGE']) delete env[k];
  env.LANG = 'C.UTF-8';
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined || v === null) delete env[k];
    else env[k] = v;
  }
  return env;
}

// run(args, {input, env, timeout}) → {status, signal, stdout, stderr}
// (stdout/stderr as utf-8 strings; stdoutBuf as the raw bytes).
export function run(args, { input, env = {}, timeout = 60_000, cwd } = {}) {
  const r = spawnSync(KURA, args, {
    input, env: baseEnv(env), timeout, cwd, maxBuffer: 256 * 1024 * 1024,
  });
  // EPIPE: kura refused before reading its standard input; its status is still there.
  if (r.error && !['ETIMEDOUT', 'EPIPE'].includes(r.error.code)) throw r.error;
  return {
    status: r.status, signal: r.signal,
    stdout: r.stdout ? r.stdout.toString('utf8') : '',
    stdoutBuf: r.stdout || Buffer.alloc(0),
    stderr: r.stderr ? r.stderr.toString('utf8') : '',
  };
}

// Asynchronous spawn; resolves to the same shape as run().  opts.onSpawn gets
// the ChildProcess (the crash suite kills it).
export function runAsync(args, { input, env = {}, onSpawn } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(KURA, args, { env: baseEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
    const out = [], err = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    child.on('error', reject);
    child.stdin.on('error', () => {}); // EPIPE when killed early
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
    if (onSpawn) onSpawn(child);
    child.on('close', (status, signal) => {
      const stdoutBuf = Buffer.concat(out);
      resolve({ status, signal, stdout: stdoutBuf.toString('utf8'), stdoutBuf,
        stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

// sqlite(db, sql) → stdout of the sqlite3 CLI; throws when sqlite3 fails.
export function sqlite(db, sql) {
  const r = spawnSync('sqlite3', ['-bail', db], { input: sql, encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`sqlite3 ${db} failed (${r.status}): ${r.stderr}\n${sql}`);
  return r.stdout;
}

// Rows as objects (sqlite3 -json); [] for no rows.
export function sqliteRows(db, sql) {
  const r = spawnSync('sqlite3', ['-bail', '-json', db], { input: sql, encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`sqlite3 ${db} failed (${r.status}): ${r.stderr}\n${sql}`);
  return r.stdout.trim() ? JSON.parse(r.stdout) : [];
}

// Drops every append-only trigger (what a tamperer does first).
export function dropTriggers(db) {
  const names = sqlite(db, "SELECT name FROM sqlite_master WHERE type='trigger';")
    .split('\n').filter(Boolean);
  sqlite(db, names.map((n) => `DROP TRIGGER "${n}";`).join('\n'));
  return names;
}

// A hash of every row of every table (sqlite3 .dump), for "nothing changed".
export function dbDigest(db) {
  return sha256(sqlite(db, '.dump\n'));
}

export function fileDigest(path) {
  return existsSync(path) ? sha256(readFileSync(path)) : null;
}

// A temporary directory, removed by cleanup().
export function tempDir(prefix = 'kura-e2e-') {
  return mkdtempSync(join(tmpdir(), prefix));
}

// RFC 6238 TOTP (SHA-1, 30 s, 6 digits), as phone apps and oathtool compute
// it.  step: an offset in 30 s steps from now (the server accepts ±1 step,
// each code once), so three distinct codes are usable without waiting.
export function totp(secretBase32, { step = 0, time = Date.now() } = {}) {
  const alpha = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0, val = 0;
  const out = [];
  for (const ch of secretBase32.replace(/[=\s]/g, '').toUpperCase()) {
    const i = alpha.indexOf(ch);
    if (i < 0) throw new Error(`bad base32 '${ch}'`);
    val = (val << 5) | i;
    bits += 5;
    if (bits >= 8) { out.push((val >>> (bits - 8)) & 0xff); bits -= 8; }
  }
  const counter = Math.floor(time / 1000 / 30) + step;
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const h = createHmac('sha1', Buffer.from(out)).update(msg).digest();
  const o = h[h.length - 1] & 0xf;
  const n = (h.readUInt32BE(o) & 0x7fffffff) % 1_000_000;
  return String(n).padStart(6, '0');
}

// The same code from oathtool (Debian), to cross-check totp().
export function oathtool(secretBase32) {
  const r = spawnSync('oathtool', ['--totp', '-b', secretBase32], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`oathtool failed: ${r.stderr || r.error}`);
  return r.stdout.trim();
}

// A password that passes the default policy (13+ characters, 3 classes, not
// a dictionary word) and is different every time.
export const strongPassword = () => `Kq7%${randomBytes(12).toString('base64url')}`;

// Commands that need no operator; every other one authenticates (cli.h).
// An inclusion proof carries a version's leaf: it is an audited export (a
// consistency proof is audited too), so 'proof' runs as a user.
const NO_AUTH = new Set(['init', 'sth', 'pubkey', 'verify-proof']);
// Commands run by default as the security administrator (through its session).
const ADMIN_CMDS = new Set(['verify', 'user', 'role', 'config', 'care', 'patient', 'factor']);

// The command name in a kura argument list (after the global options).
export function commandOf(args) {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (['--vault', '--lang', '--credentials', '--otp'].includes(a)) { i++; continue; }
    if (a === '--json') continue;
    return a;
  }
  return undefined;
}

// The suites were written for `--as USER` (gone: the CLI authenticates its
// operator).  A legacy `'--as', USER` pair in an argument list is taken out
// and becomes opts.as, so the suites keep reading naturally.
function takeAs(args, opts) {
  const i = args.indexOf('--as');
  if (i < 0 || i + 1 >= args.length || opts.as !== undefined) return [args, opts];
  return [[...args.slice(0, i), ...args.slice(i + 2)], { ...opts, as: args[i + 1] }];
}

// makeVault({init}) → a vault object:
//   dir (temp dir), path (the vault dir), db, passFile, passphrase, env,
//   recoveryKeyFile (the recovery key init wrote, mode 0600),
//   run(args, opts) / runAsync(args, opts) with KURA_VAULT and the passphrase set,
//     opts.as: a user id (created on demand: a doctor of department 'internal'
//     unless v.user() made it otherwise) whose credentials file is passed with
//     --credentials; 'admin' runs through the administrator's session; null
//     runs unauthenticated.  Default: none for init/sth/pubkey/
//     verify-proof, admin for verify and the administration commands,
//     'dr.sato' (a doctor of 'internal') for everything else.
//   json(args, opts) (adds --json, parses stdout, asserts exit 0),
//   admin(args, opts): run as the administrator, asserting exit 0,
//   user(id, {role, departments, password, change}) → credentials file path,
//   put(...) helpers below, copy(name) (cp -r the vault dir), cleanup().
export function makeVault({ init = true, dir } = {}) {
  const base = dir || tempDir();
  const v = {
    dir: base,
    path: join(base, 'vault'),
    passFile: join(base, 'passphrase'),
    recoveryKeyFile: join(base, 'recovery.key'),
    passphrase: randomBytes(18).toString('base64url'),
    adminSession: join(base, 'admin.session'),
    adminCred: join(base, 'admin.cred'),
    users: new Map(), // id → {cred, password, role, departments}
    ready: false,     // the administrator is set up
  };
  v.db = join(v.path, 'vault.db');
  writeFileSync(v.passFile, v.passphrase, { mode: 0o600 });
  v.env = { KURA_VAULT: v.path, KURA_PASSPHRASE_FILE: v.passFile };
  // The arguments and environment for running as opts.as.
  v.authArgs = (args, opts = {}) => {
    [args, opts] = takeAs(args, opts);
    let as = opts.as;
    const env = { ...v.env, ...(opts.env || {}) };
    if (as === undefined) {
      const cmd = commandOf(args);
      if (!v.ready || args.includes('--credentials') || cmd === undefined || NO_AUTH.has(cmd)) as = null;
      else as = ADMIN_CMDS.has(cmd) ? 'admin' : 'dr.sato';
    }
    if (as === 'admin') {
      if (!('KURA_SESSION_FILE' in (opts.env || {}))) env.KURA_SESSION_FILE = v.adminSession;
    } else if (as && v.ready) { // (before setup nobody can log in: run unauthenticated)
      args = ['--credentials', v.user(as), ...args];
    }
    return { args, env };
  };
  v.run = (args, opts = {}) => {
    const a = v.authArgs(args, opts);
    return run(a.args, { ...opts, env: a.env });
  };
  v.runAsync = (args, opts = {}) => {
    const a = v.authArgs(args, opts);
    return runAsync(a.args, { ...opts, env: a.env });
  };
  v.json = (args, opts = {}) => {
    const r = v.run(['--json', ...args], opts);
    if (r.status !== 0) {
      throw new Error(`kura --json ${args.join(' ')} exited ${r.status} (${r.signal || ''}): ` +
        `${r.stderr}${r.stdout}`);
    }
    return JSON.parse(r.stdout);
  };
  v.admin = (args, opts = {}) => {
    const r = v.run(args, { ...opts, as: 'admin' });
    if (r.status !== 0) throw new Error(`kura ${args.join(' ')} (admin) exited ${r.status}: ${r.stderr}${r.stdout}`);
    return r;
  };
  // A credentials file for id with password pw (mode 0600).
  v.writeCred = (id, pw, file = join(v.dir, `cred-${id}`)) => {
    writeFileSync(file, `[kura]\nuser = ${id}\npassword = ${pw}\n`, { mode: 0o600 });
    return file;
  };
  // user(id, {role, departments, change}) → the path of id's credentials
  // file; the account is created by the administrator on first use and its
  // initial password changed (change: false leaves it to be changed).
  v.user = (id, { role = 'doctor', departments = ['internal'], change = true } = {}) => {
    const known = v.users.get(id);
    if (known) return known.cred;
    if (!v.ready) throw new Error(`user ${id}: the vault is not set up (makeVault({init: true}) or v.setup())`);
    const initFile = join(v.dir, `initpw-${id}`);
    const deps = departments.length ? ['--department', departments.join(',')] : [];
    let initial, r;
    for (let tries = 0; tries < 5; tries++) {
      initial = strongPassword();
      writeFileSync(initFile, `${initial}\n`, { mode: 0o600 });
      r = v.run(['user', 'add', id, '--role', role, ...deps, '--password-file', initFile], { as: 'admin' });
      if (r.status !== EXIT.POLICY) break;
    }
    if (r.status !== 0) throw new Error(`kura user add ${id} exited ${r.status}: ${r.stderr}`);
    const cred = v.writeCred(id, initial);
    const u = { id, cred, password: initial, role, departments };
    v.users.set(id, u);
    if (change) v.passwd(id);
    return cred;
  };
  // Change id's password (to a new strong one unless given); asserts success
  // and rewrites the credentials file.
  v.passwd = (id, given, { otp } = {}) => {
    const u = v.users.get(id);
    const file = join(v.dir, `newpw-${id}`);
    let pw, r;
    // (a random password is now and then "too simple" for cracklib: take another)
    for (let tries = 0; tries < (given ? 1 : 5); tries++) {
      pw = given || strongPassword();
      writeFileSync(file, `${pw}\n`, { mode: 0o600 });
      r = run(['--credentials', u.cred, ...(otp ? ['--otp', otp] : []),
        'passwd', '--new-password-file', file], { env: v.env });
      if (r.status !== EXIT.POLICY) break;
    }
    if (r.status !== 0) throw new Error(`kura passwd (${id}) exited ${r.status}: ${r.stderr}`);
    u.password = pw;
    v.writeCred(id, pw, u.cred);
    return u.cred;
  };
  // Enrol a TOTP factor for id (its credentials must work) → secret_base32.
  v.enrollTotp = (id, { otp } = {}) => {
    const u = v.users.get(id);
    const r = run(['--json', '--credentials', u.cred, ...(otp ? ['--otp', otp] : []),
      'factor', 'enroll', 'totp'], { env: v.env });
    if (r.status !== 0) throw new Error(`kura factor enroll totp (${id}) exited ${r.status}: ${r.stderr}${r.stdout}`);
    const j = JSON.parse(r.stdout);
    if (!/^otpauth:\/\/totp\//.test(j.uri)) throw new Error(`enroll printed ${r.stdout}`);
    u.totp = j.secret_base32;
    return j.secret_base32;
  };
  // The first security administrator: initial password changed, TOTP
  // enrolled, logged in once into v.adminSession (codes are single-use), and
  // fast Argon2id settings for the accounts made after it.
  v.setup = ({ initialPassword } = {}) => {
    const initial = initialPassword || strongPassword();
    v.users.set('admin', { id: 'admin', cred: v.writeCred('admin', initial, v.adminCred),
      password: initial, role: 'security-admin', departments: [] });
    v.passwd('admin');
    const secret = v.enrollTotp('admin');
    const r = run(['--credentials', v.adminCred, '--otp', totp(secret), 'login'],
      { env: { ...v.env, KURA_SESSION_FILE: v.adminSession } });
    if (r.status !== 0) throw new Error(`admin login exited ${r.status}: ${r.stderr}`);
    v.ready = true;
    v.admin(['config', 'set', 'password.argon2_ops', '1']);
    v.admin(['config', 'set', 'password.argon2_mem_mib', '8']);
  };
  // put(content, {patient, type, as, extra}) → "RECORD" (asserts success)
  v.put = (content, { patient = 'p1', type = 'text/plain', as = 'dr.sato', extra = [] } = {}) => {
    const r = v.run(['put', '--patient', patient, '--type', type, ...extra, '-'],
      { input: content, as });
    if (r.status !== 0) throw new Error(`kura put exited ${r.status}: ${r.stderr}`);
    const m = /^([0-9a-f-]{36})@1\n$/.exec(r.stdout);
    if (!m) throw new Error(`kura put printed ${JSON.stringify(r.stdout)}`);
    return m[1];
  };
  v.amend = (rec, content, { reason = 'correction', as = 'dr.sato', extra = [] } = {}) => {
    const r = v.run(['amend', rec, '--reason', reason, ...extra, '-'],
      { input: content, as });
    if (r.status !== 0) throw new Error(`kura amend exited ${r.status}: ${r.stderr}`);
    return Number(/@(\d+)\n$/.exec(r.stdout)[1]);
  };
  v.get = (ref, { as = 'dr.sato' } = {}) => {
    const r = v.run(['get', ref], { as });
    if (r.status !== 0) throw new Error(`kura get ${ref} exited ${r.status}: ${r.stderr}`);
    return r.stdoutBuf;
  };
  v.treeSize = () => v.json(['sth']).tree_size;
  // Leaves of the latest tree head that are record versions (not audit events).
  v.recordLeaves = (db = v.db) => {
    const size = v.json(['sth'], { env: { KURA_VAULT: join(db, '..') } }).tree_size;
    return size - sqliteRows(db, `SELECT count(*) AS n FROM events WHERE leaf_index < ${size};`)[0].n;
  };
  v.verify = (extra = []) => {
    const r = v.run(['--json', 'verify', ...extra], { as: 'admin' });
    let report = null;
    try { report = JSON.parse(r.stdout); } catch { /* left null */ }
    return { ...r, report };
  };
  // Audit events (the events table), oldest first.
  v.events = (where = '1') => sqliteRows(v.db, `SELECT * FROM events WHERE ${where} ORDER BY leaf_index;`);
  v.copy = (name) => {
    const dst = join(base, name);
    cpSync(v.path, dst, { recursive: true });
    return dst;
  };
  v.cleanup = () => rmSync(base, { recursive: true, force: true });
  if (init) {
    let r;
    const apw = join(base, 'admin.initial');
    const initial = strongPassword();
    writeFileSync(apw, `${initial}\n`, { mode: 0o600 });
    try {
      r = v.run(['init', ...FAST_KDF, '--admin-password-file', apw,
        '--recovery-key-file', v.recoveryKeyFile]);
      if (r.status === 0) v.setup({ initialPassword: initial });
    } catch (e) {
      v.cleanup();
      throw e;
    }
    if (r.status !== 0) {
      v.cleanup();
      throw new Error(`kura init exited ${r.status}: ${r.stderr}`);
    }
  }
  return v;
}

// Same passphrase and accounts, another vault directory (a copy made with v.copy()).
export function withVault(v, path) {
  const w = {
    run: (args, opts = {}) => v.run(args, { ...opts, env: { ...(opts.env || {}), KURA_VAULT: path } }),
    verify: (extra = []) => {
      const r = v.run(['--json', 'verify', ...extra], { as: 'admin', env: { KURA_VAULT: path } });
      let report = null;
      try { report = JSON.parse(r.stdout); } catch { /* left null */ }
      return { ...r, report };
    },
    db: join(path, 'vault.db'),
    path,
  };
  return w;
}

// An error as the README promises: exactly one line on stderr, "kura: error: "
// followed by a message that does not start with a capital letter.
export function errorLine(stderr) {
  const lines = stderr.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines.length !== 1) return { ok: false, why: `${lines.length} lines on stderr: ${JSON.stringify(stderr)}` };
  const m = /^kura: error: (.+)$/.exec(lines[0]);
  if (!m) return { ok: false, why: `not "kura: error: ...": ${JSON.stringify(lines[0])}` };
  if (/^[A-Z]/.test(m[1])) return { ok: false, why: `starts with a capital: ${JSON.stringify(m[1])}` };
  return { ok: true, message: m[1] };
}
