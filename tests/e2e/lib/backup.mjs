// Helpers for the backup suite (tests/e2e/backup.test.mjs; docs/formats/backup.md):
// backup repositories in temporary directories, restores, the vault's state
// at a tree head (for comparing with what a restore gives back), and the
// malware test files.  Node built-ins only; builds on lib/kura.mjs.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATA, makeVault, sha256, tempDir, withVault } from './kura.mjs';

export const CLAMAV_DB = join(DATA, 'clamav');
export const CLAMAV_TESTFILES = '/usr/share/clamav-testfiles';

// The EICAR test string, decoded at test time (never committed raw).
export const eicar = () => Buffer.from(readFileSync(join(CLAMAV_DB, 'eicar.com.b64'), 'utf8').trim(), 'base64');

// Immutable flags (chattr +i) only where a test asks for them: every other
// kura run gets KURA_BACKUP_IMMUTABLE=0, so temporary directories remove.
export const NO_IMMUTABLE = { KURA_BACKUP_IMMUTABLE: '0' };

// chattr -R -i, then rm -rf (immutable files refuse even root's unlink).
export function removeTree(dir) {
  if (!existsSync(dir)) return;
  spawnSync('chattr', ['-R', '-i', dir], { stdio: 'ignore' });
  rmSync(dir, { recursive: true, force: true });
}

export function chattrClear(dir) {
  const r = spawnSync('chattr', ['-R', '-i', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`chattr -R -i ${dir}: ${r.stderr}`);
}

// The attribute letters lsattr shows for a file ('' when lsattr fails).
export function lsattr(file) {
  const r = spawnSync('lsattr', ['-d', file], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split(/\s+/)[0] : '';
}

// A vault (lib/kura.mjs makeVault) whose cleanup also clears immutable flags.
export function makeBackupVault() {
  const v = makeVault();
  v.cleanup = () => removeTree(v.dir);
  return v;
}

// Paths of a directory repository (docs/formats/backup.md §7).
export const manifestPath = (repo, gen) => join(repo, 'manifests', String(gen).padStart(20, '0'));
export const objectPath = (repo, id) => join(repo, 'objects', id.slice(0, 2), id);
export function readManifest(repo, gen) {
  const text = readFileSync(manifestPath(repo, gen), 'utf8');
  const [body] = text.split('\n');
  return { text, body: JSON.parse(body) };
}
export function listObjects(repo) {
  const out = [];
  const base = join(repo, 'objects');
  if (!existsSync(base)) return out;
  for (const d of readdirSync(base)) for (const f of readdirSync(join(base, d))) out.push(f);
  return out.sort();
}
export function listManifests(repo) {
  const d = join(repo, 'manifests');
  return existsSync(d) ? readdirSync(d).sort().map(Number) : [];
}
// Every file under dir (relative paths), sorted.
export function listFiles(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  const walk = (rel) => {
    for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const p = rel ? join(rel, e.name) : e.name;
      if (e.isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk('');
  return out.sort();
}
export const isEmptyOrAbsent = (dir) => !existsSync(dir) || readdirSync(dir).length === 0;
// The object type byte (1 chunk, 2 segment, 3 state).
export const objectType = (repo, id) => readFileSync(objectPath(repo, id))[4];
export const objectSize = (repo, id) => statSync(objectPath(repo, id)).size;

// Flip one byte of a file (after chattr -i); offset defaults to the middle.
export function flipByte(file, offset) {
  const b = readFileSync(file);
  const i = offset ?? (b.length >> 1);
  b[i] ^= 0x5a;
  writeFileSync(file, b);
}

// kura backup run --to dir... as the administrator → the --json report.
export function backupRun(v, dirs, { env = NO_IMMUTABLE } = {}) {
  const to = (Array.isArray(dirs) ? dirs : [dirs]).flatMap((d) => ['--to', d]);
  return v.json(['backup', 'run', ...to], { as: 'admin', env });
}

// kura restore → {status, stdout, stderr, json (null unless it parsed)}.
// The passphrase is v's (KURA_PASSPHRASE_FILE) unless env says otherwise.
export function restore(v, from, to, { generation, latestClean, recoveryKeyFile, against = [],
  pubkey, clamav = CLAMAV_DB, json = true, env = {} } = {}) {
  const args = [...(json ? ['--json'] : []), 'restore', '--from', from, '--to', to,
    '--clamav-db', clamav];
  if (generation !== undefined) args.push('--generation', String(generation));
  if (latestClean) args.push('--latest-clean');
  if (recoveryKeyFile) args.push('--recovery-key-file', recoveryKeyFile);
  for (const a of against) args.push('--against', a);
  if (pubkey) args.push('--pubkey', pubkey);
  const r = v.run(args, { as: null, env: { ...NO_IMMUTABLE, ...env } });
  let parsed = null;
  try { parsed = JSON.parse(r.stdout); } catch { /* left null */ }
  return { ...r, json: parsed };
}

// kura backup verify → {status, stdout, stderr, problems: [PROBLEM lines]}.
export function backupVerify(v, from, extra = [], opts = {}) {
  const r = v.run(['backup', 'verify', '--from', from, ...extra], { as: 'admin', ...opts });
  const problems = r.stdout.split('\n').filter((l) => l.startsWith('PROBLEM '));
  return { ...r, problems };
}

// The vault's records as they are now: record → {history (kura history
// --json), versions: {n: sha256 of content | null}} and the tree head.
// The tree head and the records are read as the administrator ... who may
// not read clinical content, so content is read as `reader` (a doctor in
// care of every patient used here: the suite creates records as that doctor).
// env: more environment for every kura run (another passphrase file).
// content: false skips the kura get of every version (history only: sizes).
export function vaultState(v, { path, reader = 'dr.sato', env = {}, content = true } = {}) {
  const w0 = path ? withVault(v, path) : v;
  const w = { run: (args, opts = {}) => w0.run(args, { ...opts, env: { ...env, ...(opts.env || {}) } }) };
  const j = (args, as) => {
    const r = w.run(['--json', ...args], { as });
    if (r.status !== 0) throw new Error(`kura ${args.join(' ')} (${path || v.path}) exited ${r.status}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  const sth = j(['sth'], null);
  const records = {};
  for (const x of j(['list'], reader)) {
    const history = j(['history', x.record], reader);
    const versions = {};
    for (const h of content ? history : []) {
      const g = w.run(['get', `${x.record}@${h.version}`], { as: reader });
      versions[h.version] = g.status === 0 ? sha256(g.stdoutBuf) : `exit ${g.status}`;
    }
    records[x.record] = { history, versions };
  }
  return { sth, records };
}

export { makeVault, sha256, tempDir, withVault };

// The vault's recovery key in a file: the one init wrote (v.recoveryKeyFile,
// when lib/kura.mjs asks init for it), else a new one from `kura key
// recovery --out FILE`; null when this kura cannot make one.
export function recoveryKey(v) {
  if (v.recoveryKeyFile && existsSync(v.recoveryKeyFile)) return v.recoveryKeyFile;
  const file = join(v.dir, 'recovery-new.key');
  const r = v.run(['key', 'recovery', '--out', file], { as: 'admin' });
  if (r.status === 0 && existsSync(file)) return file;
  return null;
}
