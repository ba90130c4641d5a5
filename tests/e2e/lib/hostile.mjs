// Helpers for the hostile suites of `kura serve` (tls, hostile, httpauthz):
// a vault with a local CA (`kura cert`), a running server with the listeners
// and limits a suite asks for, HTTPS requests through node:https, raw bytes
// over tls.connect, and logins over /api/login.  Node built-ins only; the
// server start-up follows tests/e2e/serve.test.mjs.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import tls from 'node:tls';
import { join } from 'node:path';
import { KURA, makeVault, run, totp } from './kura.mjs';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function cert(args) {
  const r = run(['cert', ...args]);
  assert.equal(r.status, 0, `kura cert ${args.join(' ')}: ${r.stderr}`);
}

// startKura({listen, threads, limits, v, machines}) → a server object:
//   v (the vault of lib/kura.mjs; made unless given), dir, files (ca, cert,
//   key buffers and their paths caPath, certPath, keyPath: the client
//   certificate of the machine account 'lab'), urls (one per listener, in
//   order), ports, srv (the ChildProcess), log() (stderr so far), alive(),
//   stop() (SIGTERM, then SIGKILL), cleanup() (stop and remove the vault).
// listen: the mtls mode of each listener on 127.0.0.1:0.
// limits: [limits] keys, written as given.
// machines: account ids of role 'system' with a client certificate each
// (files.machines[id] = {cert, key, certPath, keyPath}); the first one's
// certificate is also files.cert/key.
export async function startKura({ listen = ['required', 'optional'], threads = 2, limits = {},
  v, machines = ['lab'] } = {}) {
  v = v || makeVault();
  const dir = v.dir;
  const s = { v, dir, files: { machines: {} }, urls: [], ports: [], err: '' };
  try {
    cert(['ca', '--out', join(dir, 'ca'), '--name', 'kura hostile test CA']);
    cert(['server', '--ca', join(dir, 'ca'), '--host', 'localhost', '--host', '127.0.0.1',
      '--out', join(dir, 'server')]);
    for (const id of machines) {
      cert(['client', '--ca', join(dir, 'ca'), '--name', id, '--account', id, '--out', join(dir, `client-${id}`)]);
      // (v.user changes the initial password: a new account must, even a machine's)
      v.user(id, { role: 'system', departments: ['internal'] });
      v.admin(['factor', 'enroll', 'cert', '--certificate', join(dir, `client-${id}.pem`), '--user', id]);
      const m = { certPath: join(dir, `client-${id}.pem`), keyPath: join(dir, `client-${id}.key`) };
      m.cert = readFileSync(m.certPath);
      m.key = readFileSync(m.keyPath);
      s.files.machines[id] = m;
    }
    // A client certificate mapped to nobody (the CA signed it).
    cert(['client', '--ca', join(dir, 'ca'), '--name', 'stranger', '--out', join(dir, 'client-stranger')]);
    s.files.stranger = { cert: readFileSync(join(dir, 'client-stranger.pem')),
      key: readFileSync(join(dir, 'client-stranger.key')) };
    s.files.caPath = join(dir, 'ca/ca.pem');
    s.files.ca = readFileSync(s.files.caPath);
    const first = s.files.machines[machines[0]];
    if (first) Object.assign(s.files, { cert: first.cert, key: first.key, certPath: first.certPath, keyPath: first.keyPath });
    const lim = Object.entries(limits).map(([k, x]) => `${k} = ${x}\n`).join('');
    writeFileSync(join(dir, 'serve.ini'), `[server]
${listen.map((m) => `listen = 127.0.0.1:0 mtls=${m}\n`).join('')}threads = ${threads}
cert = ${join(dir, 'server.pem')}
key = ${join(dir, 'server.key')}
client_ca = ${s.files.caPath}
[vault]
dir = ${v.path}
passphrase_file = ${v.passFile}
[limits]
${lim}[scan]
scanning = off
`);
    s.srv = spawn(KURA, ['serve', '--config', join(dir, 'serve.ini')], { stdio: ['ignore', 'ignore', 'pipe'] });
    s.exited = new Promise((res) => s.srv.on('exit', (code, sig) => res({ code, sig })));
    s.srv.stderr.on('data', (d) => {
      s.err += d;
      if (s.err.length > 4 << 20) s.err = s.err.slice(-(1 << 20)); // (the request log of a long run)
    });
    for (let i = 0; i < 300 && s.urls.length < listen.length; i++) {
      s.urls = [...s.err.matchAll(/listening on (https:\/\/\S+)/g)].map((x) => x[1]);
      if (s.urls.length < listen.length) await sleep(50);
    }
    if (s.urls.length < listen.length) throw new Error(`kura serve did not start: ${s.err}`);
    s.ports = s.urls.map((u) => Number(new URL(u).port));
  } catch (e) {
    if (s.srv && s.srv.exitCode === null) s.srv.kill('SIGKILL');
    v.cleanup();
    throw e;
  }
  s.log = () => s.err;
  s.alive = () => s.srv.exitCode === null && s.srv.signalCode === null;
  s.stop = async () => {
    if (!s.alive()) return s.exited;
    s.srv.kill('SIGTERM');
    const t = setTimeout(() => s.srv.kill('SIGKILL'), 15_000);
    const r = await s.exited;
    clearTimeout(t);
    return r;
  };
  s.cleanup = async () => {
    try { await s.stop(); } finally { v.cleanup(); }
  };
  return s;
}

