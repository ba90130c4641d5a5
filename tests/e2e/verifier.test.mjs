// Checks kura's ledger against an independent verifier (lib/verifier.mjs),
// written from docs/formats/ledger.md only.  Run: node --test tests/e2e/verifier.test.mjs
// (build first: ninja -C build; KURA_BIN overrides the CLI path).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign as edSign } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  decodeLeaf, leafHash, nodeHash, mth, verifyInclusion, verifyConsistency,
  parseSth, verifySth, verifyProofFile,
} from './lib/verifier.mjs';
import { makeVault, sqliteRows } from './lib/kura.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const KURA = process.env.KURA_BIN || join(ROOT, 'build/src/cli/kura');
const hx = (s) => Buffer.from(s, 'hex');
const sha256 = (b) => createHash('sha256').update(b).digest();
const ZERO32 = Buffer.alloc(32);

// ------------------------------------------------------------------------
// Reference proof generators, RFC 9162 §2.1.3.1 PATH and §2.1.4.1 PROOF,
// over leaf hashes; used to check that kura's paths are the canonical ones.
const split = (n) => { let k = 1; while (k * 2 < n) k *= 2; return k; };
function refPath(m, d) {
  if (d.length <= 1) return [];
  const k = split(d.length);
  return m < k ? [...refPath(m, d.slice(0, k)), mth(d.slice(k))]
    : [...refPath(m - k, d.slice(k)), mth(d.slice(0, k))];
}
function refSubproof(m, d, b) {
  if (m === d.length) return b ? [] : [mth(d)];
  const k = split(d.length);
  return m <= k ? [...refSubproof(m, d.slice(0, k), b), mth(d.slice(k))]
    : [...refSubproof(m - k, d.slice(k), false), mth(d.slice(0, k))];
}
const refProof = (m, d) => refSubproof(m, d, true);

// ------------------------------------------------------------------------
// (a) RFC 6962 test vectors.  Values only, from transparency-dev/merkle:
// testonly/constants.go (LeafInputs, NodeHashes, RootHashes) and
// proof/verify_test.go (inclusionProofs, consistencyProofs; leaf numbers there
// are 1-based).  They are the RFC 6962 vectors of google/certificate-transparency.
const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657',
  '606162636465666768696a6b6c6d6e6f'].map(hx);
const LEVEL0 = ['6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
  '0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7',
  '07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7',
  'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
  '4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658',
  'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
  '46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1'].map(hx);
