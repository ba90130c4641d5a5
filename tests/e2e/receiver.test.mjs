// receiver.test.mjs - the backup receiver (`kura receiver`,
// docs/formats/backup-receiver.md; issue #4 "Backups that ransomware cannot
// reach") end to end: a real receiver process, when this runs as root in its
// own network namespace joined by a veth pair ("another machine"), the vault
// in the root namespace talking HTTPS with mutual TLS to it.
//
//  1. a ransomware drill: generations, then an attacker on the vault host
//     with the vault's client certificate and signing key: wiped vault files,
//     DELETE, overwrites, garbage, a forked history (a restore of an old
//     generation backed up again), another vault's manifest, the quota
//     flooded; every attempt refused and logged, nothing stored changes, and
//     a restore from the receiver gives back every record version;
//  2. the receiver killed (SIGKILL) mid-upload, restarted, the run repeated;
//  3. quota and a full disk on the receiver;
//  4. retention is the receiver's own (`kura receiver prune`);
//  5. `kura receiver status --json`.
//
// Needs openssl, ip (iproute2), chattr; tc is used when present.  Test 1
// needs `ip netns add` (root; CI runs as root) and is skipped otherwise; the
// others fall back to 127.0.0.1 without one.  KURA_KEEP=1 keeps the files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync,
  writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATA, EXIT, ROOT, errorLine, makeVault, run, tempDir, withVault } from './lib/kura.mjs';
import { freePort, immutableSupported, listGenerations, listObjects, lsattr, makeCerts, makeNetns, manifestPath,
  netnsPermitted, objectPath, readLog, removeTree, req, shape, sh, sleep, startReceiver,
  stopReceiver, unshape, writeConfig } from './lib/receiver.mjs';

const CLAMAV_DB = join(DATA, 'clamav');
// (KURA_E2E_NO_NETNS=1 runs tests 2-5 on 127.0.0.1 as a non-root run would.)
const IS_ROOT = process.getuid && process.getuid() === 0;
// As root a namespace must work (test 1 then fails loudly if it does not);
// only an unprivileged run goes without.
const NETNS = !process.env.KURA_E2E_NO_NETNS && (IS_ROOT || netnsPermitted());
// The SHA-256 fingerprint of a certificate as the receiver logs it (lowercase hex).
const fingerprint = (pem) => new X509Certificate(readFileSync(pem)).fingerprint256.replace(/:/g, '').toLowerCase();
const sha256hex = (b) => createHash('sha256').update(b).digest('hex');
const NOT_ALLOWED = 'method not allowed: backups are never deleted or changed';

// ---- a receiver with everything it needs, torn down by t.after() ----

// rig(t, {netns, quota, retention}) → {url, host, port, tls, tlsArgs, dir,
// data, log, config(over), start(env), stop(sig), vault(), list(), gens(),
// status(), requests(), alerts()}.  vault() makes a vault whose backup
// settings name this receiver and copies its ledger public key for the
// receiver's configuration (so call it before start()).  Everything (the
// receiver process, the namespace, a tmpfs, the files) goes in t.after().
async function rig(t, { netns = NETNS, quota, retention } = {}) {
  const dir = tempDir('kura-recv-');
  const r = { dir, data: join(dir, 'data'), log: join(dir, 'receiver.log'), rx: null, net: null,
    cfgFile: join(dir, 'receiver.ini'), pub: join(dir, 'ledger-pubkey.pem'), vaults: [] };
  t.after(async () => {
    await stopReceiver(r.rx, 'SIGKILL');
    if (r.net) {
      unshape(r.net);
      r.net.cleanup();
    }
    if (process.env.KURA_KEEP) {
      console.error(`receiver e2e: files kept in ${dir} ${r.vaults.map((v) => v.dir).join(' ')}`);
      return;
    }
    for (const v of r.vaults) removeTree(v.dir);
    if (r.mounted) umount(r.mounted);
    removeTree(dir);
  });
  if (netns) {
    r.net = makeNetns();
    r.host = r.net.peer;
    r.port = 8443;
  } else {
    r.host = '127.0.0.1';
    r.port = await freePort();
  }
  r.url = `https://${r.host}:${r.port}`;
  r.certs = makeCerts(dir, r.host);
  r.tls = { ca: r.certs.ca, cert: r.certs.client.cert, key: r.certs.client.key };
  r.tlsArgs = ['--tls-ca', r.tls.ca, '--tls-cert', r.tls.cert, '--tls-key', r.tls.key];
  r.target = { host: r.host, port: r.port, tls: r.tls };
  r.settings = { quota, retention };
  r.config = (over = {}) => {
    Object.assign(r.settings, over);
    return writeConfig(r.cfgFile, {
      listen: `${r.host}:${r.port}`, data: r.data, cert: r.certs.server.cert,
      key: r.certs.server.key, client_ca: r.certs.ca, ledger_pubkey: r.pub, log: r.log,
      quota: r.settings.quota, retention: r.settings.retention,
    });
  };
  r.start = async (env = {}) => {
    r.config();
    r.rx = await startReceiver({ config: r.cfgFile, ns: r.net && r.net.ns, env });
    return r.rx;
  };
  r.stop = async (sig = 'SIGTERM') => {
    const res = await stopReceiver(r.rx, sig);
    r.rx = null;
    return res;
  };
  // A vault (makeVault) whose backup settings name this receiver.
  r.vault = ({ pubkey = true } = {}) => {
    const v = makeVault();
    r.vaults.push(v);
    if (pubkey) copyFileSync(join(v.path, 'ledger-pubkey.pem'), r.pub);
    v.admin(['config', 'set', 'backup.targets', r.url]);
    v.admin(['config', 'set', 'backup.tls_ca', r.tls.ca]);
    v.admin(['config', 'set', 'backup.tls_cert', r.tls.cert]);
    v.admin(['config', 'set', 'backup.tls_key', r.tls.key]);
    return v;
  };
  r.list = async () => {
    const res = await req(r.target, 'GET', '/v1/manifests');
    assert.equal(res.status, 200, `GET /v1/manifests: ${res.status} ${res.text}`);
    return res.json;
  };
  r.gens = async () => (await r.list()).generations.map((g) => g.generation);
  r.status = () => {
    const s = run(['--json', 'receiver', 'status', '--config', r.cfgFile]);
    assert.equal(s.status, 0, `kura receiver status: ${s.status} ${s.stderr}`);
    return JSON.parse(s.stdout).generations;
  };
  r.requests = () => readLog(r.log).filter((e) => e.event === 'request');
  r.alerts = () => readLog(r.log).filter((e) => e.event === 'alert').map((e) => e.text);
  return r;
}

