// Tampering with the vault file is found by `kura verify`, which names the
// place (REQUIREMENTS LG-02, AUTH-03, AUTH-04; docs/formats/ledger.md §5).
// Each case edits a fresh copy of one populated vault with the sqlite3 tool,
// the way someone with file access would: drop the append-only triggers, edit.
// Run: node --test tests/e2e/tamper.test.mjs (build first: ninja -C build).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  EXIT, dropTriggers, makeVault, sqlite, sqliteRows, withVault,
} from './lib/kura.mjs';

let V; // the populated vault
let SAVED; // kura sth -o after the last write
let OLDER; // a copy of the vault directory taken before the last writes
let ROWS; // every version row (no sealed), by leaf_index
let HEADS; // tree head sizes
const CONTENT = new Map(); // "record@version" → content, for the rebuild case
let copies = 0;

before(() => {
  V = makeVault();
  const recs = [];
  // 10 records in one import batch (one tree head for all of them) ...
  const nd = [];
  for (let i = 0; i < 10; i++) {
    nd.push(JSON.stringify({ patient: `pt-${i % 4}`, type: 'Observation',
      content: { resourceType: 'Observation', status: 'final', valueString: `batch ${i}` } }));
  }
  const ndFile = join(V.dir, 'batch.ndjson');
  writeFileSync(ndFile, nd.join('\n') + '\n');
  const imp = V.run(['import', ndFile], { as: 'importer' });
  assert.equal(imp.status, 0, imp.stderr);
  for (const x of V.json(['list'])) recs.push(x.record);
  // ... and 20 one by one, some by proxy, some in Japanese.
  for (let i = 0; i < 20; i++) {
    const extra = i % 5 === 0 ? ['--on-behalf-of', 'dr.kato'] : [];
    recs.push(V.put(`経過記録 ${i}: ${randomBytes(12).toString('hex')}\n`,
      { patient: `pt-${i % 4}`, as: i % 3 ? 'ns.suzuki' : 'dr.sato', extra }));
  }
  // Several versions each: amends, confirmations.
  for (let i = 0; i < recs.length; i++) {
    const rec = recs[i];
    const isObs = i < 10;
    const n = 1 + (i % 3);
    for (let k = 0; k < n; k++) {
      const body = isObs
        ? `{"resourceType":"Observation","status":"amended","valueString":"${i}.${k}"}`
        : `訂正 ${i}.${k}\n`;
      const proxy = i % 5 === 0 && i >= 10 ? ['--on-behalf-of', 'dr.kato'] : [];
      V.amend(rec, body, { reason: `correction ${k}`, as: proxy.length ? 'clerk.ito' : 'dr.sato', extra: proxy });
    }
    // AUTH-06: a proxy draft is confirmed by the person it was entered for.
    const confirmer = i % 5 === 0 && i >= 10 ? 'dr.kato' : 'dr.tanaka';
    if (i % 2 === 0) assert.equal(V.run(['confirm', rec], { as: confirmer }).status, 0);
    if (i % 6 === 0) {
      V.amend(rec, isObs ? `{"resourceType":"Observation","status":"amended","valueString":"${i}.post"}`
        : `確定後の訂正 ${i}\n`, { reason: 'after confirmation' });
    }
  }
  const ret = V.run(['retract', recs[7], '--reason', 'entered in error'], { as: 'dr.sato' });
  assert.equal(ret.status, 0, ret.stderr);

  V.user('dr.mallory'); // an account that exists in the older copy too (the fork's writer)
  OLDER = V.copy('older');
  // The last writes, after the older copy.
  V.amend(recs[3], `{"resourceType":"Observation","status":"amended","valueString":"late"}`, { reason: 'late fix' });
  assert.equal(V.run(['confirm', recs[3]], { as: 'dr.tanaka' }).status, 0);
  V.put('the last record\n', { patient: 'pt-9', as: 'clerk.ito', extra: ['--on-behalf-of', 'dr.kato'] });

  SAVED = join(V.dir, 'saved.json');
  assert.equal(V.run(['sth', '-o', SAVED]).status, 0);
  ROWS = sqliteRows(V.db, `SELECT leaf_index, record_id, version, patient_id, type, status, inputter,
    confirmer, on_behalf_of, time_us, reason, length(sealed) AS sealed_len FROM versions ORDER BY leaf_index;`);
  HEADS = sqliteRows(V.db, 'SELECT tree_size FROM tree_heads ORDER BY tree_size;').map((x) => x.tree_size);
  for (const r of ROWS) {
    if (r.status !== 3) CONTENT.set(`${r.record_id}@${r.version}`, V.get(`${r.record_id}@${r.version}`));
  }
});

