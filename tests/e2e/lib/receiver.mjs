// Helpers for the receiver suite (tests/e2e/receiver.test.mjs;
// docs/formats/backup-receiver.md): test certificates made with the openssl
// CLI, a network namespace with a veth pair to put the receiver "on another
// machine", starting and stopping `kura receiver`, raw HTTPS requests with
// the vault's client certificate (what an attacker on the vault host can
// send), and the receiver's data directory and log.  Node built-ins only.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { KURA } from './kura.mjs';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Run a program; throws with its stderr unless it exits 0.
export function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

// chattr -R -i, then rm -rf: a root receiver marks what it stores immutable
// (FS_IMMUTABLE_FL), which refuses even root's unlink.
export function removeTree(dir) {
  if (!dir || !existsSync(dir)) return;
  spawnSync('chattr', ['-R', '-i', dir], { stdio: 'ignore' });
  rmSync(dir, { recursive: true, force: true });
}

// ---- certificates (ECDSA P-256, made at test time, never committed) ----

// makeCerts(dir, ip) → {ca, server: {cert, key}, client: {cert, key},
// other: {cert, key}} (other: a second client of the same CA).  The server
// certificate names ip in its subjectAltName.
export function makeCerts(dir, ip) {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  const o = { cwd: dir };
  sh('openssl', ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2',
    '-subj', '/CN=kura-receiver-test-ca', '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], o);
  writeFileSync(join(dir, 'server.ext'), `subjectAltName=IP:${ip}\n` +
    'extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n');
  writeFileSync(join(dir, 'client.ext'),
    'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n');
  const out = { ca: join(dir, 'ca.pem') };
  for (const [name, cn, ext] of [['server', ip, 'server.ext'], ['client', 'kura-vault', 'client.ext'],
    ['other', 'kura-other-vault', 'client.ext']]) {
    sh('openssl', ['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`,
      '-subj', `/CN=${cn}`], o);
    sh('openssl', ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key',
      '-CAcreateserial', '-days', '2', '-extfile', ext, '-out', `${name}.pem`], o);
    out[name] = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
  }
  return out;
}

// ---- a network namespace for the receiver ----

let nsCounter = 0;

// Can this process make network namespaces (root, CAP_SYS_ADMIN)?
export function netnsPermitted() {
  const name = `kura-probe-${process.pid}`;
  const r = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return false;
  spawnSync('ip', ['netns', 'del', name]);
  return true;
}

// 10.77.X.Y/30 subnets already configured on this host (another test run).
function usedSubnets() {
  const r = spawnSync('ip', ['-o', '-4', 'addr', 'show'], { encoding: 'utf8' });
  const used = new Set();
  for (const m of (r.stdout || '').matchAll(/inet 10\.77\.(\d+)\.(\d+)\//g)) {
    used.add(`${m[1]}.${Number(m[2]) & ~3}`);
  }
  return used;
}

// makeNetns() → {ns, host, peer, hostIf, cleanup()}: a namespace "ns" joined
// to the root namespace by a veth pair; the root side has address host, the
// namespace side peer (a /30 in 10.77.0.0/16 picked from the pid, skipping
// subnets in use).  cleanup() is idempotent and never throws.
export function makeNetns() {
  const n = nsCounter++;
  const tag = `${process.pid}${n}`;
  const ns = `kura-rx-${tag}`;
  const hostIf = `krx${tag}h`.slice(-15), nsIf = `krx${tag}n`.slice(-15);
  const used = usedSubnets();
  let x, y;
  for (let i = 0; i < 16384; i++) {
    const k = (process.pid * 7 + n * 131 + i) % 16384; // 256 × 64 /30 subnets
    x = k >> 6; y = (k & 63) * 4;
    if (!used.has(`${x}.${y}`)) break;
  }
  const host = `10.77.${x}.${y + 1}`, peer = `10.77.${x}.${y + 2}`;
  let done = false;
  const cleanup = () => {
    if (done) return;
    done = true;
    spawnSync('ip', ['link', 'del', hostIf], { stdio: 'ignore' });
    spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  };
  try {
    spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }); // a stale one of a dead run
    sh('ip', ['netns', 'add', ns]);
    sh('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf]);
    sh('ip', ['link', 'set', nsIf, 'netns', ns]);
    sh('ip', ['addr', 'add', `${host}/30`, 'dev', hostIf]);
    sh('ip', ['link', 'set', hostIf, 'up']);
    sh('ip', ['-n', ns, 'addr', 'add', `${peer}/30`, 'dev', nsIf]);
    sh('ip', ['-n', ns, 'link', 'set', nsIf, 'up']);
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  } catch (e) {
    cleanup();
    throw e;
  }
  return { ns, host, peer, hostIf, nsIf, cleanup };
}

// Limit what the vault side sends to the receiver (tc tbf on the root end
// of the veth pair), so an upload takes a predictable time; rate like '40mbit'.
export function shape(net, rate) {
  sh('tc', ['qdisc', 'replace', 'dev', net.hostIf, 'root', 'tbf', 'rate', rate,
    'burst', '64kb', 'latency', '400ms']);
}
export function unshape(net) {
  spawnSync('tc', ['qdisc', 'del', 'dev', net.hostIf, 'root'], { stdio: 'ignore' });
}

// A free TCP port on 127.0.0.1 (the fallback when there is no namespace;
// inside a fresh namespace any fixed port is free).
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

// ---- the receiver's configuration and process ----

