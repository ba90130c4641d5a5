// Helpers for the suites that talk to `kura serve` (docs/SERVE.md): a local
// CA and certificates from `kura cert`, a serve.ini, the server process
// (started on port 0, its URLs read from "listening on https://..." on
// stderr), machine accounts mapped to a client certificate, bearer tokens
// from POST /api/login, and HTTPS requests carrying the CA.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { DATA, KURA, run } from './kura.mjs';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// `kura cert ARGS...`, asserting success.
export function cert(args) {
  const r = run(['cert', ...args]);
  if (r.status !== 0) throw new Error(`kura cert ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r;
}

// A CA in DIR/ca and a server certificate for localhost and 127.0.0.1 in
// DIR/server.{pem,key} → {ca, caDir, serverCert, serverKey} (paths).
export function makePki(dir) {
  cert(['ca', '--out', join(dir, 'ca'), '--name', 'kura test CA']);
  cert(['server', '--ca', join(dir, 'ca'), '--host', 'localhost', '--host', '127.0.0.1',
    '--out', join(dir, 'server')]);
  return { caDir: join(dir, 'ca'), ca: join(dir, 'ca/ca.pem'),
    serverCert: join(dir, 'server.pem'), serverKey: join(dir, 'server.key') };
}

// A client certificate for account `account` (SAN urn:kura:account:ID) →
// {cert, key, certFile, keyFile}.
export function clientCert(pki, dir, name, account) {
  const out = join(dir, `client-${name}`);
  cert(['client', '--ca', pki.caDir, '--name', name, ...(account ? ['--account', account] : []), '--out', out]);
  return { certFile: `${out}.pem`, keyFile: `${out}.key`,
    cert: readFileSync(`${out}.pem`), key: readFileSync(`${out}.key`) };
}

// A machine account (role system) whose certificate logs it in alone:
// the account is created by the administrator and the certificate mapped
// with `kura factor enroll cert`.  → the clientCert() object.
export function machineAccount(v, pki, id) {
  v.user(id, { role: 'system', departments: [] });
  const c = clientCert(pki, v.dir, id, id);
  v.admin(['factor', 'enroll', 'cert', '--certificate', c.certFile, '--user', id]);
  return c;
}

// Writes DIR/serve.ini.  opts: listeners (array of "ADDR:PORT mtls=..."),
// scan ('off' or a clamav_db directory; default tests/data/clamav), limits
// (an object of [limits] keys; generous defaults for tests: no rate limit).
export function writeConfig(v, pki, { listeners = ['127.0.0.1:0 mtls=optional'], threads = 2,
  scan = join(DATA, 'clamav'), limits = {} } = {}) {
  const lim = { max_body_bytes: '8M', drain_timeout_s: 5, rate_per_ip: 0, rate_per_account: 0, ...limits };
  const ini = ['[server]', ...listeners.map((l) => `listen = ${l}`), `threads = ${threads}`,
    `cert = ${pki.serverCert}`, `key = ${pki.serverKey}`, `client_ca = ${pki.ca}`,
    '[vault]', `dir = ${v.path}`, `passphrase_file = ${v.passFile}`,
    '[limits]', ...Object.entries(lim).map(([k, x]) => `${k} = ${x}`),
    '[scan]', ...(scan === 'off' ? ['scanning = off'] : ['scanning = on', `clamav_db = ${scan}`]), ''].join('\n');
  const file = join(v.dir, 'serve.ini');
  writeFileSync(file, ini);
  return file;
}

// Starts `kura serve --config FILE` → {proc, urls, stderr(), exited, stop()}.
// Resolves once every listener printed its URL.
export async function startServe(configFile, { listeners = 1, timeoutMs = 15_000 } = {}) {
  const proc = spawn(KURA, ['serve', '--config', configFile],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LANG: 'C.UTF-8' } });
  let err = '';
  proc.stderr.on('data', (d) => { err += d; });
  // never outlive the test process (a failed before() or a crash)
  const reap = () => { try { proc.kill('SIGKILL'); } catch { /* gone */ } };
  process.once('exit', reap);
  const exited = new Promise((res) => proc.on('exit', (code, sig) => { process.removeListener('exit', reap); res({ code, sig }); }));
  const s = {
    proc, exited, urls: [],
    stderr: () => err,
    // SIGTERM, then SIGKILL if it does not stop within 5 s.
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return exited;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
  };
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const m = [...err.matchAll(/listening on (https:\/\/\S+)/g)].map((x) => x[1]);
    if (m.length >= listeners) { s.urls = m; return s; }
    if (proc.exitCode !== null) break;
    await sleep(30);
  }
  proc.kill('SIGKILL');
  throw new Error(`kura serve did not start: ${err}`);
}

// One HTTPS request → {status, headers, body (Buffer), text, json()}.
// opts: ca (Buffer), cert/key (a client certificate), method, headers, body.
export function request(url, { ca, cert: c, key, method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, agent: false, ca, servername: 'localhost',
      ...(c ? { cert: c, key } : {}) }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        resolve({ status: res.statusCode, headers: res.headers, body: buf, text: buf.toString('utf8'),
          json: () => JSON.parse(buf.toString('utf8')) });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

// POST /api/login {user, password, bearer: true} → the bearer token.
export async function bearerToken(base, ca, user, password, otp) {
  const r = await request(`${base}/api/login`, { ca, method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ user, password, ...(otp ? { otp } : {}), bearer: true }) });
  if (r.status !== 200) throw new Error(`login of ${user}: ${r.status} ${r.text}`);
  return r.json().token;
}