function umount(dir) {
  try { sh('umount', [dir]); } catch { /* already gone */ }
}

// `kura backup run --json` (to the vault's backup.targets) → parsed output; asserts exit 0.
function backup(v, extra = []) {
  return v.json(['backup', 'run', ...extra], { as: 'admin' });
}

// `kura restore` from the receiver into a new directory (passphrase from v).
function restore(r, v, to, extra = []) {
  return run(['--json', 'restore', '--from', r.url, ...r.tlsArgs, '--to', to,
    '--clamav-db', CLAMAV_DB, ...extra], { env: { KURA_PASSPHRASE_FILE: v.passFile }, timeout: 120_000 });
}

function restoreOk(r, v, to, extra = []) {
  const res = restore(r, v, to, extra);
  assert.equal(res.status, 0, `kura restore exited ${res.status}: ${res.stderr}${res.stdout}`);
  return JSON.parse(res.stdout);
}

// kura verify on another vault directory (same passphrase and accounts).
function verifyOk(v, path) {
  const w = withVault(v, path);
  const res = w.verify();
  assert.equal(res.status, 0, `kura verify on ${path}: ${res.status} ${res.stderr}${res.stdout}`);
  assert.equal(res.report && res.report.ok, true, `verify report: ${res.stdout}`);
  return w;
}

// FHIR R4 resources: the HL7 examples of ../shared/data when present, else a
// few written here (CI has no ../shared).
function fhirResources() {
  const shared = join(ROOT, '..', 'shared', 'data', 'fhir-r4-examples');
  const names = ['Patient-example.json', 'Observation-blood-pressure.json',
    'Observation-body-temperature.json', 'Encounter-example.json', 'DocumentReference-example.json'];
  if (names.every((n) => existsSync(join(shared, n)))) {
    return names.map((n) => readFileSync(join(shared, n)));
  }
  const obs = (code, display, value, unit) => ({
    resourceType: 'Observation', status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code, display }] },
    subject: { reference: 'Patient/example' }, effectiveDateTime: '2024-04-01T09:30:00+09:00',
    valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
  });
  return [
    { resourceType: 'Patient', id: 'example', active: true, gender: 'female', birthDate: '1974-12-25',
      name: [{ use: 'official', family: '山田', given: ['花子'] }] },
    obs('8310-5', 'Body temperature', 36.8, 'Cel'),
    obs('8867-4', 'Heart rate', 72, '/min'),
    { resourceType: 'Encounter', status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
      subject: { reference: 'Patient/example' } },
    { resourceType: 'Condition', clinicalStatus: { coding: [{ code: 'active' }] },
      code: { text: 'Hypertension' }, subject: { reference: 'Patient/example' } },
  ].map((o) => Buffer.from(JSON.stringify(o, null, 1)));
}

