// Regression tests for the findings of the vault-core code review: each one
// failed before its fix.  Run: node --test tests/e2e/review.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, FAST_KDF, dropTriggers, makeVault, run, sqlite, tempDir } from './lib/kura.mjs';

const obs = (v) => JSON.stringify({ resourceType: 'Observation', status: 'final', valueString: v });
const codes = (r) => (r.report?.findings || []).map((f) => f.code);

function ndjson(dir, n) {
  const lines = [];
  for (let i = 0; i < n; i++) {
    lines.push(JSON.stringify({ patient: `P${i % 37}`, type: 'Observation',
      content: { resourceType: 'Observation', status: 'final', valueString: `r${i}` } }));
  }
  const f = join(dir, `in-${n}.ndjson`);
  writeFileSync(f, lines.join('\n') + '\n');
  return f;
}

test('verify while an import commits batches reports no false tampering (one snapshot)', async (t) => {
  const v = makeVault();
  t.after(v.cleanup);
  const file = ndjson(v.dir, 8000);
  const imp = v.runAsync(['import', file], { as: 'importer' });
  let runs = 0;
  for (let done = false; !done; runs++) {
    const r = v.verify();
    assert.equal(r.status, 0, `verify during import: ${JSON.stringify(r.report?.findings)}`);
    done = await Promise.race([imp.then(() => true), new Promise((res) => setTimeout(res, 0, false))]);
  }
  assert.equal((await imp).status, 0);
  assert.ok(runs >= 1);
});

test('a re-typed record id or an out-of-range version cannot hide a version', (t) => {
  const v = makeVault();
  t.after(v.cleanup);
  const rec = v.put(obs('v1'), { type: 'Observation' });
  v.amend(rec, obs('v2'));
  const blob = v.copy('blob');
  dropTriggers(join(blob, 'vault.db'));
  sqlite(join(blob, 'vault.db'), "UPDATE versions SET record_id = CAST(record_id AS BLOB) WHERE version = 2;");
  const r1 = v.run(['--json', 'verify'], { env: { KURA_VAULT: blob } });
  assert.equal(r1.status, EXIT.VERIFY, r1.stdout);
  const wide = v.copy('wide');
  dropTriggers(join(wide, 'vault.db'));
  sqlite(join(wide, 'vault.db'), 'UPDATE versions SET version = 4294967297 WHERE version = 1;');
  const r2 = v.run(['--json', 'verify'], { env: { KURA_VAULT: wide } });
  assert.equal(r2.status, EXIT.VERIFY, r2.stdout);
  const g = v.run(['get', rec], { env: { KURA_VAULT: wide } });
  assert.notEqual(g.status, 0, 'kura get must not return version 1 as the latest');
});

test('import cannot confirm proxy input either (AUTH-06)', (t) => {
  const v = makeVault();
  t.after(v.cleanup);
  v.user('clerk.ito');
  const before = v.recordLeaves();
  const r = v.run(['import', ndjson(v.dir, 3), '--on-behalf-of', 'dr.kato',
    '--confirm'], { as: 'clerk.ito' });
  assert.equal(r.status, EXIT.PASSPHRASE, r.stderr); // exit 3: denied
  assert.equal(v.recordLeaves(), before);
});

test('verify flags proxy input confirmed by someone else (writer rules)', (t) => {
  const v = makeVault();
  t.after(v.cleanup);
  const rec = v.put(obs('x'), { type: 'Observation', as: 'clerk.ito', extra: ['--on-behalf-of', 'dr.kato'] });
  assert.equal(v.run(['confirm', rec], { as: 'dr.kato' }).status, 0);
  dropTriggers(v.db);
  sqlite(v.db, "UPDATE versions SET confirmer = 'dr.other' WHERE version = 2;");
  const r = v.verify();
  assert.equal(r.status, EXIT.VERIFY);
  assert.ok(codes(r).includes('authors'), JSON.stringify(r.report.findings));
});

