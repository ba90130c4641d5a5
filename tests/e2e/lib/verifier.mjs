// Independent verifier for kura's ledger, written from docs/formats/ledger.md
// alone (not from kura's C sources).  Node 20, node: built-ins only.
//
// Conventions (ledger.md, top): integers are unsigned big-endian; opaque1 and
// opaque2 are u8/u16 length-prefixed; H = SHA-256; hex is written lowercase, read in either case.
import { createHash, createPublicKey, verify as edVerify } from 'node:crypto';

const H = (...parts) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
const ZERO32 = Buffer.alloc(32);

// ---------------------------------------------------------------- §1 leaves

const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
const PATIENT = /^[A-Za-z0-9._-]{1,64}$/;
const STATUS = { 1: 'draft', 2: 'confirmed', 3: 'entered-in-error' };
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decode a leaf (§1).  Throws an Error naming the first rule it breaks. */
export function decodeLeaf(buf) {
  buf = Buffer.from(buf);
  let off = 0;
  const need = (n, what) => {
    if (off + n > buf.length) throw new Error(`leaf: truncated in ${what}`);
  };
  const u8 = (what) => { need(1, what); return buf[off++]; };
  const u16 = (what) => { need(2, what); const v = buf.readUInt16BE(off); off += 2; return v; };
  const u32 = (what) => { need(4, what); const v = buf.readUInt32BE(off); off += 4; return v; };
  const u64 = (what) => { need(8, what); const v = buf.readBigUInt64BE(off); off += 8; return v; };
  const bytes = (n, what) => { need(n, what); const v = buf.subarray(off, off + n); off += n; return v; };
  const str = (lenBytes, min, max, what) => {
    const n = lenBytes === 1 ? u8(what) : u16(what);
    if (n < min || n > max) throw new Error(`leaf: ${what} length ${n} outside ${min}..${max}`);
    const b = bytes(n, what);
    if (b.includes(0)) throw new Error(`leaf: NUL byte inside ${what}`);
    try { return utf8.decode(b); } catch { throw new Error(`leaf: ${what} is not UTF-8`); }
  };

  // §1b: an audit event (leaf_type 0x02), encoded as src/ledger/event.c
  // kura_event_encode writes it.
  const decodeEvent = () => {
    const format = u8('format');
    if (format !== 0x01) throw new Error(`leaf: unknown event format ${format}`);
    const time = BigInt.asIntN(64, u64('time'));
    const utc_offset_min = (u16('utc_offset') << 16) >> 16; // i16
    const clock = u8('clock');
    const severity = u8('severity');
    const outcome = u8('outcome');
    const f = {};
    for (const [name, max, req] of [['action', 32, 1], ['actor', 64, 0], ['role', 32, 0],
      ['terminal', 255, 0], ['client_ip', 64, 0], ['cert_fp', 64, 0], ['patient_id', 64, 0],
      ['record_id', 64, 0]]) f[name] = str(1, req, max, name);
    const version = u32('version');
    for (const [name, max] of [['query', 1024], ['reason', 4096], ['detail', 1024]]) f[name] = str(2, 0, max, name);
    if (off !== buf.length) throw new Error(`leaf: ${buf.length - off} trailing bytes`);
    if (![0, 4, 8, 12].includes(outcome)) throw new Error(`leaf: event outcome ${outcome}`);
    if (![1, 4, 5, 6].includes(severity)) throw new Error(`leaf: event severity ${severity}`);
    if (clock > 2) throw new Error(`leaf: event clock ${clock}`);
    if (utc_offset_min < -1440 || utc_offset_min > 1440) throw new Error(`leaf: utc_offset ${utc_offset_min}`);
    return { leaf_type: 0x02, format, time, utc_offset_min, clock, severity, outcome, ...f, version };
  };

  const leaf_type = u8('leaf_type');
  if (leaf_type === 0x02) return decodeEvent();
  if (leaf_type !== 0x01) throw new Error(`leaf: unknown leaf_type ${leaf_type}`);
  const format = u8('format');
  if (format !== 0x01) throw new Error(`leaf: unknown format ${format}`);
  const record_id = str(1, 1, 64, 'record_id');
  const version = u32('version');
  if (version === 0) throw new Error('leaf: version 0');
  const patient_id = str(1, 1, 64, 'patient_id');
  const type = str(1, 1, 127, 'type');
  const content_type = str(1, 0, 127, 'content_type');
  const status = u8('status');
  if (!(status in STATUS)) throw new Error(`leaf: status ${status} outside 1..3`);
  const inputter = str(1, 1, 64, 'inputter');
  const confirmer = str(1, 0, 64, 'confirmer');
  const on_behalf_of = str(1, 0, 64, 'on_behalf_of');
  const time = BigInt.asIntN(64, u64('time')); // two's complement if negative
  const reason = str(2, 0, 4096, 'reason');
  const content_length = u64('content_length');
  const commitment = Buffer.from(bytes(32, 'commitment'));
  const previous = Buffer.from(bytes(32, 'previous'));
  if (off !== buf.length) throw new Error(`leaf: ${buf.length - off} trailing bytes`);

  // Per-field rules stated in the table's "meaning" column.
  if (!UUID_TEXT.test(record_id)) throw new Error(`leaf: record_id ${JSON.stringify(record_id)} is not a UUIDv7`);
  if (!PATIENT.test(patient_id)) throw new Error(`leaf: patient_id ${JSON.stringify(patient_id)} not [A-Za-z0-9._-]{1,64}`);
  if (status !== 2 && confirmer !== '') throw new Error('leaf: confirmer set but status is not confirmed');
  if (status === 3 && content_length !== 0n) throw new Error('leaf: retraction with content_length != 0');
  if (status === 3 && !commitment.equals(ZERO32)) throw new Error('leaf: retraction with non-zero commitment');
  if (version === 1 && !previous.equals(ZERO32)) throw new Error('leaf: version 1 with non-zero previous');

  return {
    leaf_type, format, record_id, version, patient_id, type, content_type,
    status, status_name: STATUS[status], inputter, confirmer, on_behalf_of,
    time, reason, content_length, commitment, previous,
  };
}