// What the vault holds, for comparing with a restore: record → [content of version 1, 2, ...].
class Ledger {
  constructor(v) { this.v = v; this.recs = new Map(); }
  put(content, opts = {}) {
    const rec = this.v.put(content, opts);
    this.recs.set(rec, [Buffer.from(content)]);
    return rec;
  }
  amend(rec, content) {
    const ver = this.v.amend(rec, content);
    this.recs.get(rec).push(Buffer.from(content));
    assert.equal(ver, this.recs.get(rec).length);
    return ver;
  }
  snapshot() {
    return new Map([...this.recs].map(([k, a]) => [k, [...a]]));
  }
}

// Every version of every record in snap reads back byte for byte from the
// vault at path; `kura list` gives the same records.
function assertRecords(v, path, snap, listing) {
  const w = withVault(v, path);
  for (const [rec, versions] of snap) {
    versions.forEach((want, i) => {
      const g = w.run(['get', `${rec}@${i + 1}`], { as: 'dr.sato' });
      assert.equal(g.status, 0, `get ${rec}@${i + 1} from ${path}: ${g.stderr}`);
      assert.equal(sha256hex(g.stdoutBuf), sha256hex(want), `${rec}@${i + 1} differs after the restore`);
    });
    const nxt = w.run(['get', `${rec}@${versions.length + 1}`], { as: 'dr.sato' });
    assert.notEqual(nxt.status, 0, `${rec}@${versions.length + 1} exists in ${path}`);
  }
  if (listing !== undefined) {
    const l = w.run(['--json', 'list'], { as: 'dr.sato' });
    assert.equal(l.status, 0, `list on ${path}: ${l.stderr}`);
    assert.deepEqual(JSON.parse(l.stdout), listing, 'kura list differs after the restore');
  }
}

function listing(v) {
  return v.json(['list'], { as: 'dr.sato' });
}

// ---- 1 ----