// writeConfig(file, {listen, data, cert, key, client_ca, ledger_pubkey,
// quota, max_object, allow, retention: {...}, log, command}) → file.
export function writeConfig(file, c) {
  const lines = ['[receiver]', `listen = ${c.listen}`, `data = ${c.data}`, `cert = ${c.cert}`,
    `key = ${c.key}`, `client_ca = ${c.client_ca}`, `ledger_pubkey = ${c.ledger_pubkey}`];
  if (c.quota !== undefined) lines.push(`quota = ${c.quota}`);
  if (c.max_object !== undefined) lines.push(`max_object = ${c.max_object}`);
  for (const fp of c.allow || []) lines.push(`allow = ${fp}`);
  if (c.retention) {
    lines.push('', '[retention]');
    for (const [k, v] of Object.entries(c.retention)) lines.push(`${k} = ${v}`);
  }
  if (c.log || c.command) {
    lines.push('', '[alert]');
    if (c.command) lines.push(`command = ${c.command}`);
    if (c.log) lines.push(`log = ${c.log}`);
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

// startReceiver({config, ns, env}) → a handle {child, pid, where, output()}
// once kura printed "listening on ADDR:PORT" (rejects if it exits first or
// takes longer than 10 s).  With ns, run inside that network namespace
// (`ip netns exec` execs kura in place: child.pid is kura's pid).
export function startReceiver({ config, ns, env = {} }) {
  const args = ['receiver', '--config', config];
  const [cmd, argv] = ns ? ['ip', ['netns', 'exec', ns, KURA, ...args]] : [KURA, args];
  const child = spawn(cmd, argv, {
    env: { ...process.env, LANG: 'C.UTF-8', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const buf = [];
  const h = { child, pid: child.pid, where: null, exited: false, output: () => Buffer.concat(buf).toString('utf8') };
  child.stdout.on('data', (d) => buf.push(d));
  child.stderr.on('data', (d) => buf.push(d));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the receiver did not start within 10 s: ${h.output()}`));
    }, 10_000);
    const onData = () => {
      const m = /listening on (\S+)\n/.exec(h.output());
      if (m && !h.where) {
        h.where = m[1];
        clearTimeout(t);
        resolve(h);
      }
    };
    child.stderr.on('data', onData);
    child.on('exit', (code, sig) => {
      h.exited = true;
      h.exitCode = code;
      h.signal = sig;
      if (!h.where) {
        clearTimeout(t);
        reject(new Error(`the receiver exited (${code} ${sig || ''}) before listening: ${h.output()}`));
      }
    });
    child.on('error', (e) => { clearTimeout(t); reject(e); });
  });
}

// Stop a receiver (SIGTERM, SIGKILL after 5 s; signal 'SIGKILL' kills at
// once) and wait for it to be gone.  Idempotent.
export async function stopReceiver(h, signal = 'SIGTERM') {
  if (!h || h.exited) return h ? { code: h.exitCode, signal: h.signal } : null;
  const gone = new Promise((r) => h.child.once('exit', (code, sig) => r({ code, signal: sig })));
  h.child.kill(signal);
  const t = setTimeout(() => h.child.kill('SIGKILL'), 5000);
  const res = await gone;
  clearTimeout(t);
  return res;
}

// ---- raw HTTPS, as anyone holding a client certificate can send ----

// req({host, port, tls: {ca, cert, key}}, method, path, body) →
// {status, body (Buffer), text, json}
export function req(target, method, path, body) {
  return new Promise((resolve, reject) => {
    const headers = {};
    if (body !== undefined) headers['Content-Length'] = body.length;
    const r = httpsRequest({
      host: target.host, port: target.port, method, path, headers, agent: false,
      ca: readFileSync(target.tls.ca), cert: readFileSync(target.tls.cert),
      key: readFileSync(target.tls.key), timeout: 30_000,
    }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const b = Buffer.concat(chunks);
        let json = null;
        try { json = JSON.parse(b.toString('utf8')); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, body: b, text: b.toString('utf8'), json });
      });
      res.on('error', reject);
    });
    r.on('timeout', () => r.destroy(new Error(`${method} ${path}: timed out`)));
    r.on('error', reject);
    if (body !== undefined) r.write(body);
    r.end();
  });
}

// ---- the data directory (a directory repository, backup.md §7) and log ----

export function listObjects(repo) {
  const out = [];
  const base = join(repo, 'objects');
  if (!existsSync(base)) return out;
  for (const d of readdirSync(base)) for (const f of readdirSync(join(base, d))) out.push(f);
  return out.sort();
}

export const objectPath = (repo, id) => join(repo, 'objects', id.slice(0, 2), id);
export const manifestPath = (repo, gen) => join(repo, 'manifests', String(gen).padStart(20, '0'));

// Generations stored in a directory repository, ascending.
export function listGenerations(repo) {
  const base = join(repo, 'manifests');
  if (!existsSync(base)) return [];
  return readdirSync(base).filter((f) => /^\d{20}$/.test(f)).map(Number).sort((a, b) => a - b);
}

// The receiver's log: one JSON object per line.
export function readLog(file) {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

// Can this process mark files in dir immutable (root, and a file system
// with FS_IMMUTABLE_FL: ext4 yes, overlayfs and older tmpfs no)?
export function immutableSupported(dir) {
  const f = join(dir, '.immutable-probe');
  writeFileSync(f, '');
  const ok = spawnSync('chattr', ['+i', f], { stdio: 'ignore' }).status === 0;
  spawnSync('chattr', ['-i', f], { stdio: 'ignore' });
  rmSync(f, { force: true });
  return ok;
}

// lsattr's attribute letters for a file ('' when lsattr fails).
export function lsattr(file) {
  const r = spawnSync('lsattr', ['-d', file], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split(/\s+/)[0] : '';
}
