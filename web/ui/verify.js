// verify.js - the browser checks a version's place in the ledger itself
// (docs/UI.md "How verification works"; docs/formats/ledger.md §1, §3, §4.1):
// the tree head's Ed25519 signature with WebCrypto against the vault's
// public key, the log id = SHA-256(public key), the leaf's structure and
// the RFC 9162 inclusion path from SHA-256(0x00 || leaf) up to the signed
// root.  Nothing here trusts a "verified" said by the server.
import { hex, unhex } from './dom.js';

const enc = new TextEncoder();
const sha256 = async (bytes) => new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
};
const eq = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

export const leafHash = (leaf) => sha256(concat(Uint8Array.of(0), leaf));
const nodeHash = (l, r) => sha256(concat(Uint8Array.of(1), l, r));

function u64(n) {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n));
  return b;
}

// The PEM SubjectPublicKeyInfo of an Ed25519 key → {key (CryptoKey), raw (32 bytes)}.
export async function importPubkey(pem) {
  const b64 = pem.replace(/-----(BEGIN|END) PUBLIC KEY-----/g, '').replace(/\s+/g, '');
  const der = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  if (der.length !== 44) throw new Error('not an Ed25519 public key');
  const key = await crypto.subtle.importKey('spki', der, { name: 'Ed25519' }, false, ['verify']);
  return { key, raw: der.slice(12) };
}

// The 91 signed bytes of a tree head (ledger.md §3).
function signedBytes(sth) {
  return concat(enc.encode('kura.sth.v1'), unhex(sth.log_id), u64(sth.tree_size),
    u64(sth.timestamp_us), unhex(sth.root_hash));
}

// Checks the tree head against pub; throws with the reason when it fails.
export async function verifySth(sth, pub) {
  if (!sth || sth.kura_sth !== 1) throw new Error('not a tree head');
  if (!eq(unhex(sth.log_id), await sha256(pub.raw))) throw new Error('log id is not this key');
  const ok = await crypto.subtle.verify({ name: 'Ed25519' }, pub.key, unhex(sth.signature), signedBytes(sth));
  if (!ok) throw new Error('tree head signature does not verify');
  return true;
}

// A record-version leaf (ledger.md §1) → its fields; throws on any
// structural violation (trailing bytes, lengths, status, NUL).
export function decodeLeaf(bytes) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 0;
  const need = (n) => { if (o + n > bytes.length) throw new Error('leaf too short'); };
  const u8 = () => { need(1); return bytes[o++]; };
  const u32 = () => { need(4); const v = dv.getUint32(o); o += 4; return v; };
  const u64v = () => { need(8); const v = dv.getBigUint64(o); o += 8; return v; };
  const str = (lenBytes, min, max) => {
    const n = lenBytes === 1 ? u8() : (need(2), o += 2, dv.getUint16(o - 2));
    if (n < min || n > max) throw new Error('leaf field length out of range');
    need(n);
    const s = bytes.subarray(o, o + n);
    o += n;
    if (s.includes(0)) throw new Error('NUL in leaf field');
    return new TextDecoder('utf-8', { fatal: true }).decode(s);
  };
  const raw = (n) => { need(n); const s = bytes.slice(o, o + n); o += n; return s; };
  if (u8() !== 1) throw new Error('not a record-version leaf');
  if (u8() !== 1) throw new Error('unknown leaf format');
  const leaf = {
    record: str(1, 1, 64), version: u32(), patient: str(1, 1, 64), type: str(1, 1, 127),
    content_type: str(1, 0, 127), status: u8(), inputter: str(1, 1, 64), confirmer: str(1, 0, 64),
    on_behalf_of: str(1, 0, 64), time_us: u64v(), reason: str(2, 0, 4096),
    content_length: u64v(), commitment: hex(raw(32)), previous: hex(raw(32)),
  };
  if (o !== bytes.length) throw new Error('trailing bytes after the leaf');
  if (leaf.version < 1 || leaf.status < 1 || leaf.status > 3) throw new Error('bad version or status');
  return leaf;
}

// RFC 9162 §2.1.3.2: the root the path leads to from leaf index i of size n.
async function rootFromPath(lh, index, size, path) {
  if (index >= size) throw new Error('leaf index beyond the tree');
  let fn = BigInt(index);
  let sn = BigInt(size) - 1n;
  let r = lh;
  for (const p of path.map(unhex)) {
    if (sn === 0n) throw new Error('inclusion path too long');
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      if ((fn & 1n) === 0n) while (!((fn & 1n) === 1n || fn === 0n)) { fn >>= 1n; sn >>= 1n; }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n; sn >>= 1n;
  }
  if (sn !== 0n) throw new Error('inclusion path too short');
  return r;
}

// Checks an inclusion proof (ledger.md §4.1) for record rid version ver
// with the PEM key → {leaf, leafHash, sth}; throws with the reason.
export async function verifyInclusion(proof, pem, rid, ver) {
  if (!proof || proof.kura_proof !== 1 || proof.type !== 'inclusion') throw new Error('not an inclusion proof');
  if (proof.sth.tree_size !== proof.tree_size) throw new Error('tree sizes differ');
  const pub = await importPubkey(pem);
  await verifySth(proof.sth, pub);
  const bytes = unhex(proof.leaf);
  const leaf = decodeLeaf(bytes);
  if (leaf.record !== rid || (ver && leaf.version !== Number(ver))) throw new Error('the proof is about another version');
  const lh = await leafHash(bytes);
  const root = await rootFromPath(lh, proof.leaf_index, proof.tree_size, proof.path || []);
  if (!eq(root, unhex(proof.sth.root_hash))) throw new Error('the path does not lead to the signed root');
  return { leaf, leafHash: hex(lh), sth: proof.sth, logId: proof.sth.log_id };
}

export async function sha256Hex(bytes) { return hex(await sha256(bytes)); }