// request(s, url, {method, headers, body, client, timeout}) → {status,
// headers, body (string), ms}.  client: 'none', a machine id (its
// certificate), or {cert, key}; default the first machine's certificate.
export function request(s, url, { method = 'GET', headers = {}, body, client, timeout = 15_000 } = {}) {
  let c = {};
  if (client === undefined) c = { cert: s.files.cert, key: s.files.key };
  else if (typeof client === 'string' && client !== 'none') c = s.files.machines[client];
  else if (client && typeof client === 'object') c = client;
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const req = https.request(url, {
      method, headers, agent: false, ca: s.files.ca, servername: 'localhost', timeout,
      ...(c.cert ? { cert: c.cert, key: c.key } : {}),
    }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
        body: Buffer.concat(chunks).toString(), ms: Date.now() - t0 }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeout} ms: ${method} ${url}`)));
    req.on('error', reject);
    req.end(body);
  });
}

// JSON body of an answer (null if it is not JSON).
export function jsonOf(r) {
  try { return JSON.parse(r.body); } catch { return null; }
}

// raw(port, chunks, {client, timeout, gapMs}) → {status (the first status
// line's code, or null), statuses (every status line seen), closed, error,
// bytes}.  Writes each chunk (Buffer or string) in order, gapMs apart, then
// waits until the server closes, an answer has arrived completely enough
// (a status line and the end of the headers, plus idleMs of silence), or timeout.
// TLS sessions to resume, per port and client (fewer full handshakes).
const sessions = new Map();

// endAfterMs: half-close (TLS close_notify) that long after the last chunk
// if nothing has come back, so that an incomplete request ends then rather
// than at the server's deadline.  (A half-close right after a complete
// request can lose its answer: evhttp 2.1 frees a connection at EOF.)
export function raw(s, port, chunks, { client, timeout = 10_000, gapMs = 0, idleMs = 150, resume = true, endAfterMs = 0 } = {}) {
  if (!Array.isArray(chunks)) chunks = [chunks];
  let c = {};
  if (client === undefined) c = { cert: s.files.cert, key: s.files.key };
  else if (typeof client === 'string' && client !== 'none') c = s.files.machines[client];
  else if (client && typeof client === 'object') c = client;
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0), done = false, idle = null, error = null;
    const skey = `${port} ${client}`;
    const sock = tls.connect({ host: '127.0.0.1', port, ca: s.files.ca, servername: 'localhost',
      ...(c.cert ? { cert: c.cert, key: c.key } : {}),
      ...(resume && sessions.has(skey) ? { session: sessions.get(skey) } : {}) });
    if (resume) sock.on('session', (x) => sessions.set(skey, x));
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(idle);
      sock.destroy();
      const text = buf.toString('latin1');
      const statuses = [...text.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
      resolve({ status: statuses[0] ?? null, statuses, closed, error, bytes: buf.length, text,
        resumed: sock.isSessionReused?.() || false });
    };
    const timer = setTimeout(() => finish(false), timeout);
    sock.on('error', (e) => { error = e.code || e.message; finish(true); });
    sock.on('close', () => finish(true));
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length > 1 << 20) return finish(false);
      clearTimeout(idle);
      if (/\r\n\r\n/.test(buf.toString('latin1'))) idle = setTimeout(() => finish(false), idleMs);
    });
    sock.once('secureConnect', async () => {
      for (let i = 0; i < chunks.length && !done; i++) {
        if (i && gapMs) await sleep(gapMs);
        if (done) break;
        await new Promise((res) => sock.write(chunks[i], () => res()));
      }
      if (endAfterMs && !done) setTimeout(() => { if (!done && !buf.length) sock.end(); }, endAfterMs);
    });
  });
}

// Run jobs (functions returning promises) with at most `width` in flight.
export async function pool(jobs, width) {
  const out = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await jobs[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, jobs.length) }, worker));
  return out;
}

// A person's session over HTTPS: POST /api/login with the password (and a
// TOTP code when the account has one) → {token, csrf, cookie, body}.
export async function login(s, url, id, { client = 'none', otp } = {}) {
  const u = s.v.users.get(id);
  assert.ok(u, `unknown test account ${id}`);
  const body = { user: id, password: u.password, bearer: true };
  if (otp) body.otp = otp;
  else if (u.totp) body.otp = totp(u.totp);
  const r = await request(s, `${url}/api/login`, { method: 'POST', client,
    headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(r.status, 200, `login ${id}: ${r.status} ${r.body}`);
  const j = JSON.parse(r.body);
  const cookie = (r.headers['set-cookie'] || []).map((x) => x.split(';')[0]).find((x) => x.startsWith('kura_session='));
  return { token: j.token, csrf: j.csrf_token, cookie, body: j };
}

// The vault's content apart from the audit trail: every table of vault.db
// but `events` (and the session/lockout state that logins change), as
// sqlite3 dumps them: equal before and after means no record changed.
export const DATA_TABLES_SQL = "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name;";