// --------------------------------------------------------- §2 tree hashing

export const leafHash = (leaf) => H(Buffer.of(0x00), Buffer.from(leaf));
export const nodeHash = (l, r) => H(Buffer.of(0x01), l, r);

/** Reference MTH over leaf *hashes* (RFC 9162 §2.1.1). */
export function mth(leafHashes) {
  const n = leafHashes.length;
  if (n === 0) return H(Buffer.alloc(0));
  if (n === 1) return Buffer.from(leafHashes[0]);
  let k = 1;
  while (k * 2 < n) k *= 2;
  return nodeHash(mth(leafHashes.slice(0, k)), mth(leafHashes.slice(k)));
}

const eq32 = (a, b) => Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.length === 32 && a.equals(b);
const lsb = (x) => (x & 1n) === 1n;

/** RFC 9162 §2.1.3.2, as written in ledger.md §4.1.  Returns a boolean. */
export function verifyInclusion(index, size, leafHashValue, path, root) {
  let fn = BigInt(index);
  let sn = BigInt(size) - 1n;
  if (fn < 0n || fn > sn) return false;
  let r = Buffer.from(leafHashValue);
  if (r.length !== 32) return false;
  for (const p of path) {
    if (p.length !== 32 || sn === 0n) return false;
    if (lsb(fn) || fn === sn) {
      r = nodeHash(p, r);
      if (!lsb(fn)) {
        do { fn >>= 1n; sn >>= 1n; } while (!lsb(fn) && fn !== 0n);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1n; sn >>= 1n;
  }
  return sn === 0n && eq32(r, root);
}

/** RFC 9162 §2.1.4.2, as written in ledger.md §4.2.  Returns a boolean. */
export function verifyConsistency(first, second, firstHash, secondHash, path) {
  first = BigInt(first); second = BigInt(second);
  if (first <= 0n || first > second) return false;
  if (path.some((c) => c.length !== 32)) return false;
  if (first === second) return path.length === 0 && eq32(firstHash, secondHash);
  if (path.length === 0) return false;
  if ((first & (first - 1n)) === 0n) path = [firstHash, ...path];
  let fn = first - 1n;
  let sn = second - 1n;
  if (lsb(fn)) {
    do { fn >>= 1n; sn >>= 1n; } while (lsb(fn));
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) return false;
    if (lsb(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (!lsb(fn)) {
        do { fn >>= 1n; sn >>= 1n; } while (!lsb(fn) && fn !== 0n);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn >>= 1n; sn >>= 1n;
  }
  return eq32(fr, firstHash) && eq32(sr, secondHash) && sn === 0n;
}

// ------------------------------------------------------------ §3 tree heads

const isObj = (o) => o !== null && typeof o === 'object' && !Array.isArray(o);

/** Lowercase hex of exactly `bytes` bytes -> Buffer; throws otherwise. */
export function hexField(v, bytes, what) {
  if (typeof v !== 'string' || v.length !== 2 * bytes || !/^[0-9a-fA-F]*$/.test(v)) {
    throw new Error(`${what}: expected ${2 * bytes} hex digits`);
  }
  return Buffer.from(v, 'hex');
}

function u64Field(v, what) {
  // JSON numbers are doubles: only integers up to 2^53-1 are exact.
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${what}: not a non-negative integer`);
  return BigInt(v);
}

/** Validate the JSON form of a tree head (§3); unknown keys are ignored. */
export function parseSth(obj) {
  if (!isObj(obj)) throw new Error('sth: not an object');
  if (obj.kura_sth !== 1) throw new Error('sth: kura_sth is not 1');
  return {
    log_id: hexField(obj.log_id, 32, 'sth.log_id'),
    tree_size: u64Field(obj.tree_size, 'sth.tree_size'),
    timestamp_us: u64Field(obj.timestamp_us, 'sth.timestamp_us'),
    root_hash: hexField(obj.root_hash, 32, 'sth.root_hash'),
    signature: hexField(obj.signature, 64, 'sth.signature'),
  };
}

const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');

/** The raw 32-byte Ed25519 key inside a PEM SubjectPublicKeyInfo (§3). */
export function rawPublicKey(publicKeyPem) {
  const der = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  if (der.length !== 44 || !der.subarray(0, 12).equals(SPKI_ED25519)) {
    throw new Error('public key: not an Ed25519 SubjectPublicKeyInfo');
  }
  return der.subarray(12);
}

/** The exact 91 signed bytes of a parsed tree head. */
export function sthMessage(sth) {
  const m = Buffer.alloc(91);
  m.write('kura.sth.v1', 0, 'ascii');
  sth.log_id.copy(m, 11);
  m.writeBigUInt64BE(sth.tree_size, 43);
  m.writeBigUInt64BE(sth.timestamp_us, 51);
  sth.root_hash.copy(m, 59);
  return m;
}

/** Check a tree head (parsed or JSON object); throws, returns the parsed STH. */
export function verifySth(sth, publicKeyPem) {
  if (!Buffer.isBuffer(sth.log_id)) sth = parseSth(sth);
  const raw = rawPublicKey(publicKeyPem);
  if (!sth.log_id.equals(H(raw))) throw new Error('sth: log_id is not H(public key)');
  if (!edVerify(null, sthMessage(sth), createPublicKey(publicKeyPem), sth.signature)) {
    throw new Error('sth: bad signature');
  }
  return sth;
}

// ------------------------------------------------------------ §4 proof files

function pathField(v) {
  if (!Array.isArray(v)) throw new Error('proof: path is not an array');
  return v.map((h, i) => hexField(h, 32, `proof.path[${i}]`));
}

/** Verify a proof file (§4).  Returns a summary; throws an Error naming what failed. */
export function verifyProofFile(jsonText, publicKeyPem) {
  let p;
  try { p = JSON.parse(jsonText); } catch (e) { throw new Error(`proof: not JSON (${e.message})`); }
  if (!isObj(p)) throw new Error('proof: not an object');
  if (p.kura_proof !== 1) throw new Error('proof: kura_proof is not 1');
  const size = u64Field(p.tree_size, 'proof.tree_size');
  const sth = verifySth(parseSth(p.sth), publicKeyPem);
  if (sth.tree_size !== size) throw new Error('proof: sth.tree_size != tree_size');
  const path = pathField(p.path);

  if (p.type === 'inclusion') {
    const index = u64Field(p.leaf_index, 'proof.leaf_index');
    if (typeof p.leaf !== 'string' || p.leaf.length % 2 || !/^[0-9a-fA-F]*$/.test(p.leaf)) {
      throw new Error('proof: leaf is not lowercase hex');
    }
    const leafBytes = Buffer.from(p.leaf, 'hex');
    const leaf = decodeLeaf(leafBytes);
    if (index >= size) throw new Error('proof: leaf_index >= tree_size');
    if (!verifyInclusion(index, size, leafHash(leafBytes), path, sth.root_hash)) {
      throw new Error('proof: inclusion path does not lead to sth.root_hash');
    }
    return { type: 'inclusion', leaf_index: Number(index), tree_size: Number(size),
      leaf, leaf_bytes: leafBytes, leaf_hash: leafHash(leafBytes), path, sth };
  }

  if (p.type === 'consistency') {
    const oldSize = u64Field(p.old_size, 'proof.old_size');
    if (oldSize < 1n) throw new Error('proof: old_size must be at least 1');
    if (oldSize > size) throw new Error('proof: old_size > tree_size');
    const oldRoot = hexField(p.old_root, 32, 'proof.old_root');
    if (!verifyConsistency(oldSize, size, oldRoot, sth.root_hash, path)) {
      throw new Error('proof: consistency path does not link old_root to sth.root_hash');
    }
    let oldSth = null;
    if (p.old_sth !== undefined) {
      oldSth = verifySth(parseSth(p.old_sth), publicKeyPem);
      if (oldSth.tree_size !== oldSize) throw new Error('proof: old_sth.tree_size != old_size');
      if (!oldSth.root_hash.equals(oldRoot)) throw new Error('proof: old_sth.root_hash != old_root');
      if (oldSth.timestamp_us > sth.timestamp_us) throw new Error('proof: old_sth is newer than sth');
    }
    return { type: 'consistency', old_size: Number(oldSize), tree_size: Number(size),
      old_root: oldRoot, path, sth, old_sth: oldSth };
  }

  throw new Error(`proof: unknown type ${JSON.stringify(p.type)}`);
}
