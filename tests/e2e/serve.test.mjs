// serve.test.mjs - the server core of `kura serve` (issue #5, docs/SERVE.md):
// TLS policy (1.2 and 1.3 only, AEAD suites only), mutual TLS per listener
// (required / optional), the security headers, the limits (431, 413), 404
// and 405, SIGUSR1/SIGUSR2 closing and reopening the listeners, and a
// graceful SIGTERM that finishes a request in flight and exits 0.  The CA
// and certificates come from `kura cert`.  Needs the openssl tool.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import tls from 'node:tls';
import { join } from 'node:path';
import { KURA, makeVault, run } from './lib/kura.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let v, dir, srv, urls = [], stderr = '', exited = null;
const files = {};

function cert(args) {
  const r = run(['cert', ...args]);
  assert.equal(r.status, 0, r.stderr);
}

async function startServer() {
  srv = spawn(KURA, ['serve', '--config', join(dir, 'serve.ini')], { stdio: ['ignore', 'ignore', 'pipe'] });
  exited = new Promise((res) => srv.on('exit', (code, sig) => res({ code, sig })));
  srv.stderr.on('data', (d) => { stderr += d; });
  for (let i = 0; i < 300; i++) {
    const m = [...stderr.matchAll(/listening on (https:\/\/\S+)/g)].map((x) => x[1]);
    if (m.length >= 2) { urls = m; return; }
    await sleep(50);
  }
  throw new Error(`kura serve did not start: ${stderr}`);
}

before(async () => {
  v = makeVault();
  dir = v.dir;
  cert(['ca', '--out', join(dir, 'ca'), '--name', 'kura test CA']);
  cert(['server', '--ca', join(dir, 'ca'), '--host', 'localhost', '--host', '127.0.0.1', '--out', join(dir, 'server')]);
  cert(['client', '--ca', join(dir, 'ca'), '--name', 'lab-system', '--account', 'lab', '--out', join(dir, 'client')]);
  for (const [k, f] of [['ca', 'ca/ca.pem'], ['cert', 'client.pem'], ['key', 'client.key']])
    files[k] = readFileSync(join(dir, f));
  writeFileSync(join(dir, 'serve.ini'), `[server]
listen = 127.0.0.1:0 mtls=required
listen = 127.0.0.1:0 mtls=optional
threads = 2
cert = ${join(dir, 'server.pem')}
key = ${join(dir, 'server.key')}
client_ca = ${join(dir, 'ca/ca.pem')}
[vault]
dir = ${v.path}
passphrase_file = ${v.passFile}
[limits]
max_body_bytes = 1M
drain_timeout_s = 10
[scan]
scanning = off
`);
  await startServer();
});

after(() => {
  if (srv && srv.exitCode === null) srv.kill('SIGKILL');
  v.cleanup();
});