test('a write refuses to sign on top of a damaged stored node', (t) => {
  const v = makeVault();
  t.after(v.cleanup);
  for (let i = 0; i < 3; i++) v.put(`n${i}`);
  v.user('a');
  dropTriggers(v.db);
  // The node (k, 0) with 2^k <= size < 2^(k+1) is on the right frontier
  // of every tree of this size: the next leaf (an audit event or a record) hashes it.
  const before = v.treeSize();
  const k = BigInt(Math.floor(Math.log2(before)));
  sqlite(v.db, `UPDATE nodes SET hash = zeroblob(32) WHERE id = ${k << 57n};`);
  const r = v.run(['put', '--patient', 'p1', '--type', 'text/plain', '-'], { as: 'a', input: 'x' });
  assert.equal(r.status, EXIT.DAMAGED, r.stderr);
  assert.equal(v.treeSize(), before, 'no tree head was signed over the damage');
  assert.equal(v.verify().status, EXIT.VERIFY);
});

test('a forged tree head with a huge size is reported, not allocated', (t) => {
  const v = makeVault();
  t.after(v.cleanup);
  v.put('a');
  dropTriggers(v.db);
  sqlite(v.db, 'INSERT INTO tree_heads SELECT 1099511627776, time_us, root, log_id, signature ' +
    'FROM tree_heads ORDER BY tree_size DESC LIMIT 1;');
  const r = v.verify();
  assert.equal(r.status, EXIT.VERIFY, r.stderr);
  assert.ok(codes(r).includes('sth-size') && codes(r).includes('sth-signature'), JSON.stringify(codes(r)));
});

test('a failed init leaves nothing behind; a vault is private (0600)', (t) => {
  const dir = tempDir();
  const path = join(dir, 'v');
  const env = { KURA_VAULT: path, KURA_PASSPHRASE: 'pw-for-this-test' };
  const bad = run(['init', '--kdf-ops', '1', '--kdf-mem-mib', '1048576'], { env });
  assert.notEqual(bad.status, 0);
  assert.ok(!existsSync(join(path, 'vault.db')), 'half a vault was left');
  const ok = run(['init', ...FAST_KDF], { env });
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(statSync(join(path, 'vault.db')).mode & 0o777, 0o600);
  assert.equal(statSync(path).mode & 0o777, 0o700);
});

test('reasons must be one line of valid UTF-8; output stays JSON', (t) => {
  const v = makeVault();
  t.after(v.cleanup);
  const rec = v.put('x');
  // (invalid UTF-8 cannot be passed as a process argument from node; the unit
  // test of kura_utf8_text_valid covers it)
  for (const reason of ['two\nlines', 'esc\x1b[31m', 'tab\there', 'del\x7f']) {
    const r = v.run(['amend', rec, '--reason', reason, '-'], { as: 'a', input: 'y' });
    assert.equal(r.status, EXIT.INVALID, `${JSON.stringify(reason)}: ${r.stderr}`);
  }
  assert.equal(v.run(['amend', rec, '--reason', '検査値の訂正', '-'], { as: 'a', input: 'y' }).status, 0);
  assert.equal(v.json(['history', rec]).length, 2);
});

test('verify findings are reported in Japanese with --lang ja', (t) => {
  const v = makeVault();
  t.after(v.cleanup);
  for (let i = 0; i < 3; i++) v.put(`n${i}`);
  dropTriggers(v.db);
  const leaf = Number(sqlite(v.db, 'SELECT leaf_index FROM versions ORDER BY leaf_index LIMIT 1 OFFSET 1;').trim());
  sqlite(v.db, `UPDATE versions SET inputter = 'dr.mallory' WHERE leaf_index = ${leaf};`);
  const r = v.run(['--lang', 'ja', 'verify']);
  assert.equal(r.status, EXIT.VERIFY);
  assert.match(r.stdout, new RegExp(`不一致 \\[leaf-hash\\] 記録 [0-9a-f-]{36} 版 1 リーフ ${leaf}: 版の行が台帳のリーフと一致しません`));
  assert.match(r.stdout, new RegExp(`保存されたツリーノードがリーフと一致しません（stored tree node \\(1, ${leaf >> 1}\\)`));
  assert.match(r.stdout, /検証失敗: 問題 \d+ 件/);
  assert.doesNotMatch(r.stdout, /does not match the leaves\n/);
});