test('ransomware drill: the receiver in its own network namespace refuses every attack, ' +
  'and a restore brings every record back', { skip: NETNS ? false : 'needs `ip netns add` ' +
  '(not permitted: run as root, as CI does)', timeout: 110_000 }, async (t) => {
  const r = await rig(t, { quota: '8M' });
  const v = r.vault();
  await r.start();
  const L = new Ledger(v);

  // Generation 1: FHIR resources and a binary that is chunked (> 256 KiB).
  const fhir = fhirResources();
  const recs = fhir.map((b, i) => L.put(b, { patient: i % 2 ? 'p2' : 'p1',
    type: JSON.parse(b).resourceType, extra: ['--content-type', 'application/fhir+json'] }));
  const scan = randomBytes(400 * 1024);
  const bin = L.put(scan, { patient: 'p1', type: 'application/dicom' });
  const runs = [backup(v)];
  // Generations 2..4: amendments and new records between them.
  for (let g = 2; g <= 4; g++) {
    const obs = JSON.parse(fhir[1]);
    obs.note = [{ text: `amended before generation ${g}` }];
    L.amend(recs[1], Buffer.from(JSON.stringify(obs)));
    L.put(Buffer.from(JSON.stringify({ resourceType: 'Observation', status: 'final',
      code: { text: `follow-up ${g}` }, valueString: randomBytes(8).toString('hex') })), { patient: 'p2', type: 'Observation' });
    if (g === 3) {
      const scan2 = Buffer.concat([scan.subarray(0, 300 * 1024), randomBytes(200 * 1024)]);
      L.amend(bin, scan2);
    }
    runs.push(backup(v));
  }
  assert.deepEqual(runs.map((x) => x.generation), [1, 2, 3, 4]);
  for (const x of runs) {
    assert.equal(x.targets.length, 1);
    assert.equal(x.targets[0].ok, true, JSON.stringify(x.targets[0]));
    assert.equal(x.targets[0].kind, 'receiver');
  }
  assert.ok(runs[3].targets[0].objects_sent < runs[3].objects, 'generation 4 re-sent every object');
  const snap = L.snapshot();
  const list4 = listing(v);
  // After generation 4: a record that no backup holds (what the RPO loses).
  const lost = L.put('written after the last backup', { patient: 'p1' });

  const before = await r.list();
  assert.deepEqual(before.generations.map((g) => g.generation), [1, 2, 3, 4]);
  const stored = listObjects(r.data);
  const storedDigest = Object.fromEntries(stored.map((id) => [id, sha256hex(readFileSync(objectPath(r.data, id)))]));
  for (const id of stored) assert.equal(storedDigest[id], id, `object ${id} is not stored under its hash`);
  const manifests = [1, 2, 3, 4].map((g) => readFileSync(manifestPath(r.data, g)));
  if (immutableSupported(r.dir)) {
    assert.match(lsattr(manifestPath(r.data, 4)), /i/, 'a stored manifest is not immutable');
    assert.match(lsattr(objectPath(r.data, stored[0])), /i/, 'a stored object is not immutable');
  } else {
    t.diagnostic(`chattr +i does not work in ${r.dir}: immutability not checked`);
  }
  assert.ok(before.info.used_bytes < 4 * 1024 * 1024, `the generations use ${before.info.used_bytes} bytes`);
  const logStart = r.requests().length;

  // Another vault (B) of the same hospital, for the attacker's material:
  // valid objects of another vault, and manifests signed by another key.
  const b = makeVault();
  r.vaults.push(b);
  const brepo = join(b.dir, 'repo');
  for (let i = 0; i < 3; i++) b.put(randomBytes(3 * 1024 * 1024), { patient: 'q1' });
  for (let g = 1; g <= 5; g++) {
    if (g > 1) b.put(`b ${g}`, { patient: 'q1' });
    b.json(['backup', 'run', '--to', brepo], { as: 'admin', env: { KURA_BACKUP_IMMUTABLE: '0' } });
  }

  // (a) The ransomware encrypts the vault host's files.
  for (const f of readdirSync(v.path)) {
    const p = join(v.path, f);
    if (statSync(p).isFile()) writeFileSync(p, randomBytes(Math.max(4096, statSync(p).size)));
  }
  const dead = v.run(['list'], { as: 'dr.sato' });
  assert.notEqual(dead.status, 0, 'the wiped vault still opens');

  // (b) With the vault's own client certificate: delete, overwrite, garbage.
  const some = stored[0];
  for (const [method, path] of [['DELETE', `/v1/objects/${some}`], ['DELETE', '/v1/manifests/4'],
    ['DELETE', '/v1/manifests/1'], ['POST', '/v1/manifests/5'], ['PATCH', `/v1/objects/${some}`]]) {
    const res = await req(r.target, method, path, method === 'DELETE' ? undefined : Buffer.from('x'));
    assert.equal(res.status, 405, `${method} ${path}: ${res.status} ${res.text}`);
    assert.deepEqual(res.json, { error: NOT_ALLOWED });
  }
  const bObjects = listObjects(brepo);
  const bBody = readFileSync(objectPath(brepo, bObjects[0]));
  let res = await req(r.target, 'PUT', `/v1/objects/${some}`, bBody);
  assert.equal(res.status, 400, `PUT another object's bytes over ${some}: ${res.status} ${res.text}`);
  assert.deepEqual(res.json, { error: 'hash mismatch: the body\'s SHA-256 is not the object id' });
  const garbage = randomBytes(100_000);
  res = await req(r.target, 'PUT', `/v1/objects/${sha256hex(garbage)}`, garbage);
  assert.equal(res.status, 400, `PUT garbage: ${res.status} ${res.text}`);
  assert.deepEqual(res.json, { error: 'not a backup object' });
  // A stored generation replaced by other bytes (its last byte changed).
  const m4 = Buffer.from(manifests[3]);
  m4[m4.length - 2] ^= 1;
  res = await req(r.target, 'PUT', '/v1/manifests/4', m4);
  assert.equal(res.status, 409, `PUT other bytes as generation 4: ${res.status} ${res.text}`);
  assert.deepEqual(res.json, { error: 'generation 4 is already stored with other content' });

  // A forked history: generation 2 restored (same passphrase) into a new
  // vault, different records written there, backed up to the receiver.
  const forkDir = join(r.dir, 'fork');
  const rf = restoreOk(r, v, forkDir, ['--generation', '2']);
  assert.equal(rf.generation, 2);
  const f = withVault(v, forkDir);
  const fp = f.run(['put', '--patient', 'p1', '--type', 'Observation', '-'],
    { input: '{"resourceType":"Observation","status":"final","code":{"text":"forged"}}', as: 'dr.sato' });
  assert.equal(fp.status, 0, `put in the fork: ${fp.stderr}`);
  const forkSize = f.run(['--json', 'sth']);
  assert.ok(JSON.parse(forkSize.stdout).tree_size < runs[3].sth.tree_size,
    'the fork grew past generation 4 (the client would refuse before the receiver sees it)');
  const fr = f.run(['backup', 'run'], { as: 'admin' });
  assert.equal(fr.status, EXIT.IO, `the forked vault's backup: exit ${fr.status}: ${fr.stderr}${fr.stdout}`);
  const fe = errorLine(fr.stderr);
  assert.ok(fe.ok, fe.why);
  assert.equal(fe.message, 'the backup failed: the receiver answered 422: history rewritten: ' +
    'the tree head is inconsistent with generation 4');

  // The fork grown past generation 4's tree: its tree cannot extend
  // generation 4, and the client refuses before sending anything, saying why.
  const forkTree = () => JSON.parse(f.run(['--json', 'sth']).stdout).tree_size;
  for (let i = 0; i < 200 && forkTree() <= runs[3].sth.tree_size; i++) {
    assert.equal(f.run(['put', '--patient', 'p2', '--type', 'text/plain', '-'],
      { input: `forged ${i}`, as: 'dr.sato' }).status, 0);
  }
  const putsBefore = r.requests().filter((x) => x.method === 'PUT').length;
  const fr2 = f.run(['backup', 'run'], { as: 'admin' });
  assert.equal(fr2.status, EXIT.IO, `the grown fork's backup: exit ${fr2.status}: ${fr2.stderr}${fr2.stdout}`);
  const fe2 = errorLine(fr2.stderr);
  assert.ok(fe2.ok, fr2.stderr);
  assert.match(fe2.message, /^the backup failed: generation 4 on this target \(tree size \d+\) is not in this vault's history: the vault was restored or rebuilt/);
  t.diagnostic(`the grown fork's backup run: ${fr2.stderr.trim()}`);
  assert.equal(r.requests().filter((x) => x.method === 'PUT').length, putsBefore,
    'the grown fork uploaded something');

  // Another vault's manifest (signed with its own key) as generation 5.
  const bm5 = readFileSync(manifestPath(brepo, 5));
  res = await req(r.target, 'PUT', '/v1/manifests/5', bm5);
  assert.equal(res.status, 422, `PUT another vault's manifest: ${res.status} ${res.text}`);
  assert.deepEqual(res.json, { error: 'bad signature: the manifest is not signed by this vault\'s ledger key' });

  // (c) The quota flooded with valid objects (another vault's, by their ids).
  let accepted = 0, full = null;
  for (const id of bObjects) {
    res = await req(r.target, 'PUT', `/v1/objects/${id}`, readFileSync(objectPath(brepo, id)));
    if (res.status === 201) accepted++;
    else { full = res; break; }
  }
  assert.ok(full, `the quota never filled (${accepted} objects accepted)`);
  assert.equal(full.status, 507, `flooding: ${full.status} ${full.text}`);
  assert.match(full.json.error, /^quota exceeded: \d+ of 8388608 bytes used$/);

  // Every attempt refused and logged; nothing stored changed.
  const after = await r.list();
  assert.deepEqual(after.generations, before.generations, 'the generation list changed');
  for (const id of stored) {
    assert.equal(sha256hex(readFileSync(objectPath(r.data, id))), id, `stored object ${id} changed`);
  }
  [1, 2, 3, 4].forEach((g, i) => assert.ok(readFileSync(manifestPath(r.data, g)).equals(manifests[i]),
    `manifest ${g} changed`));
  assert.deepEqual(listGenerations(r.data), [1, 2, 3, 4]);
  const log = r.requests().slice(logStart);
  const peer = fingerprint(r.tls.cert);
  const refused = (method, path, status) => log.some((e) => e.method === method && e.path === path &&
    e.status === status && e.refused === true && e.peer === peer && e.addr.startsWith(`${r.net.host}:`));
  for (const [m, p, s] of [['DELETE', `/v1/objects/${some}`, 405], ['DELETE', '/v1/manifests/4', 405],
    ['DELETE', '/v1/manifests/1', 405], ['POST', '/v1/manifests/5', 405], ['PATCH', `/v1/objects/${some}`, 405],
    ['PUT', `/v1/objects/${some}`, 400], ['PUT', `/v1/objects/${sha256hex(garbage)}`, 400],
    ['PUT', '/v1/manifests/4', 409], ['PUT', '/v1/manifests/5', 422]]) {
    assert.ok(refused(m, p, s), `no refused ${m} ${p} ${s} in the receiver's log`);
  }
  assert.ok(log.some((e) => e.method === 'PUT' && e.status === 422 && /^history rewritten/.test(e.reason)),
    'the forked manifest is not logged as refused');
  assert.ok(log.some((e) => e.status === 507 && e.refused), 'the 507 is not logged');
  const alerts = r.alerts();
  for (const want of [`history rewritten: receiver refused a manifest whose tree head is inconsistent with generation 4 (peer ${peer})`,
    `receiver refused a manifest with a bad signature or another vault's key, generation 5 (peer ${peer})`,
    `receiver refused a different manifest for stored generation 4 (peer ${peer})`,
    /^receiver quota reached: \d+ of 8388608 bytes used, \d+ more refused$/]) {
    const hit = (a) => (typeof want === 'string' ? a === want : want.test(a));
    assert.ok(alerts.some(hit), `no alert ${want} in ${JSON.stringify(alerts)}`);
  }

  // The restore: every record version up to generation 4 is back.
  const to = join(r.dir, 'restored');
  const rs = restoreOk(r, v, to);
  assert.equal(rs.generation, 4);
  assert.equal(rs.sth.tree_size, runs[3].sth.tree_size);
  verifyOk(v, to);
  assertRecords(v, to, snap, list4);
  const gone = withVault(v, to).run(['get', lost], { as: 'dr.sato' });
  assert.equal(gone.status, EXIT.NOTFOUND, `the record written after the last backup: ${gone.status}`);
});

// ---- 2 ----

test('the receiver killed (SIGKILL) mid-upload: a clear error, and the next run ' +
  'after a restart sends only what is missing', { timeout: 90_000 }, async (t) => {
  const r = await rig(t);
  const v = r.vault();
  await r.start();
  const L = new Ledger(v);
  for (let i = 0; i < 6; i++) L.put(randomBytes(5 * 1024 * 1024), { patient: `p${i % 2}`, type: 'application/octet-stream' });
  L.put('{"resourceType":"Observation","status":"final","code":{"text":"bp"}}', { type: 'Observation' });
  const snap = L.snapshot();
  // ~10 MB/s to the receiver: the 30 MB take about 3 s (without a
  // namespace, or without tc, the kill has to be quick).
  let shaped = false;
  if (r.net) {
    try { shape(r.net, '80mbit'); shaped = true; } catch { /* no sch_tbf: unshaped */ }
  }
  const pending = v.runAsync(['backup', 'run'], { as: 'admin' });
  const deadline = Date.now() + 30_000;
  while (listObjects(r.data).length < 3 && Date.now() < deadline) await sleep(shaped ? 20 : 2);
  const killed = await r.stop('SIGKILL');
  assert.equal(killed.signal, 'SIGKILL');
  const res = await pending;
  if (r.net) unshape(r.net);
  const partial = listObjects(r.data);
  assert.ok(partial.length >= 3, `only ${partial.length} objects were stored before the kill`);
  assert.equal(res.status, EXIT.IO, `backup run with the receiver killed: exit ${res.status} ` +
    `(expected ${EXIT.IO}): ${res.stderr}${res.stdout}`);
  const e = errorLine(res.stderr);
  assert.ok(e.ok, e.why);
  t.diagnostic(`killed mid-upload after ${partial.length} objects: ${e.message}`);
  assert.ok(e.message.startsWith(`the backup failed: cannot reach the receiver ${r.url}: `), e.message);
  assert.deepEqual(listGenerations(r.data), [], 'a manifest was stored');
  // The failure is in the vault's trail, and no generation is recorded.
  assert.deepEqual(v.json(['backup', 'list'], { as: 'admin' }).generations, []);

  // Restarted: tmp/ cleaned, nothing listed; the run repeated.
  const logBefore = readLog(r.log).length;
  await r.start();
  assert.deepEqual(readdirSync(join(r.data, 'tmp')), [], 'partial uploads left in tmp/');
  assert.deepEqual(await r.gens(), []);
  const ok = backup(v);
  assert.equal(ok.generation, 1);
  assert.equal(ok.targets[0].ok, true, JSON.stringify(ok.targets));
  assert.ok(ok.targets[0].objects_sent < ok.objects,
    `every object was sent again (${ok.targets[0].objects_sent} of ${ok.objects})`);
  assert.ok(ok.targets[0].objects_sent <= ok.objects - partial.length + 1,
    `${ok.targets[0].objects_sent} of ${ok.objects} sent with ${partial.length} already stored`);
  const reput = readLog(r.log).slice(logBefore).filter((x) => x.event === 'request' && x.method === 'PUT' &&
    partial.some((id) => x.path === `/v1/objects/${id}`));
  assert.deepEqual(reput, [], 'objects stored before the kill were uploaded again');
  assert.deepEqual(await r.gens(), [1]);

  const to = join(r.dir, 'restored');
  const rs = restoreOk(r, v, to);
  assert.equal(rs.generation, 1);
  verifyOk(v, to);
  assertRecords(v, to, snap);
});

// ---- 3 ----

test('quota on the receiver: a generation that does not fit fails clearly, leaves no ' +
  'generation behind, and goes through once the quota is raised', { timeout: 60_000 }, async (t) => {
  const r = await rig(t, { quota: '2M' });
  const v = r.vault();
  await r.start();
  const L = new Ledger(v);
  L.put('{"resourceType":"Patient","active":true}', { type: 'Patient' });
  assert.equal(backup(v).generation, 1);
  L.put(randomBytes(3 * 1024 * 1024), { type: 'application/octet-stream' });
  const snap = L.snapshot();
  const res = v.run(['backup', 'run'], { as: 'admin' });
  assert.equal(res.status, EXIT.IO, `over quota: exit ${res.status}: ${res.stderr}${res.stdout}`);
  const e = errorLine(res.stderr);
  assert.ok(e.ok, e.why);
  t.diagnostic(e.message);
  assert.match(e.message, /^the backup failed: the receiver answered 507: quota exceeded: \d+ of 2097152 bytes used$/);
  const list = await r.list();
  assert.deepEqual(list.generations.map((g) => g.generation), [1], 'a generation over quota is visible');
  assert.equal(list.info.quota_bytes, 2097152);
  assert.ok(list.info.used_bytes <= 2097152, `used ${list.info.used_bytes} bytes of a 2 MiB quota`);
  assert.deepEqual(listGenerations(r.data), [1]);
  assert.ok(r.alerts().some((a) => /^receiver quota reached: \d+ of 2097152 bytes used, \d+ more refused$/.test(a)),
    `no quota alert: ${JSON.stringify(r.alerts())}`);
  const failed = v.json(['backup', 'list'], { as: 'admin' }).generations.map((g) => g.generation);
  assert.deepEqual(failed, [1]);

  // The operator raises the quota (a restart with the new configuration).
  await r.stop();
  r.config({ quota: '64M' });
  await r.start();
  assert.equal((await r.list()).info.quota_bytes, 64 * 1024 * 1024);
  const ok = backup(v);
  assert.equal(ok.generation, 2);
  assert.deepEqual(await r.gens(), [1, 2]);
  const to = join(r.dir, 'restored');
  assert.equal(restoreOk(r, v, to).generation, 2);
  verifyOk(v, to);
  assertRecords(v, to, snap);
});

test('a full disk on the receiver (a small tmpfs): 507, nothing half-visible, and the run ' +
  'goes through once there is room', { skip: IS_ROOT ? false : 'mounting a tmpfs needs root',
  timeout: 60_000 }, async (t) => {
  const r = await rig(t);
  mkdirSync(r.data);
  sh('mount', ['-t', 'tmpfs', '-o', 'size=1536k,mode=0700', 'kura-recv-test', r.data]);
  r.mounted = r.data;
  const v = r.vault();
  await r.start();
  v.put('{"resourceType":"Patient","active":false}', { type: 'Patient' });
  assert.equal(backup(v).generation, 1);
  v.put(randomBytes(3 * 1024 * 1024), { type: 'application/octet-stream' });
  const res = v.run(['backup', 'run'], { as: 'admin' });
  assert.equal(res.status, EXIT.IO, `disk full: exit ${res.status}: ${res.stderr}${res.stdout}`);
  const e = errorLine(res.stderr);
  assert.ok(e.ok, e.why);
  assert.equal(e.message, 'the backup failed: the receiver answered 507: the receiver\'s disk is full');
  assert.deepEqual(await r.gens(), [1]);
  assert.deepEqual(listGenerations(r.data), [1]);
  assert.ok(r.alerts().some((a) => /^receiver storage is full: no space left/.test(a)),
    `no disk-full alert: ${JSON.stringify(r.alerts())}`);
  sh('mount', ['-o', 'remount,size=64m', r.data]);
  const ok = backup(v);
  assert.equal(ok.generation, 2);
  assert.deepEqual(await r.gens(), [1, 2]);
});

// ---- 4 ----

test('retention is the receiver\'s own: the lock keeps everything, `kura receiver prune` ' +
  'then keeps the newest keep_min', { timeout: 60_000 }, async (t) => {
  const retention = { keep_min: 3, daily: 0, weekly: 0, monthly: 0, lock_days: 30 };
  const r = await rig(t, { retention });
  const v = r.vault();
  await r.start();
  const L = new Ledger(v);
  L.put(randomBytes(600 * 1024), { type: 'application/octet-stream' });
  const runs = [];
  for (let g = 1; g <= 5; g++) {
    L.put(`{"resourceType":"Observation","status":"final","code":{"text":"g${g}"}}`, { type: 'Observation' });
    runs.push(backup(v));
  }
  const snap = L.snapshot();
  assert.deepEqual(runs.map((x) => x.generation), [1, 2, 3, 4, 5]);
  assert.deepEqual(await r.gens(), [1, 2, 3, 4, 5], 'the receiver pruned inside the lock');
  let st = r.status();
  assert.deepEqual(st.map((g) => [g.generation, g.keep, g.why]),
    [[5, true, 'newest'], [4, true, 'newest'], [3, true, 'newest'], [2, true, 'locked'], [1, true, 'locked']]);

  // Pruning while the receiver runs is refused (it prunes by itself).
  const busy = run(['receiver', 'prune', '--config', r.cfgFile]);
  assert.equal(busy.status, EXIT.BUSY, `prune while running: ${busy.status} ${busy.stderr}`);
  assert.match(busy.stderr, /the receiver is running and prunes by itself/);
  await r.stop();

  const prune = () => {
    const p = run(['--json', 'receiver', 'prune', '--config', r.cfgFile]);
    assert.equal(p.status, 0, `kura receiver prune: ${p.status} ${p.stderr}`);
    return JSON.parse(p.stdout);
  };
  const objects = listObjects(r.data);
  assert.deepEqual(prune(), { generations_removed: 0, objects_removed: 0, bytes_freed: 0 });
  assert.deepEqual(listGenerations(r.data), [1, 2, 3, 4, 5]);
  assert.deepEqual(listObjects(r.data), objects);

  // Without the lock: exactly the newest 3, and the objects only 1 and 2 needed.
  r.config({ retention: { ...retention, lock_days: 0 } });
  const p = prune();
  assert.equal(p.generations_removed, 2);
  assert.ok(p.objects_removed >= 2 && p.bytes_freed > 0, JSON.stringify(p));
  assert.deepEqual(listGenerations(r.data), [3, 4, 5]);
  assert.equal(listObjects(r.data).length, objects.length - p.objects_removed);
  st = r.status();
  assert.deepEqual(st.map((g) => [g.generation, g.keep, g.why]),
    [[5, true, 'newest'], [4, true, 'newest'], [3, true, 'newest']]);
  assert.deepEqual(prune(), { generations_removed: 0, objects_removed: 0, bytes_freed: 0 });

  // The newest still restores; a pruned one is gone.
  await r.start();
  const to = join(r.dir, 'restored');
  const rs = restoreOk(r, v, to);
  assert.equal(rs.generation, 5);
  verifyOk(v, to);
  assertRecords(v, to, snap);
  const old = restore(r, v, join(r.dir, 'old'), ['--generation', '1']);
  assert.notEqual(old.status, 0, 'generation 1 restored after it was pruned');

  // The receiver applies the policy itself after each accepted manifest.
  const six = backup(v);
  assert.equal(six.generation, 6);
  assert.deepEqual(await r.gens(), [4, 5, 6]);
  assert.ok(readLog(r.log).some((x) => x.event === 'retention' && x.generations === 1),
    'no retention event in the log');
});

// ---- 5 ----

test('`kura receiver status --json` shows the stored generations; allow= narrows the clients', { timeout: 60_000 }, async (t) => {
  const r = await rig(t);
  const v = r.vault();
  await r.start();
  const runs = [];
  for (let g = 1; g <= 3; g++) {
    v.put(`{"resourceType":"Observation","status":"final","code":{"text":"s${g}"}}`, { type: 'Observation' });
    runs.push(backup(v));
  }
  const listed = (await r.list()).generations;
  const check = () => {
    const st = r.status();
    assert.deepEqual(st.map((g) => g.generation), [3, 2, 1], 'not newest first');
    st.forEach((g, i) => {
      const run3 = runs[2 - i];
      const l = listed.find((x) => x.generation === g.generation);
      assert.equal(g.tree_size, run3.sth.tree_size);
      assert.equal(g.bytes, l.bytes);
      assert.equal(g.keep, true);
      assert.equal(g.why, 'newest');
      assert.match(g.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      assert.match(g.stored, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      assert.ok(Math.abs(Date.parse(g.stored) - Date.now()) < 120_000, `stored ${g.stored}`);
      assert.ok(Date.parse(g.stored) >= Date.parse(g.created), `${g.stored} before ${g.created}`);
    });
  };
  check(); // while the receiver runs
  await r.stop();
  check(); // and stopped
  const plain = run(['receiver', 'status', '--config', r.cfgFile]);
  assert.equal(plain.status, 0, plain.stderr);
  const rows = plain.stdout.trim().split('\n');
  assert.equal(rows.length, 4, plain.stdout);
  assert.match(rows[0], /^generation\s+tree size\s+stored\s+bytes\s+kept$/);
  assert.match(rows[1], /^3\s+\d+\s+\S+\s+\d+\s+yes newest$/);

  // allow= narrows the CA to given certificates: another client of the same CA gets 403.
  writeConfig(r.cfgFile, { listen: `${r.host}:${r.port}`, data: r.data, cert: r.certs.server.cert,
    key: r.certs.server.key, client_ca: r.certs.ca, ledger_pubkey: r.pub, log: r.log,
    allow: [fingerprint(r.tls.cert).toUpperCase().match(/../g).join(':')] });
  r.rx = await startReceiver({ config: r.cfgFile, ns: r.net && r.net.ns });
  const other = { ...r.target, tls: { ca: r.certs.ca, ...r.certs.other } };
  const denied = await req(other, 'GET', '/v1/manifests');
  assert.equal(denied.status, 403, `another client of the CA: ${denied.status} ${denied.text}`);
  assert.deepEqual(denied.json, { error: 'this client certificate is not allowed' });
  assert.deepEqual(await r.gens(), [1, 2, 3]);
  assert.ok(r.requests().some((x) => x.status === 403 && x.peer === fingerprint(r.certs.other.cert)));
  await r.stop();

  const bad = run(['receiver', 'status', '--config', join(r.dir, 'missing.ini')]);
  assert.notEqual(bad.status, 0);
  assert.ok(errorLine(bad.stderr).ok, bad.stderr);
});