function get(url, { client = true, method = 'GET', headers = {}, body, tlsOpts = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(url, {
      method, headers, agent: false, ca: files.ca, servername: 'localhost',
      ...(client ? { cert: files.cert, key: files.key } : {}), ...tlsOpts,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
        body: Buffer.concat(chunks).toString(), tls: res.socket.getProtocol?.() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function sClient(port, args) {
  return spawnSync('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', join(dir, 'ca/ca.pem'),
    '-cert', join(dir, 'client.pem'), '-key', join(dir, 'client.key'), ...args], { input: '', timeout: 10_000 });
}

const port = (u) => new URL(u).port;

test('/healthz over TLS 1.3 and 1.2 with the security headers', async () => {
  for (const version of ['TLSv1.3', 'TLSv1.2']) {
    const r = await get(`${urls[0]}/healthz`, { tlsOpts: { minVersion: version, maxVersion: version } });
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).status, 'ok');
    assert.equal(typeof JSON.parse(r.body).tree_size, 'number');
    assert.match(r.headers['strict-transport-security'], /^max-age=\d+/);
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.match(r.headers['content-security-policy'], /default-src 'none'/);
  }
});

test('TLS 1.1 and non-AEAD TLS 1.2 suites are refused', () => {
  const p = port(urls[0]);
  const old = sClient(p, ['-tls1_1', '-cipher', 'DEFAULT:@SECLEVEL=0']);
  assert.notEqual(old.status, 0, 'TLS 1.1 handshake succeeded');
  for (const c of ['ECDHE-ECDSA-AES128-SHA256', 'ECDHE-ECDSA-AES128-SHA', 'AES128-SHA256', 'AES128-GCM-SHA256']) {
    const r = sClient(p, ['-tls1_2', '-cipher', c]);
    assert.notEqual(r.status, 0, `${c} accepted`);
  }
  const ok = sClient(p, ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256']);
  assert.equal(ok.status, 0, ok.stderr.toString());
});

test('mtls=required refuses a client without a certificate; optional accepts it', async () => {
  await assert.rejects(get(`${urls[0]}/healthz`, { client: false }));
  const r = await get(`${urls[1]}/healthz`, { client: false });
  assert.equal(r.status, 200);
});

test('limits and routing: 431, 413, 404, 405', async () => {
  const big = await get(`${urls[0]}/healthz`, { headers: { 'X-Big': 'a'.repeat(20000) } });
  assert.equal(big.status, 431);
  const many = {};
  for (let i = 0; i < 70; i++) many[`X-H${i}`] = 'x';
  assert.equal((await get(`${urls[0]}/healthz`, { headers: many })).status, 431);
  const body = await get(`${urls[0]}/fhir/Binary`, { method: 'POST', body: Buffer.alloc(2 << 20),
    headers: { 'Content-Type': 'application/octet-stream' } }).catch((e) => ({ status: 413, e }));
  assert.equal(body.status, 413);
  const none = await get(`${urls[0]}/nowhere`);
  assert.equal(none.status, 404);
  assert.equal(none.headers['x-content-type-options'], 'nosniff');
  const wrong = await get(`${urls[0]}/healthz`, { method: 'DELETE' });
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.allow, 'GET, HEAD');
  const m = await get(`${urls[0]}/metrics`);
  assert.equal(m.status, 200);
  assert.match(m.body, /kura_http_requests_total\{route="healthz",status="200"\}/);
  assert.match(m.body, /# EOF\n$/);
});

test('SIGUSR1 closes the listeners, SIGUSR2 opens them again', async () => {
  srv.kill('SIGUSR1');
  await sleep(300);
  await assert.rejects(get(`${urls[1]}/healthz`, { client: false }));
  srv.kill('SIGUSR2');
  let r;
  for (let i = 0; i < 40 && !r; i++) {
    r = await get(`${urls[1]}/healthz`, { client: false }).catch(() => null);
    if (!r) await sleep(100);
  }
  assert.equal(r?.status, 200);
});

test('SIGTERM finishes a request in flight and exits 0', async () => {
  const sock = tls.connect({ host: '127.0.0.1', port: Number(port(urls[0])), ca: files.ca,
    cert: files.cert, key: files.key, servername: 'localhost' });
  await new Promise((res, rej) => { sock.once('secureConnect', res); sock.once('error', rej); });
  let answer = '';
  sock.on('data', (d) => { answer += d; });
  const closed = new Promise((res) => sock.on('close', res));
  sock.write('POST /api/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n' +
    'Content-Length: 10\r\n\r\n{"a":');
  await sleep(200);
  srv.kill('SIGTERM');
  await sleep(300);
  sock.write('"bc"}');
  await closed;
  assert.match(answer, /^HTTP\/1\.1 \d{3} /);
  assert.match(answer, /Connection: close/i);
  const { code } = await exited;
  assert.equal(code, 0, stderr);
  assert.match(stderr, /"event":"stopped"/);
  assert.doesNotMatch(stderr, /"a":/);
});
