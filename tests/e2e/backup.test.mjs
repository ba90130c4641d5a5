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
import { DATA, EXIT, sqliteRows, withVault } from './lib/kura.mjs';
import {
  CLAMAV_TESTFILES, NO_IMMUTABLE, backupRun, backupVerify, chattrClear, eicar, flipByte,
  isEmptyOrAbsent, listFiles, listManifests, listObjects, lsattr, makeBackupVault, manifestPath,
  objectPath, objectType, readManifest, removeTree, restore, vaultState,
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