after(() => V && V.cleanup());

// A fresh copy of the vault with the triggers dropped, edited by `sql`.
function tampered(sql) {
  const path = V.copy(`tamper-${++copies}`);
  const c = withVault(V, path);
  dropTriggers(c.db);
  if (sql) sqlite(c.db, sql);
  return c;
}

// The hex of one byte-flipped BLOB column value (at `at`, default the middle).
function flipped(db, table, col, where, at) {
  const [{ h }] = sqliteRows(db, `SELECT hex(${col}) AS h FROM ${table} WHERE ${where};`);
  const b = Buffer.from(h, 'hex');
  const i = at === undefined ? b.length >> 1 : at;
  b[i] ^= 0x5a;
  return b.toString('hex');
}

function flip(c, table, col, where, at) {
  const hex = flipped(c.db, table, col, where, at);
  sqlite(c.db, `UPDATE ${table} SET ${col} = X'${hex}' WHERE ${where};`);
}

// Runs verify on a tampered copy: must exit 1 with findings.
function mustFail(c, extra = []) {
  const r = c.verify(extra);
  assert.equal(r.signal, null, `verify crashed: ${r.stderr}`);
  assert.equal(r.status, EXIT.VERIFY, `verify exit ${r.status}: ${r.stdout}${r.stderr}`);
  assert.ok(r.report, `verify --json printed ${r.stdout}`);
  assert.equal(r.report.ok, false);
  assert.ok(r.report.findings.length > 0);
  assert.equal(r.report.problems, r.report.findings.length);
  // The text form says the same.
  const text = c.run(['verify', ...extra]);
  assert.equal(text.status, EXIT.VERIFY);
  assert.match(text.stdout + text.stderr, /^FAIL \[/m);
  return r.report.findings;
}

// The findings for a message: the specific ones first, then a few root mismatches.
const show = (findings) => [...findings.filter((f) => f.code !== 'sth-root'),
  ...findings.filter((f) => f.code === 'sth-root').slice(0, 3)]
  .slice(0, 12).map((f) => JSON.stringify(f)).join('\n') +
  (findings.length > 12 ? `\n... ${findings.length} findings in all` : '');

// Some finding names this version row: its leaf index, or its record and version.
function assertNamesRow(findings, row, what) {
  const hit = findings.some((f) => f.leaf_index === row.leaf_index ||
    (f.record === row.record_id && f.version === row.version));
  assert.ok(hit, `${what}: no finding names record ${row.record_id} version ${row.version} ` +
    `(leaf ${row.leaf_index}); findings:\n${show(findings)}`);
}

// The first tree head that includes the row is reported as not matching.
function assertFirstBadHead(findings, row) {
  const first = HEADS.find((s) => s > row.leaf_index);
  const bad = findings.filter((f) => f.code === 'sth-root').map((f) => f.tree_size);
  assert.ok(bad.length > 0, `no sth-root finding; findings:\n${show(findings)}`);
  assert.equal(Math.min(...bad), first, 'the earliest failing tree head is the first one that includes the leaf');
}

// Row choice: a middle version that is neither the first nor the last of its record.
function middleRow(pred = () => true) {
  const latest = new Map();
  for (const r of ROWS) latest.set(r.record_id, r.version);
  const mid = ROWS.filter((r) => r.version > 1 && r.version < latest.get(r.record_id) && pred(r));
  assert.ok(mid.length > 0);
  return mid[mid.length >> 1];
}
const latestRow = (pred = () => true) => {
  const latest = new Map();
  for (const r of ROWS) latest.set(r.record_id, r);
  return [...latest.values()].filter((r) => r.status !== 3 && pred(r))[0];
};

test('the populated vault verifies clean, also against the saved tree head', () => {
  assert.ok(ROWS.length >= 60, `${ROWS.length} versions`);
  assert.ok(new Set(ROWS.map((r) => r.record_id)).size >= 30);
  assert.ok(ROWS.some((r) => r.status === 3), 'has a retraction');
  const r = V.verify();
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.equal(r.report.ok, true);
  assert.equal(r.report.versions, ROWS.length);
  assert.deepEqual(r.report.findings, []);
  const a = V.verify(['--against', SAVED]);
  assert.equal(a.status, 0, a.stdout + a.stderr);
  // An untouched copy verifies clean too (copying is not tampering).
  const c = tampered('');
  assert.equal(c.verify().status, 0);
});

test('one byte of a ciphertext (sealed)', () => {
  const row = middleRow((r) => r.sealed_len > 0);
  const c = tampered();
  flip(c, 'versions', 'sealed', `leaf_index = ${row.leaf_index}`);
  const f = mustFail(c);
  assertNamesRow(f, row, 'sealed byte');
  assert.ok(f.some((x) => x.code === 'ciphertext' && x.leaf_index === row.leaf_index), show(f));
});

test('the last byte of a ciphertext (the GCM tag) and the first (the nonce)', () => {
  for (const at of [0, -1]) {
    const row = latestRow((r) => r.sealed_len > 0);
    const c = tampered();
    flip(c, 'versions', 'sealed', `leaf_index = ${row.leaf_index}`, at < 0 ? row.sealed_len - 1 : at);
    assertNamesRow(mustFail(c), row, `sealed byte ${at}`);
  }
});

test('the commitment', () => {
  const row = middleRow((r) => r.sealed_len > 0);
  const c = tampered();
  flip(c, 'versions', 'commitment', `leaf_index = ${row.leaf_index}`);
  const f = mustFail(c);
  assertNamesRow(f, row, 'commitment');
  assertFirstBadHead(f, row);
});

test('the previous-version hash', () => {
  const row = middleRow();
  const c = tampered();
  flip(c, 'versions', 'previous', `leaf_index = ${row.leaf_index}`);
  const f = mustFail(c);
  assertNamesRow(f, row, 'previous');
  assertFirstBadHead(f, row);
});

test('a leaf hash in nodes (level 0)', () => {
  const row = middleRow();
  const c = tampered();
  flip(c, 'nodes', 'hash', `id = ${row.leaf_index}`);
  const f = mustFail(c);
  assert.ok(f.some((x) => x.leaf_index === row.leaf_index ||
    (x.code === 'node' && x.detail.includes(`(0, ${row.leaf_index})`))),
  `no finding names node (0, ${row.leaf_index}):\n${show(f)}`);
});

test('an interior node', () => {
  const [n] = sqliteRows(V.db, 'SELECT id >> 57 AS level, id & ((1 << 57) - 1) AS idx FROM nodes WHERE id >> 57 = 2 ORDER BY id LIMIT 1 OFFSET 1;');
  assert.ok(n, 'the tree has level-2 nodes');
  const c = tampered();
  flip(c, 'nodes', 'hash', `id = (${n.level} << 57) | ${n.idx}`);
  const f = mustFail(c);
  assert.ok(f.some((x) => x.code === 'node' && x.detail.includes(`(${n.level}, ${n.idx})`)),
    `no finding names node (${n.level}, ${n.idx}):\n${show(f)}`);
});

test("a tree head's root", () => {
  const size = HEADS[HEADS.length >> 1];
  const c = tampered();
  flip(c, 'tree_heads', 'root', `tree_size = ${size}`);
  const f = mustFail(c);
  assert.ok(f.some((x) => x.tree_size === size), `no finding names tree size ${size}:\n${show(f)}`);
  assert.ok(f.every((x) => x.tree_size === size), `only that head is wrong:\n${show(f)}`);
});

test("a tree head's signature", () => {
  const size = HEADS[(HEADS.length >> 1) + 1];
  const c = tampered();
  flip(c, 'tree_heads', 'signature', `tree_size = ${size}`, 5);
  const f = mustFail(c);
  assert.ok(f.some((x) => x.code === 'sth-signature' && x.tree_size === size), show(f));
});

test("the latest tree head's time (signed)", () => {
  const size = HEADS.at(-1);
  const c = tampered(`UPDATE tree_heads SET time_us = time_us + 1000000 WHERE tree_size = ${size};`);
  const f = mustFail(c);
  assert.ok(f.some((x) => x.tree_size === size), show(f));
});

test('a deleted version row', () => {
  const row = middleRow();
  const c = tampered(`DELETE FROM versions WHERE leaf_index = ${row.leaf_index};`);
  const f = mustFail(c);
  assert.ok(f.some((x) => x.leaf_index === row.leaf_index), `no finding names leaf ${row.leaf_index}:\n${show(f)}`);
});

test('the last version row deleted', () => {
  const row = ROWS.at(-1);
  const c = tampered(`DELETE FROM versions WHERE leaf_index = ${row.leaf_index};`);
  const f = mustFail(c);
  assert.ok(f.some((x) => x.leaf_index === row.leaf_index), `no finding names leaf ${row.leaf_index}:\n${show(f)}`);
});

test('an inserted version row (a copy of another row at a new leaf index)', () => {
  const src = latestRow();
  const leaf = JSON.parse(readFileSync(SAVED, 'utf8')).tree_size; // the next leaf index (events are leaves too)
  const c = tampered(`INSERT INTO versions SELECT ${leaf}, record_id, version + 1, patient_id, type, content_type,
    status, inputter, confirmer, on_behalf_of, time_us, reason, content_length, commitment, previous, sealed
    FROM versions WHERE leaf_index = ${src.leaf_index};`);
  const f = mustFail(c);
  assert.ok(f.some((x) => x.leaf_index === leaf), `no finding names leaf ${leaf}:\n${show(f)}`);
});

test("two rows' sealed values swapped (same patient)", () => {
  const a = middleRow((r) => r.sealed_len > 0);
  const b = ROWS.find((r) => r.patient_id === a.patient_id && r.leaf_index !== a.leaf_index && r.sealed_len > 0);
  const c = tampered(`
    CREATE TEMP TABLE s AS SELECT leaf_index, sealed FROM versions WHERE leaf_index IN (${a.leaf_index}, ${b.leaf_index});
    UPDATE versions SET sealed = (SELECT sealed FROM s WHERE leaf_index = ${b.leaf_index}) WHERE leaf_index = ${a.leaf_index};
    UPDATE versions SET sealed = (SELECT sealed FROM s WHERE leaf_index = ${a.leaf_index}) WHERE leaf_index = ${b.leaf_index};`);
  const f = mustFail(c);
  assertNamesRow(f, a, 'swapped sealed (a)');
  assertNamesRow(f, b, 'swapped sealed (b)');
});

// Metadata of a version (who, what status, why, when): each is in the leaf.
const metadataCases = [
  ["a version's inputter changed", (r) => true, 'inputter', "'dr.mallory'"],
  ["a confirmed version's confirmer changed", (r) => r.status === 2, 'confirmer', "'dr.mallory'"],
  ['status changed draft → confirmed', (r) => r.status === 1, 'status', '2, confirmer = \'dr.mallory\''],
  ['a reason changed', (r) => r.reason !== '', 'reason', "'routine correction'"],
  ['the time changed', (r) => true, 'time_us', 'time_us - 86400000000'],
  ['on-behalf-of removed from a proxy input', (r) => r.on_behalf_of !== '', 'on_behalf_of', "''"],
];
for (const [name, pred, col, value] of metadataCases) {
  for (const where of ['middle', 'latest']) {
    test(`${name} (${where} version of its record)`, () => {
      const row = where === 'middle' ? middleRow(pred) : latestRow(pred);
      assert.ok(row, 'a row to edit');
      const c = tampered(`UPDATE versions SET ${col} = ${value} WHERE leaf_index = ${row.leaf_index};`);
      const f = mustFail(c);
      assertFirstBadHead(f, row);
      assertNamesRow(f, row, name);
    });
  }
}

test('a patient key (patients.wrapped_key) byte flipped', () => {
  const patient = 'pt-2';
  const c = tampered();
  flip(c, 'patients', 'wrapped_key', `patient_id = '${patient}'`);
  const f = mustFail(c);
  for (const row of ROWS.filter((r) => r.patient_id === patient && r.sealed_len > 0)) {
    assertNamesRow(f, row, 'patient key');
  }
});

test('a version moved to another patient', () => {
  const row = middleRow((r) => r.patient_id !== 'pt-0');
  const c = tampered(`UPDATE versions SET patient_id = 'pt-0' WHERE leaf_index = ${row.leaf_index};`);
  const f = mustFail(c);
  assertNamesRow(f, row, 'patient moved');
});

test('the whole vault replaced by an older copy: verify passes, verify --against fails', () => {
  const old = withVault(V, OLDER);
  const plain = old.verify();
  assert.equal(plain.status, 0, 'an older copy is internally consistent');
  const f = mustFail(old, ['--against', SAVED]);
  const saved = JSON.parse(readFileSync(SAVED, 'utf8'));
  assert.ok(f.some((x) => x.tree_size === saved.tree_size), show(f));
});

test('an older copy extended by new writes past the saved size: verify --against fails (a fork)', () => {
  const forkDir = join(V.dir, 'fork');
  cpSync(OLDER, forkDir, { recursive: true });
  const fk = withVault(V, forkDir);
  for (let i = 0; i < 5; i++) {
    const r = fk.run(['put', '--patient', 'pt-9', '--type', 'text/plain', '-'],
      { as: 'dr.mallory', input: `forged ${i}\n` });
    assert.equal(r.status, 0, r.stderr);
  }
  const saved = JSON.parse(readFileSync(SAVED, 'utf8'));
  const size = JSON.parse(fk.run(['--json', 'sth']).stdout).tree_size;
  assert.ok(size > saved.tree_size, 'the fork is longer than the saved head');
  assert.equal(fk.verify().status, 0, 'the fork is internally consistent');
  const f = mustFail(fk, ['--against', SAVED]);
  assert.ok(f.some((x) => x.tree_size === saved.tree_size), show(f));
});

test('the last write rolled back inside the file (rows, nodes and heads deleted): --against fails', () => {
  // Drop the last version and everything after it (its audit events).
  const n = ROWS.at(-1).leaf_index;
  const c = tampered(`
    DELETE FROM versions WHERE leaf_index >= ${n};
    DELETE FROM events WHERE leaf_index >= ${n};
    DELETE FROM tree_heads WHERE tree_size > ${n};
    DELETE FROM nodes WHERE ((id & ((1 << 57) - 1)) + 1) << (id >> 57) > ${n};`);
  // Done cleanly, the file alone looks consistent; only a tree head kept elsewhere shows it.
  const r = c.verify();
  assert.equal(r.status, 0, `the rollback itself was not clean: ${r.stdout}${r.stderr}`);
  const f = mustFail(c, ['--against', SAVED]);
  assert.ok(f.some((x) => x.code.startsWith('against')), show(f));
});

test('a vault rebuilt from scratch with the same data (new init): --against fails', () => {
  const nv = makeVault();
  try {
    // Same records in the same order, same patients and types; a new ledger key.
    const ids = new Map();
    for (const r of ROWS) {
      if (r.version === 1) {
        const res = nv.run(['put', '--patient', r.patient_id, '--type', r.type, '-'],
          { as: r.inputter, input: CONTENT.get(`${r.record_id}@1`) });
        assert.equal(res.status, 0, res.stderr);
        ids.set(r.record_id, res.stdout.trim().split('@')[0]);
      } else if (r.status === 3) {
        assert.equal(nv.run(['retract', ids.get(r.record_id), '--reason', r.reason], { as: r.inputter }).status, 0);
      } else {
        nv.amend(ids.get(r.record_id), CONTENT.get(`${r.record_id}@${r.version}`), { reason: r.reason || 'x', as: r.inputter });
      }
    }
    assert.equal(nv.recordLeaves(), ROWS.length);
    assert.equal(nv.verify().status, 0, 'the rebuilt vault is internally consistent');
    const f = mustFail({ verify: nv.verify, run: nv.run }, ['--against', SAVED]);
    assert.ok(f.some((x) => /key|log/.test(x.code + x.detail)), show(f));
  } finally {
    nv.cleanup();
  }
});