const ROOTS = ['e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', // size 0
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328'].map(hx);
const INCLUSION = [ // [1-based leaf, size, path]
  [1, 1, []],
  [1, 8, ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
    '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
  [6, 8, ['bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
  [3, 3, ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125']],
  [2, 5, ['6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b']],
].map(([l, n, p]) => [l, n, p.map(hx)]);
const CONSISTENCY = [ // [size1, size2, path]
  [1, 1, []],
  [1, 8, ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
    '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
  [6, 8, ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
    'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
  [2, 5, ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b']],
  [6, 7, ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
    'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
].map(([a, b, p]) => [a, b, p.map(hx)]);
const SOME = hx('abacaba000000000000000000000000000000000000000000060061e00123456');
const flip = (b, i = 0, bit = 8) => { const c = Buffer.from(b); c[i] ^= bit; return c; };

test('RFC 6962 vectors: leaf hashes and roots of sizes 0..8', () => {
  const lh = LEAVES.map(leafHash);
  assert.deepEqual(lh, LEVEL0);
  for (let n = 0; n <= 8; n++) assert.deepEqual(mth(lh.slice(0, n)), ROOTS[n], `size ${n}`);
  assert.deepEqual(nodeHash(lh[0], lh[1]), ROOTS[2]);
});

test('RFC 6962 vectors: published inclusion proofs, and corruptions of them', () => {
  for (const [l, n, path] of INCLUSION) {
    const i = l - 1, h = leafHash(LEAVES[i]), root = ROOTS[n];
    assert.ok(verifyInclusion(i, n, h, path, root), `leaf ${i} of ${n}`);
    assert.deepEqual(refPath(i, LEAVES.slice(0, n).map(leafHash)), path);
    const bad = [ // the probes of corruptInclusionProof in verify_test.go
      [i - 1, n, h, path, root], [i + 1, n, h, path, root], [i ^ 2, n, h, path, root],
      [i, n * 2, h, path, root], [i, Math.floor(n / 2), h, path, root],
      [i, n, Buffer.from('WrongLeaf'), path, root], [i, n, h, path, ROOTS[0]], [i, n, h, path, SOME],
      [i, n, h, [...path, Buffer.alloc(0)], root], [i, n, h, [...path, root], root],
      [i, n, h, [Buffer.alloc(0), ...path], root], [i, n, h, [root, ...path], root],
      ...path.map((_, k) => [i, n, h, path.map((p, j) => (j === k ? flip(p) : p)), root]),
      ...(path.length ? [[i, n, h, path.slice(0, -1), root]] : []),
      ...(path.length > 1 ? [[i, n, h, [path[0], SOME, ...path.slice(1)], root]] : []),
    ];
    for (const [bi, bn, bh, bp, br] of bad) {
      if (bi === i && bn === n && bh === h && bp === path && br === root) continue;
      if (bi < 0) continue;
      assert.equal(verifyInclusion(bi, bn, bh, bp, br), false, `corrupt probe of ${i}/${n}`);
    }
  }
  for (const [i, n] of [[0, 0], [0, 1], [1, 0], [2, 1]]) {
    assert.equal(verifyInclusion(i, n, SOME, [], ROOTS[0]), false);
  }
});

test('RFC 6962 vectors: published consistency proofs, and corruptions of them', () => {
  const lh = LEAVES.map(leafHash);
  for (const [a, b, path] of CONSISTENCY) {
    const r1 = ROOTS[a], r2 = ROOTS[b];
    assert.ok(verifyConsistency(a, b, r1, r2, path), `${a} -> ${b}`);
    assert.deepEqual(refProof(a, lh.slice(0, b)), path);
    if (!path.length) continue;
    const bad = [ // the probes of corruptConsistencyProof in verify_test.go
      [a - 1, b, r1, r2, path], [a + 1, b, r1, r2, path], [a ^ 2, b, r1, r2, path],
      [a, b * 2, r1, r2, path], [a, Math.floor(b / 2), r1, r2, path],
      [a, b, Buffer.from('WrongRoot'), r2, path], [a, b, r1, Buffer.from('WrongRoot'), path],
      [a, b, r2, r1, path], [a, b, r1, r2, []],
      [a, b, r1, r2, [...path, Buffer.alloc(0)]], [a, b, r1, r2, [...path, r1]], [a, b, r1, r2, [...path, r2]],
      [a, b, r1, r2, [Buffer.alloc(0), ...path]], [a, b, r1, r2, [r1, ...path]],
      [a, b, r1, r2, [r2, ...path]], [a, b, r1, r2, [path[0], ...path]],
      [a, b, r1, r2, path.slice(0, -1)],
      ...path.map((_, k) => [a, b, r1, r2, path.map((p, j) => (j === k ? flip(p, 0, 16) : p))]),
    ];
    for (const [x, y, q1, q2, p] of bad) {
      assert.equal(verifyConsistency(x, y, q1, q2, p), false, `corrupt probe of ${a}->${b}`);
    }
  }
  assert.equal(verifyConsistency(1, 1, ROOTS[1], ROOTS[1], [ROOTS[0]]), false);
  assert.equal(verifyConsistency(1, 2, ROOTS[1], ROOTS[2], []), false);
  assert.equal(verifyConsistency(2, 1, ROOTS[2], ROOTS[1], []), false);
  assert.equal(verifyConsistency(0, 0, ROOTS[0], ROOTS[0], []), false); // ledger.md: first == 0 fails
});

test('reference generators and verifiers agree on every tree of 1..40 leaves', () => {
  const lh = Array.from({ length: 40 }, (_, i) => leafHash(Buffer.from([i, i * 7 & 255])));
  for (let n = 1; n <= 40; n++) {
    const d = lh.slice(0, n), root = mth(d);
    for (let m = 0; m < n; m++) {
      const p = refPath(m, d);
      assert.ok(verifyInclusion(m, n, d[m], p, root), `incl ${m}/${n}`);
      if (n > 1) assert.equal(verifyInclusion(m, n, d[(m + 1) % n], p, root), false);
    }
    for (let m = 1; m <= n; m++) {
      const p = refProof(m, d), r1 = mth(lh.slice(0, m));
      assert.ok(verifyConsistency(m, n, r1, root, p), `cons ${m}->${n}`);
      if (m < n) assert.equal(verifyConsistency(m, n, flip(r1), root, p), false);
    }
  }
});

// ------------------------------------------------------------------------
// Leaf decoding (§1), on leaves built here with an encoder of our own.
function encodeLeaf(f) {
  const o = [];
  const s = (v) => (Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8'));
  const o1 = (v) => { v = s(v); o.push(Buffer.of(v.length & 255), v); };
  const u32 = (v) => { const b = Buffer.alloc(4); b.writeUInt32BE(v); o.push(b); };
  const u64 = (v) => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt.asUintN(64, BigInt(v))); o.push(b); };
  o.push(Buffer.of(f.leaf_type ?? 1, f.format ?? 1));
  o1(f.record_id); u32(f.version); o1(f.patient_id); o1(f.type); o1(f.content_type);
  o.push(Buffer.of(f.status)); o1(f.inputter); o1(f.confirmer); o1(f.on_behalf_of); u64(f.time);
  const r = s(f.reason); const rl = Buffer.alloc(2); rl.writeUInt16BE(r.length & 0xffff); o.push(rl, r);
  u64(f.content_length); o.push(f.commitment, f.previous);
  return Buffer.concat(o);
}
const BASE = {
  record_id: '01a21141-ef09-7708-88f2-a562f195c88d', version: 2, patient_id: 'P1', type: 'Observation',
  content_type: 'application/fhir+json', status: 1, inputter: 'dr.a', confirmer: '', on_behalf_of: '',
  time: 1795585863433512n, reason: 'fix typo', content_length: 48n,
  commitment: Buffer.alloc(32, 0x11), previous: Buffer.alloc(32, 0x22),
};

// An audit-event leaf (§1b) from a row of the events table.
function encodeEvent(e) {
  const o = [];
  const s = (v) => Buffer.from(String(v), 'utf8');
  const o1 = (v) => { v = s(v); o.push(Buffer.of(v.length), v); };
  const o2 = (v) => { v = s(v); const l = Buffer.alloc(2); l.writeUInt16BE(v.length); o.push(l, v); };
  const t = Buffer.alloc(8); t.writeBigInt64BE(BigInt(e.time_us));
  const off = Buffer.alloc(2); off.writeInt16BE(e.utc_offset_min);
  o.push(Buffer.of(2, 1), t, off, Buffer.of(e.clock, e.severity, e.outcome));
  for (const k of ['action', 'actor', 'role', 'terminal', 'client_ip', 'cert_fp', 'patient_id', 'record_id']) o1(e[k]);
  const ver = Buffer.alloc(4); ver.writeUInt32BE(e.version); o.push(ver);
  for (const k of ['query', 'reason', 'detail']) o2(e[k]);
  return Buffer.concat(o);
}

test('decodeLeaf: audit events (leaf_type 2) round trip', () => {
  const ev = { time_us: 1795585863433512, utc_offset_min: 540, clock: 1, severity: 6, outcome: 0, action: 'read',
    actor: 'dr.a', role: 'doctor', terminal: 'ws-1 /dev/pts/0', client_ip: '10.0.0.5', cert_fp: '', patient_id: 'P1',
    record_id: BASE.record_id, version: 2, query: '', reason: '', detail: '閲覧' };
  const d = decodeLeaf(encodeEvent(ev));
  assert.equal(d.leaf_type, 2);
  for (const k of Object.keys(ev)) if (k !== 'time_us') assert.deepEqual(d[k], ev[k], k);
  assert.equal(d.time, BigInt(ev.time_us));
  assert.equal(decodeLeaf(encodeEvent({ ...ev, utc_offset_min: -300 })).utc_offset_min, -300);
  for (const bad of [{ outcome: 3 }, { severity: 0 }, { clock: 3 }, { utc_offset_min: 1441 }, { action: '' }]) {
    assert.throws(() => decodeLeaf(encodeEvent({ ...ev, ...bad })), Error, JSON.stringify(bad));
  }
  assert.throws(() => decodeLeaf(Buffer.concat([encodeEvent(ev), Buffer.of(0)])), /trailing/);
});

test('decodeLeaf: round trip and boundary values', () => {
  const d = decodeLeaf(encodeLeaf(BASE));
  for (const k of Object.keys(BASE)) assert.deepEqual(d[k], BASE[k], k);
  assert.equal(d.leaf_type, 1); assert.equal(d.format, 1); assert.equal(d.status_name, 'draft');
  const edge = {
    ...BASE, patient_id: 'p'.repeat(64), type: 't'.repeat(127), content_type: '', status: 2,
    inputter: '入'.repeat(21), confirmer: 'c'.repeat(64), on_behalf_of: 'o'.repeat(64),
    reason: 'r'.repeat(4096), time: -5n, version: 0xffffffff,
  };
  const e = decodeLeaf(encodeLeaf(edge));
  assert.equal(e.reason.length, 4096); assert.equal(e.time, -5n); assert.equal(e.version, 0xffffffff);
  assert.equal(e.inputter, '入'.repeat(21));
  const v1 = decodeLeaf(encodeLeaf({ ...BASE, version: 1, previous: ZERO32 }));
  assert.equal(v1.version, 1);
  const retr = decodeLeaf(encodeLeaf({ ...BASE, status: 3, content_length: 0n, commitment: ZERO32 }));
  assert.equal(retr.status_name, 'entered-in-error');
});

test('decodeLeaf: rejects every violation of §1', () => {
  const ok = encodeLeaf(BASE);
  const bad = {
    'leaf_type 3': encodeLeaf({ ...BASE, leaf_type: 3 }),
    'leaf_type 2 (an event) with a record body': encodeLeaf({ ...BASE, leaf_type: 2 }),
    'format 2': encodeLeaf({ ...BASE, format: 2 }),
    'trailing byte': Buffer.concat([ok, Buffer.of(0)]),
    'truncated': ok.subarray(0, ok.length - 1),
    'empty': Buffer.alloc(0),
    'record_id empty': encodeLeaf({ ...BASE, record_id: '' }),
    'record_id 65': encodeLeaf({ ...BASE, record_id: BASE.record_id + 'x'.repeat(29) }),
    'record_id not a UUIDv7': encodeLeaf({ ...BASE, record_id: '01a21141-ef09-4708-88f2-a562f195c88d' }),
    'version 0': encodeLeaf({ ...BASE, version: 0 }),
    'patient empty': encodeLeaf({ ...BASE, patient_id: '' }),
    'patient 65': encodeLeaf({ ...BASE, patient_id: 'p'.repeat(65) }),
    'patient bad char': encodeLeaf({ ...BASE, patient_id: 'P 1' }),
    'type empty': encodeLeaf({ ...BASE, type: '' }),
    'type 128': encodeLeaf({ ...BASE, type: 't'.repeat(128) }),
    'content_type 128': encodeLeaf({ ...BASE, content_type: 'c'.repeat(128) }),
    'status 0': encodeLeaf({ ...BASE, status: 0 }),
    'status 4': encodeLeaf({ ...BASE, status: 4 }),
    'inputter empty': encodeLeaf({ ...BASE, inputter: '' }),
    'inputter 65': encodeLeaf({ ...BASE, inputter: 'i'.repeat(65) }),
    'inputter 66 bytes of UTF-8': encodeLeaf({ ...BASE, inputter: '入'.repeat(22) }),
    'confirmer 65': encodeLeaf({ ...BASE, status: 2, confirmer: 'c'.repeat(65) }),
    'on_behalf_of 65': encodeLeaf({ ...BASE, on_behalf_of: 'o'.repeat(65) }),
    'reason 4097': encodeLeaf({ ...BASE, reason: 'r'.repeat(4097) }),
    'NUL in inputter': encodeLeaf({ ...BASE, inputter: 'dr\0a' }),
    'NUL in reason': encodeLeaf({ ...BASE, reason: 'a\0b' }),
    'NUL in type': encodeLeaf({ ...BASE, type: 'Obs\0' }),
    'invalid UTF-8': encodeLeaf({ ...BASE, reason: Buffer.of(0xc3, 0x28) }),
    'confirmer on a draft': encodeLeaf({ ...BASE, confirmer: 'dr.c' }),
    'retraction with content_length': encodeLeaf({ ...BASE, status: 3, content_length: 1n, commitment: ZERO32 }),
    'retraction with commitment': encodeLeaf({ ...BASE, status: 3, content_length: 0n }),
    'version 1 with previous': encodeLeaf({ ...BASE, version: 1 }),
  };
  for (const [name, b] of Object.entries(bad)) assert.throws(() => decodeLeaf(b), Error, name);
});

// ------------------------------------------------------------------------
// Tree heads (§3) with a key made here, the signed bytes built by hand.
function u64be(v) { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(v)); return b; }
function signSth(privateKey, raw, size, ts, root) {
  const msg = Buffer.concat([Buffer.from('kura.sth.v1', 'ascii'), sha256(raw), u64be(size), u64be(ts), root]);
  assert.equal(msg.length, 91);
  return { kura_sth: 1, log_id: sha256(raw).toString('hex'), tree_size: size, timestamp: 'x',
    timestamp_us: ts, root_hash: root.toString('hex'), signature: edSign(null, msg, privateKey).toString('hex') };
}

test('verifySth: signature, log_id and field checks with a local key', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pem = publicKey.export({ type: 'spki', format: 'pem' });
  const raw = publicKey.export({ type: 'spki', format: 'der' }).subarray(-32);
  const sth = signSth(privateKey, raw, 5, 1795585863433512, ROOTS[5]);
  assert.equal(verifySth(sth, pem).tree_size, 5n);
  assert.equal(verifySth({ ...sth, timestamp: 'anything', extra: [1] }, pem).timestamp_us, 1795585863433512n);
  const other = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' });
  const bad = [
    { ...sth, tree_size: 6 }, { ...sth, timestamp_us: sth.timestamp_us + 1 },
    { ...sth, root_hash: flip(ROOTS[5]).toString('hex') }, { ...sth, signature: flip(hx(sth.signature), 63, 1).toString('hex') },
    { ...sth, log_id: flip(hx(sth.log_id)).toString('hex') }, { ...sth, kura_sth: 2 },
    { ...sth, tree_size: -1 }, { ...sth, tree_size: '5' },
  ];
  for (const b of bad) assert.throws(() => verifySth(b, pem), Error, JSON.stringify(b));
  verifySth({ ...sth, root_hash: sth.root_hash.toUpperCase() }, pem); // hex is read in either case
  assert.throws(() => verifySth(sth, other), /log_id/);
  assert.throws(() => parseSth(null));
});

// ------------------------------------------------------------------------
// (b) A real vault.
function vault(t) {
  assert.ok(existsSync(KURA), `no kura binary at ${KURA}: run 'ninja -C build' or set KURA_BIN`);
  const mv = makeVault();
  t.after(() => mv.cleanup());
  const dir = mv.dir;
  const env = { KURA_VAULT: mv.path };
  // Writers are doctors of one department (created on first use), so every
  // record is readable by the default user; the admin runs verify.
  const run = (args, input) => {
    const r = mv.run(args, { input });
    assert.equal(r.signal, null, `kura ${args.join(' ')} killed by ${r.signal}`);
    assert.doesNotMatch(r.stderr, /Sanitizer|runtime error:/, `kura ${args.join(' ')}`); // KURA_BIN=build-asan/...
    return r;
  };
  const ok = (args) => {
    const r = run(args);
    assert.equal(r.status, 0, `kura ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    return r.stdout;
  };
  const json = (args) => JSON.parse(ok(['--json', ...args]));
  const file = (name, text) => { const p = join(dir, name); writeFileSync(p, text); return p; };
  ok(['pubkey', '-o', join(dir, 'pk.pem')]);
  const pemFile = join(dir, 'pk.pem');
  return { dir, env, db: mv.db, user: mv.user, run, ok, json, file, pemFile, pem: readFileSync(pemFile, 'utf8') };
}
const obs = (extra = {}) => JSON.stringify({ resourceType: 'Observation', status: 'final', ...extra });
const isoUs = (us) => {
  us = BigInt(us);
  const s = new Date(Number(us / 1000000n) * 1000).toISOString().slice(0, 19);
  return `${s}.${String(us % 1000000n).padStart(6, '0')}Z`;
};

test('e2e: a real vault agrees with the independent verifier', async (t) => {
  const v = vault(t);
  assert.equal(readFileSync(join(v.env.KURA_VAULT, 'ledger-pubkey.pem'), 'utf8'), v.pem);

  // Every tree head we see, in the order of the writes that produced them.
  const heads = [];
  const signed = new Map(); // tree_size -> STH JSON
  const seen = (sth) => { verifySth(sth, v.pem); heads.push(sth); signed.set(sth.tree_size, sth); return sth; };
  // kura init signs the empty tree, then its administrator's events follow.
  assert.deepEqual(sqliteRows(v.db, 'SELECT min(tree_size) AS n FROM tree_heads;'), [{ n: 0 }], 'kura init signs the empty tree');
  assert.deepEqual(hx(sqliteRows(v.db, 'SELECT hex(root) AS r FROM tree_heads WHERE tree_size = 0;')[0].r), sha256(Buffer.alloc(0)));
  seen(v.json(['sth']));

  // Hand-made history; expected leaf fields per RECORD@VERSION.
  const want = new Map();
  const write = (args, fields, content) => {
    const f = content === undefined ? [] : [v.file(`c${want.size}.json`, content)];
    const out = v.json([...args, ...f]);
    seen(out.sth);
    // one write, one record leaf, one tree head (audit events of the same
    // transaction may follow the record's leaf)
    assert.ok(out.sth.tree_size >= out.leaf_index + 1, 'the write is under its tree head');
    want.set(`${out.record}@${out.version}`, { leaf_index: out.leaf_index, ...fields });
    return out;
  };
  const base = { type: 'Observation', content_type: 'application/fhir+json', confirmer: '', on_behalf_of: '', reason: '' };
  const A = write(['put', '--patient', 'P1', '--type', 'Observation', '--as', 'dr.a'],
    { ...base, patient_id: 'P1', status: 1, inputter: 'dr.a', version: 1 }, obs({ id: 'a' })).record;
  write(['amend', A, '--reason', 'fix typo', '--as', 'dr.b'],
    { ...base, patient_id: 'P1', status: 1, inputter: 'dr.b', reason: 'fix typo', version: 2 }, obs({ id: 'a2' }));
  write(['confirm', A, '--as', 'dr.c'],
    { ...base, patient_id: 'P1', status: 2, inputter: 'dr.b', confirmer: 'dr.c', version: 3 });
  write(['retract', A, '--reason', 'wrong patient', '--as', 'dr.c'],
    { ...base, patient_id: 'P1', status: 3, inputter: 'dr.c', reason: 'wrong patient', version: 4, content_length: 0n });
  const B = write(['put', '--patient', 'P2', '--type', 'Observation', '--confirm', '--as', 'dr.a'],
    { ...base, patient_id: 'P2', status: 2, inputter: 'dr.a', confirmer: 'dr.a', version: 1 }, obs({ id: 'a' })).record;
  const C = write(['put', '--patient', 'P3', '--type', 'Observation', '--as', 'clerk.1', '--on-behalf-of', 'dr.x'],
    { ...base, patient_id: 'P3', status: 1, inputter: 'clerk.1', on_behalf_of: 'dr.x', version: 1 }, obs({ id: 'c' })).record;
  write(['amend', C, '--confirm', '--reason', '転記ミス', '--as', 'dr.x'],
    { ...base, patient_id: 'P3', status: 2, inputter: 'dr.x', confirmer: 'dr.x', reason: '転記ミス', version: 2 }, obs({ id: 'c2' }));
  const E = write(['put', '--patient', 'P1', '--type', 'Observation', '--as', 'dr.e'],
    { ...base, patient_id: 'P1', status: 1, inputter: 'dr.e', version: 1 }, obs({ id: 'a' })).record;
  write(['put', '--patient', 'P4', '--type', 'text/plain', '--as', 'dr.t'],
    { ...base, patient_id: 'P4', type: 'text/plain', content_type: 'text/plain', status: 1, inputter: 'dr.t', version: 1 },
    'hello, 世界\n');

  // ~300 more in one import transaction (one tree head for all of them).
  const before = heads.at(-1).tree_size;
  const N = 300;
  const lines = Array.from({ length: N }, (_, i) => JSON.stringify({ patient: `P${i % 9 + 1}`, type: 'Observation',
    content: { resourceType: 'Observation', id: `imp${i}`, valueQuantity: { value: i } } }));
  const imp = v.json(['import', v.file('imp.ndjson', lines.join('\n') + '\n'), '--as', 'dr.i']);
  assert.equal(imp.imported, N);
  assert.ok(seen(imp.sth).tree_size >= before + N);
  write(['amend', B, '--reason', 'late correction', '--as', 'dr.b'],
    { ...base, patient_id: 'P2', status: 1, inputter: 'dr.b', reason: 'late correction', version: 2 }, obs({ id: 'b2' }));
  // list and history are audited reads (audit-event leaves, new tree heads):
  // read them first, then fix the tree head every proof below is against
  // (proof needs no operator and records nothing).
  const list = v.json(['list']);
  const hists = new Map(list.map((r) => [r.record, r.version > 1 ? v.json(['history', r.record]) : [r]]));
  const last = seen(v.json(['sth']));
  const size = last.tree_size;
  v.ok(['sth', '-o', join(v.dir, 'sth.json')]);
  assert.deepEqual(JSON.parse(readFileSync(join(v.dir, 'sth.json'), 'utf8')), last, 'kura sth -o == kura sth --json');

  await t.test('tree heads: sizes strictly increase, timestamps never decrease, timestamp text matches', () => {
    for (let i = 1; i < heads.length; i++) {
      assert.ok(heads[i].tree_size >= heads[i - 1].tree_size);
      if (heads[i].tree_size === heads[i - 1].tree_size) assert.deepEqual(heads[i], heads[i - 1]);
      assert.ok(heads[i].timestamp_us >= heads[i - 1].timestamp_us);
    }
    for (const h of heads) assert.equal(h.timestamp, isoUs(h.timestamp_us));
  });

  // Inclusion proofs for every version of every record.
  // Audit events are leaves too (§1b): from the events table, re-encoded here.
  const events = sqliteRows(v.db, `SELECT * FROM events WHERE leaf_index < ${size} ORDER BY leaf_index;`);
  const nver = sqliteRows(v.db, `SELECT count(*) AS n FROM versions WHERE leaf_index < ${size};`)[0].n;
  assert.equal(nver + events.length, size, 'versions + events == tree size');
  assert.equal(list.reduce((s, r) => s + r.version, 0), nver, 'versions in list == versions under the head');
  const leaves = new Array(size);
  const byRecord = new Map(); // record -> [proof summary per version]
  let matched = 0;
  for (const r of list) {
    const hist = hists.get(r.record);
    assert.equal(hist.length, r.version);
    const vs = [];
    for (let ver = 1; ver <= r.version; ver++) {
      const text = v.ok(['proof', `${r.record}@${ver}`]);
      const s = verifyProofFile(text, v.pem);
      assert.equal(s.type, 'inclusion');
      // each proof handed out is an audited export: the head it is checked
      // against grows, and it always extends the head saved above
      assert.ok(s.tree_size > size);
      assert.ok(JSON.parse(text).sth.timestamp_us >= last.timestamp_us);
      const L = s.leaf, h = hist[ver - 1];
      assert.equal(L.record_id, r.record); assert.equal(L.version, ver);
      assert.equal(leaves[s.leaf_index], undefined, 'two versions on one leaf');
      leaves[s.leaf_index] = s.leaf_bytes;
      // what `kura history` shows must be what the signed leaf says
      assert.deepEqual([L.patient_id, L.type, L.content_type, L.status_name, L.inputter, L.confirmer || null,
        L.on_behalf_of || null, L.reason, Number(L.content_length), s.leaf_index, isoUs(L.time)],
      [h.patient, h.type, h.content_type, h.status, h.inputter, h.confirmer, h.on_behalf_of, h.reason, h.size,
        h.leaf_index, h.time], `${r.record}@${ver} vs history`);
      const w = want.get(`${r.record}@${ver}`);
      if (w) {
        for (const [k, val] of Object.entries(w)) assert.deepEqual(L[k] ?? s[k], val, `${r.record}@${ver} ${k}`);
        matched++;
      } else { // imported
        assert.deepEqual([L.inputter, L.status, L.version, L.type, L.confirmer, L.on_behalf_of, L.reason],
          ['dr.i', 1, 1, 'Observation', '', '', '']);
        assert.match(L.patient_id, /^P[1-9]$/);
      }
      vs.push(s);
    }
    byRecord.set(r.record, vs);
    if (r.version > 1 || byRecord.size % 50 === 0) { // RECORD without @V is the latest version
      assert.equal(verifyProofFile(v.ok(['proof', r.record]), v.pem).leaf.version, r.version);
    }
  }
  assert.equal(matched, want.size, 'every hand-made version was found in kura list');
  for (const e of events) {
    assert.equal(leaves[e.leaf_index], undefined, `event ${e.leaf_index} on a version's leaf`);
    leaves[e.leaf_index] = encodeEvent(e);
    const d = decodeLeaf(leaves[e.leaf_index]);
    assert.equal(d.action, e.action);
  }
  assert.ok(events.some((e) => e.action === 'login') && events.some((e) => e.action === 'read' || e.action === 'list'),
    `logins and accesses are events: ${[...new Set(events.map((e) => e.action))]}`);

  await t.test('every leaf is covered, MTH of the leaves equals every signed root', () => {
    for (let i = 0; i < size; i++) assert.ok(leaves[i], `leaf ${i} not in any proof`);
    const lh = leaves.map(leafHash);
    assert.deepEqual(mth(lh), hx(last.root_hash));
    for (const [n, sth] of signed) assert.deepEqual(mth(lh.slice(0, n)), hx(sth.root_hash), `root of size ${n}`);
  });

  await t.test('inclusion paths are exactly the RFC 9162 audit paths', () => {
    // The proofs were made against later heads (each one an audited
    // export): the leaves past `size` are the events recorded since.
    const full = leaves.slice();
    for (const e of sqliteRows(v.db, `SELECT * FROM events WHERE leaf_index >= ${size} ORDER BY leaf_index;`)) {
      full[e.leaf_index] = encodeEvent(e);
    }
    for (const vs of byRecord.values()) {
      for (const s of vs) {
        const lh = full.slice(0, s.tree_size).map(leafHash);
        assert.deepEqual(s.path, refPath(s.leaf_index, lh), `path of leaf ${s.leaf_index}`);
      }
    }
  });

  await t.test('version chains: previous, order, patient/type fixed, nothing after a retraction', () => {
    for (const [rec, vs] of byRecord) {
      vs.forEach((s, i) => {
        const L = s.leaf;
        if (i === 0) assert.deepEqual(L.previous, ZERO32, `${rec}@1 previous`);
        else {
          const p = vs[i - 1];
          assert.deepEqual(L.previous, p.leaf_hash, `${rec}@${i + 1} previous`);
          assert.ok(s.leaf_index > p.leaf_index);
          assert.equal(L.patient_id, p.leaf.patient_id); assert.equal(L.type, p.leaf.type);
          assert.notEqual(p.leaf.status, 3, 'a version after a retraction');
        }
        if (L.status === 3) assert.ok(L.commitment.equals(ZERO32) && L.content_length === 0n);
        else assert.ok(!L.commitment.equals(ZERO32) && L.content_length > 0n);
        assert.ok(L.time <= BigInt(last.timestamp_us));
      });
    }
    // the A chain went 1,2,3,4 as written; a confirm keeps the content
    const a = byRecord.get(A);
    assert.deepEqual(a.map((s) => s.leaf.status), [1, 1, 2, 3]);
    assert.deepEqual(a[2].leaf.commitment, a[1].leaf.commitment);
    assert.equal(a[2].leaf.content_length, a[1].leaf.content_length);
    assert.notDeepEqual(a[1].leaf.commitment, a[0].leaf.commitment);
    // commitment = HMAC(K_commit(patient), H(content)): same patient and
    // content -> same commitment; other patient -> different
    assert.deepEqual(byRecord.get(E)[0].leaf.commitment, a[0].leaf.commitment);
    assert.notDeepEqual(byRecord.get(B)[0].leaf.commitment, a[0].leaf.commitment);
  });

  await t.test('consistency proofs for many (old, new) pairs', () => {
    // (audit events sign heads too: every signed size, not only the ones seen here)
    const signedSizes = new Set(sqliteRows(v.db, 'SELECT tree_size FROM tree_heads;').map((x) => x.tree_size));
    const lh = leaves.map(leafHash);
    const sizes = [...signed.keys()].filter((n) => n > 0).sort((x, y) => x - y);
    const olds = (n) => [...new Set([...sizes, 1, 2, 3, 4, 5, 7, 8, 16, 64, 128, 256, before + 1, before + 150,
      11, 31, 33, 100, 200, 255, 257, 300, n - 1, n].filter((m) => m >= 1 && m <= n))];
    let count = 0;
    for (const n of sizes) {
      for (const m of olds(n)) {
        const args = ['proof', '--consistency', `${m}`, `${n}`];
        const s = verifyProofFile(v.ok(args), v.pem);
        assert.equal(s.type, 'consistency'); assert.equal(s.old_size, m); assert.equal(s.tree_size, n);
        assert.deepEqual(s.old_root, mth(lh.slice(0, m)), `old_root ${m}`);
        assert.deepEqual(s.path, refProof(m, lh.slice(0, n)), `path ${m}->${n}`);
        assert.equal(s.old_sth !== null, signedSizes.has(m), `old_sth present iff size ${m} was signed`);
        if (m === n) assert.equal(s.path.length, 0);
        count++;
      }
    }
    assert.ok(count >= 80, `${count} pairs`);
    // NEW defaults to the latest head, which has grown past `size`: every
    // proof handed out above is an audited export
    const latest = verifyProofFile(v.ok(['proof', '--consistency', `${size}`]), v.pem);
    assert.ok(latest.tree_size > size);
    const beyond = v.json(['sth']).tree_size + 1000;
    for (const bad of [['0'], ['0', `${size}`], [`${size}`, '1'], ['1', `${beyond}`], [`${beyond}`]]) {
      assert.notEqual(v.run(['proof', '--consistency', ...bad]).status, 0, `--consistency ${bad.join(' ')}`);
    }
    // NEW that was never signed: an error, or else a proof that verifies
    const r = v.run(['proof', '--consistency', '1', `${before + 150}`]);
    if (r.status === 0) assert.equal(verifyProofFile(r.stdout, v.pem).tree_size, before + 150);
  });

  // Tampering: every mutation must be rejected by both verifiers.
  const both = (name, obj, expectOk) => {
    const text = typeof obj === 'string' ? obj : JSON.stringify(obj);
    let mine = null;
    try { verifyProofFile(text, v.pem); } catch (e) { mine = e; }
    const r = v.run(['verify-proof', v.file('tampered.json', text), '--pubkey', v.pemFile]);
    if (expectOk) {
      assert.equal(mine, null, `${name}: our verifier rejected: ${mine?.message}`);
      assert.equal(r.status, 0, `${name}: kura verify-proof exited ${r.status}: ${r.stderr}`);
    } else {
      assert.ok(mine, `${name}: our verifier accepted`);
      assert.notEqual(r.status, 0, `${name}: kura verify-proof accepted`);
    }
  };
  const reorder = (o) => (Array.isArray(o) ? o.map(reorder) : o && typeof o === 'object'
    ? Object.fromEntries(Object.entries(o).reverse().map(([k, x]) => [k, reorder(x)])) : o);
  const flipHex = (s, i = 0) => s.slice(0, i) + ((parseInt(s[i], 16) ^ 1).toString(16)) + s.slice(i + 1);
  const mutate = (p, f) => { const c = structuredClone(p); f(c); return c; };

  await t.test('tampered inclusion proofs are rejected by both verifiers', () => {
    v.ok(['proof', `${A}@2`, '-o', join(v.dir, 'a2.json')]);
    const incl = JSON.parse(readFileSync(join(v.dir, 'a2.json'), 'utf8'));
    const other = JSON.parse(v.ok(['proof', `${A}@3`]));
    assert.ok(incl.path.length >= 3);
    both('original', incl, true);
    both('original, pretty-printed', JSON.stringify(incl, null, 2), true);
    both('keys reordered', reorder(incl), true);
    both('unknown keys', mutate(incl, (p) => { p.note = 'x'; p.sth.note = { a: 1 }; }), true);
    const m = {
      'leaf of another version': (p) => { p.leaf = other.leaf; },
      'path of another version': (p) => { p.path = other.path; },
      'path dropped last': (p) => { p.path.pop(); },
      'path extra hash': (p) => { p.path.push(p.sth.root_hash); },
      'path extra hash in front': (p) => { p.path.unshift(p.path[0]); },
      'path swapped': (p) => { [p.path[0], p.path[1]] = [p.path[1], p.path[0]]; },
      'path empty': (p) => { p.path = []; },
      'path short hash': (p) => { p.path[0] = p.path[0].slice(2); },
      'leaf truncated': (p) => { p.leaf = p.leaf.slice(0, -2); },
      'leaf extra byte': (p) => { p.leaf += '00'; },
      'leaf missing': (p) => { delete p.leaf; },
      'leaf_index + 1': (p) => { p.leaf_index += 1; },
      'leaf_index - 1': (p) => { p.leaf_index -= 1; },
      'leaf_index = tree_size': (p) => { p.leaf_index = p.tree_size; },
      'leaf_index negative': (p) => { p.leaf_index = -1; },
      'leaf_index string': (p) => { p.leaf_index = String(p.leaf_index); },
      'tree_size + 1': (p) => { p.tree_size += 1; },
      'tree_size - 1': (p) => { p.tree_size -= 1; },
      'sth.tree_size + 1': (p) => { p.sth.tree_size += 1; },
      'both tree sizes + 1': (p) => { p.tree_size += 1; p.sth.tree_size += 1; },
      'sth.signature': (p) => { p.sth.signature = flipHex(p.sth.signature, 127); },
      'sth.signature zero': (p) => { p.sth.signature = '0'.repeat(128); },
      'sth.root_hash': (p) => { p.sth.root_hash = flipHex(p.sth.root_hash); },
      'sth.timestamp_us + 1': (p) => { p.sth.timestamp_us += 1; },
      'sth.log_id': (p) => { p.sth.log_id = flipHex(p.sth.log_id); },
      'sth.kura_sth 2': (p) => { p.sth.kura_sth = 2; },
      'sth missing': (p) => { delete p.sth; },
      'sth of an older tree (the first head seen)': (p) => { p.sth = heads[0]; },
      'kura_proof 2': (p) => { p.kura_proof = 2; },
      'type consistency': (p) => { p.type = 'consistency'; },
      'type unknown': (p) => { p.type = 'audit'; },
    };
    for (let i = 0; i < incl.path.length; i++) m[`path[${i}] bit`] = (p) => { p.path[i] = flipHex(p.path[i], 5); };
    // one bit in every field of the leaf: type, format, record id, version, patient, ..., previous
    const L = hx(incl.leaf);
    for (const off of [0, 1, 2, 10, 40, 41, 44, 45, L.length - 70, L.length - 40, L.length - 1]) {
      m[`leaf byte ${off}`] = (p) => { p.leaf = flip(L, off, 1).toString('hex'); };
    }
    for (const [name, f] of Object.entries(m)) both(name, mutate(incl, f), false);
    both('not JSON', JSON.stringify(incl).slice(0, -1), false);
    both('array', '[]', false);
  });

  await t.test('tampered consistency proofs are rejected by both verifiers', () => {
    const n = [...signed.keys()].filter((k) => k > 2 && (k & (k - 1)) !== 0 && k < size)[0];
    const cons = JSON.parse(v.ok(['proof', '--consistency', `${n}`]));
    assert.ok(cons.old_sth && cons.path.length >= 2, `consistency ${n} -> ${size}`);
    both('original', cons, true);
    both('keys reordered', reorder(cons), true);
    both('without old_sth', mutate(cons, (p) => { delete p.old_sth; }), true);
    const p2 = JSON.parse(v.ok(['proof', '--consistency', '8']));
    both('power-of-two old size', p2, true);
    const m = {
      'path dropped last': (p) => { p.path.pop(); },
      'path extra hash': (p) => { p.path.push(p.old_root); },
      'path empty': (p) => { p.path = []; },
      'path of 8 -> new': (p) => { p.path = p2.path; },
      'old_size + 1': (p) => { p.old_size += 1; },
      'old_size - 1': (p) => { p.old_size -= 1; },
      'old_size 0': (p) => { p.old_size = 0; },
      'old_size > tree_size': (p) => { p.old_size = p.tree_size + 1; },
      'old_root': (p) => { p.old_root = flipHex(p.old_root); },
      'old_root = new root': (p) => { p.old_root = p.sth.root_hash; },
      'tree_size + 1': (p) => { p.tree_size += 1; },
      'sth.tree_size - 1': (p) => { p.sth.tree_size -= 1; },
      'sth.signature': (p) => { p.sth.signature = flipHex(p.sth.signature, 64); },
      'sth.root_hash': (p) => { p.sth.root_hash = flipHex(p.sth.root_hash); },
      'old_sth.signature': (p) => { p.old_sth.signature = flipHex(p.old_sth.signature, 1); },
      'old_sth.root_hash': (p) => { p.old_sth.root_hash = flipHex(p.old_sth.root_hash); },
      'old_sth of another size': (p) => { p.old_sth = p2.old_sth; },
      'old_sth = sth': (p) => { p.old_sth = p.sth; },
      'roots swapped': (p) => { [p.old_root, p.sth.root_hash] = [p.sth.root_hash, p.old_root]; },
    };
    for (let i = 0; i < cons.path.length; i++) m[`path[${i}] bit`] = (p) => { p.path[i] = flipHex(p.path[i], 9); };
    for (const [name, f] of Object.entries(m)) both(name, mutate(cons, f), false);
    const same = JSON.parse(v.ok(['proof', '--consistency', `${size}`, `${size}`]));
    both('old == new', same, true);
    both('old == new with a path', mutate(same, (p) => { p.path = [p.old_root]; }), false);
    both('old == new, old_root changed', mutate(same, (p) => { p.old_root = flipHex(p.old_root); delete p.old_sth; }), false);
  });

  await t.test('a proof does not verify under another vault\'s key', (tt) => {
    const w = vault(tt);
    const otherPem = w.pem;
    const text = v.ok(['proof', `${A}@1`]);
    assert.throws(() => verifyProofFile(text, otherPem), /log_id/);
    assert.notEqual(v.run(['verify-proof', v.file('p.json', text), '--pubkey', w.pemFile]).status, 0);
  });

  await t.test('hex is written lowercase and read in either case (ledger.md conventions)', () => {
    const text = v.ok(['proof', `${A}@2`]);
    assert.ok(!/[A-F]/.test(text.replace(/"[a-z_]+":/g, '')), 'kura writes lowercase hex');
    const incl = JSON.parse(text);
    both('upper-case path', mutate(incl, (p) => { p.path[0] = p.path[0].toUpperCase(); }), true);
    both('upper-case leaf', mutate(incl, (p) => { p.leaf = p.leaf.toUpperCase(); }), true);
    both('upper-case sth.signature', mutate(incl, (p) => { p.sth.signature = p.sth.signature.toUpperCase(); }), true);
  });

  assert.equal(v.run(['verify']).status, 0, 'kura verify');
});

test('e2e: field limits of §1 at the boundary, and one past it', (t) => {
  const v = vault(t);
  const c = v.file('o.json', obs());
  const put = (over) => v.run(['--json', 'put',
    ...Object.entries({ '--patient': 'P1', '--type': 'Observation', '--as': 'dr.a', ...over }).flat(), c]);
  const accepted = [
    { '--patient': 'p'.repeat(64) }, { '--as': 'u'.repeat(64) }, { '--on-behalf-of': 'o'.repeat(64) },
    { '--reason': 'r'.repeat(4096) }, { '--reason': '入'.repeat(1365) + 'r' }, // 4096 bytes of UTF-8
    { '--type': 'text/' + 'x'.repeat(122), '--content-type': 'text/' + 'y'.repeat(122) }, // 127 bytes each
  ];
  for (const over of accepted) {
    const r = put(over);
    assert.equal(r.status, 0, `${Object.keys(over)}: ${r.stderr}`);
    const out = JSON.parse(r.stdout);
    const L = verifyProofFile(v.ok(['proof', `${out.record}@1`]), v.pem).leaf;
    const got = { '--patient': L.patient_id, '--as': L.inputter, '--on-behalf-of': L.on_behalf_of,
      '--reason': L.reason, '--type': L.type, '--content-type': L.content_type };
    for (const [k, val] of Object.entries(over)) assert.equal(got[k], val, k);
  }
  const size = v.json(['sth']).tree_size;
  const rejected = [
    { '--patient': 'p'.repeat(65) }, { '--patient': 'P 1' },
    { '--on-behalf-of': 'o'.repeat(65) }, { '--reason': 'r'.repeat(4097) },
    { '--reason': '入'.repeat(1366) }, // 4098 bytes
    { '--type': 'text/' + 'x'.repeat(123) }, { '--content-type': 'text/' + 'y'.repeat(123) },
  ];
  // An inputter id over the limit cannot exist: such an account is refused.
  for (const id of ['u'.repeat(65), '入'.repeat(22)]) {
    const pw = v.file('pw', 'Kq7%aaaaBBBBcccc\n');
    assert.notEqual(v.run(['user', 'add', id, '--role', 'doctor', '--department', 'internal', '--password-file', pw]).status, 0,
      `an account id of ${id.length} chars`);
  }
  const versions = () => sqliteRows(v.db, 'SELECT count(*) AS n FROM versions;')[0].n;
  const nversions = versions();
  for (const over of rejected) {
    assert.notEqual(put(over).status, 0, `${Object.keys(over)} of ${Object.values(over)[0].length} chars`);
  }
  assert.ok(v.json(['sth']).tree_size >= size);
  assert.equal(versions(), nversions, 'a rejected write adds no version (only audit events)');
});

test('e2e: import signs one tree head per 1,000 records', (t) => {
  const v = vault(t);
  const lines = Array.from({ length: 1001 }, (_, i) => JSON.stringify({ patient: `P${i % 7}`, type: 'Observation',
    content: { resourceType: 'Observation', id: `o${i}` } }));
  v.user('dr.i');
  const before = v.json(['sth']).tree_size;
  const out = v.json(['import', v.file('imp.ndjson', lines.join('\n')), '--as', 'dr.i']);
  assert.equal(out.imported, 1001);
  assert.ok(verifySth(out.sth, v.pem).tree_size >= BigInt(before + 1001));
  // The records' leaves: the first transaction ends after the 1,000th record.
  const idx = sqliteRows(v.db, 'SELECT leaf_index FROM versions ORDER BY leaf_index;').map((r) => r.leaf_index);
  assert.equal(idx.length, 1001);
  const heads = sqliteRows(v.db, `SELECT tree_size FROM tree_heads WHERE tree_size > ${before} ORDER BY tree_size;`)
    .map((r) => r.tree_size);
  const first = heads.find((n) => n > idx[999]);
  assert.ok(first !== undefined && first <= idx[1000], `a tree head between the 1,000th and the 1,001st record: ${heads}`);
  const c1000 = verifyProofFile(v.ok(['proof', '--consistency', `${first}`, `${out.sth.tree_size}`]), v.pem);
  assert.ok(c1000.old_sth, 'the first transaction of 1,000 records has a signed tree head');
  assert.ok(c1000.old_sth.timestamp_us <= c1000.sth.timestamp_us);
  const s1000 = verifyProofFile(v.ok(['proof', '--consistency', '1', `${first}`]), v.pem);
  assert.deepEqual(s1000.sth.root_hash, c1000.old_root);
  assert.ok(!heads.includes(idx[999]), 'no tree head was signed inside the first transaction');
  assert.notEqual(v.run(['proof', '--consistency', '1', `${idx[999]}`]).status, 0, 'no tree head was signed inside the first transaction');
});
