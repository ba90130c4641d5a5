// Helpers for the end-to-end suites: temporary vaults, running the kura CLI,
// and poking at vault.db with the sqlite3 command-line tool (Debian package
// sqlite3, installed by scripts/bootstrap).  Node built-ins only.
//
// Every vault lives in its own mkdtemp directory under os.tmpdir(), with its
// own random passphrase in a file passed as KURA_PASSPHRASE_FILE, so suites
// and tests can run in parallel (node --test --test-concurrency=N).
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
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
  STATE: 7, BUSY: 8, NOVAULT: 9, NOTVAULT: 10, DAMAGED: 11, EXISTS: 12, IO: 13, INTERNAL: 70,
};
export const DOCUMENTED_EXITS = new Set(Object.values(EXIT));

export const sha256 = (b) => createHash('sha256').update(b).digest('hex');

// The environment every kura child gets: the inherited one without anything
// that would change kura's behaviour behind the test's back.
function baseEnv(extra = {}) {
  const env = { ...process.env };
  for (const k of ['KURA_VAULT', 'KURA_PASSPHRASE', 'KURA_PASSPHRASE_FILE',
    'LC_ALL', 'LC_MESSAGES', 'LANGUAGE']) delete env[k];
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

// makeVault({init}) → a vault object:
//   dir (temp dir), path (the vault dir), db, passFile, passphrase, env,
//   run(args, opts) / runAsync(args, opts) with KURA_VAULT and the passphrase set,
//   json(args, opts) (adds --json, parses stdout, asserts exit 0),
//   put(...) helpers below, copy(name) (cp -r the vault dir), cleanup().
export function makeVault({ init = true, dir } = {}) {
  const base = dir || tempDir();
  const v = {
    dir: base,
    path: join(base, 'vault'),
    passFile: join(base, 'passphrase'),
    passphrase: randomBytes(18).toString('base64url'),
  };
  v.db = join(v.path, 'vault.db');
  writeFileSync(v.passFile, v.passphrase, { mode: 0o600 });
  v.env = { KURA_VAULT: v.path, KURA_PASSPHRASE_FILE: v.passFile };
  v.run = (args, opts = {}) => run(args, { ...opts, env: { ...v.env, ...(opts.env || {}) } });
  v.runAsync = (args, opts = {}) =>
    runAsync(args, { ...opts, env: { ...v.env, ...(opts.env || {}) } });
  v.json = (args, opts = {}) => {
    const r = v.run(['--json', ...args], opts);
    if (r.status !== 0) {
      throw new Error(`kura --json ${args.join(' ')} exited ${r.status} (${r.signal || ''}): ` +
        `${r.stderr}${r.stdout}`);
    }
    return JSON.parse(r.stdout);
  };
  // put(content, {patient, type, as, extra}) → "RECORD" (asserts success)
  v.put = (content, { patient = 'p1', type = 'text/plain', as = 'dr.sato', extra = [] } = {}) => {
    const r = v.run(['put', '--patient', patient, '--type', type, '--as', as, ...extra, '-'],
      { input: content });
    if (r.status !== 0) throw new Error(`kura put exited ${r.status}: ${r.stderr}`);
    const m = /^([0-9a-f-]{36})@1\n$/.exec(r.stdout);
    if (!m) throw new Error(`kura put printed ${JSON.stringify(r.stdout)}`);
    return m[1];
  };
  v.amend = (rec, content, { reason = 'correction', as = 'dr.sato', extra = [] } = {}) => {
    const r = v.run(['amend', rec, '--reason', reason, '--as', as, ...extra, '-'],
      { input: content });
    if (r.status !== 0) throw new Error(`kura amend exited ${r.status}: ${r.stderr}`);
    return Number(/@(\d+)\n$/.exec(r.stdout)[1]);
  };
  v.get = (ref) => {
    const r = v.run(['get', ref]);
    if (r.status !== 0) throw new Error(`kura get ${ref} exited ${r.status}: ${r.stderr}`);
    return r.stdoutBuf;
  };
  v.treeSize = () => v.json(['sth']).tree_size;
  v.verify = (extra = []) => {
    const r = v.run(['--json', 'verify', ...extra]);
    let report = null;
    try { report = JSON.parse(r.stdout); } catch { /* left null */ }
    return { ...r, report };
  };
  v.copy = (name) => {
    const dst = join(base, name);
    cpSync(v.path, dst, { recursive: true });
    return dst;
  };
  v.cleanup = () => rmSync(base, { recursive: true, force: true });
  if (init) {
    let r;
    try {
      r = v.run(['init', ...FAST_KDF]);
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

// Same passphrase, another vault directory (a copy made with v.copy()).
export function withVault(v, path) {
  return {
    run: (args, opts = {}) => v.run(args, { ...opts, env: { ...(opts.env || {}), KURA_VAULT: path } }),
    verify: (extra = []) => {
      const r = v.run(['--json', 'verify', ...extra], { env: { KURA_VAULT: path } });
      let report = null;
      try { report = JSON.parse(r.stdout); } catch { /* left null */ }
      return { ...r, report };
    },
    db: join(path, 'vault.db'),
    path,
  };
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
