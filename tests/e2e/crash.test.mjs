// Crash suite (REQUIREMENTS KEEP-01 "inconsistency at the moment of a
// failure"; docs/formats/vault.md §4): writers are SIGKILLed at random moments.
// Afterwards the vault opens, verifies clean, every write that reported
// success is there with its exact content, and a killed import left all or
// nothing of its 1,000-record batches.
// Run: node --test tests/e2e/crash.test.mjs (build first: ninja -C build).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, makeVault, sqliteRows } from './lib/kura.mjs';

const MIN_KILLS = 300;
const TIME_BUDGET_MS = 45_000;
const IMPORT_LINES = 200;

// Starts `args`, SIGKILLs it after `delay` ms unless delay is null.
function startKilled(v, args, input, delay) {
  let timer = null;
  const p = v.runAsync(args, {
    input,
    onSpawn: (child) => {
      if (delay !== null) timer = setTimeout(() => child.kill('SIGKILL'), delay);
    },
  });
  return p.then((r) => {
    if (timer) clearTimeout(timer);
    return r;
  });
}

test('SIGKILLed puts and imports leave a consistent vault with every reported write', async (t) => {
  const v = makeVault();
  t.after(() => v.cleanup());
  // A few records before the storm, so kills also land on a non-empty tree.
  const puts = new Map(); // record → content of writes that reported success
  for (let i = 0; i < 5; i++) {
    const c = Buffer.from(`before ${i}\n`);
    puts.set(v.put(c, { patient: 'pre' }), c);
  }

  // How long a put and an import take here, so that the kill times (0–40 ms)
  // spread over the whole run of the command, commit included.
  const timeOf = async (f) => { const t0 = performance.now(); await f(); return performance.now() - t0; };
  const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
  const putMs = [], impMs = [];
  for (let i = 0; i < 5; i++) {
    putMs.push(await timeOf(() => v.runAsync(['put', '--patient', 'pre', '--type', 'text/plain', '-'],
      { as: 'u', input: `timing ${i}\n` }).then((r) => {
      assert.equal(r.status, 0, r.stderr);
      puts.set(r.stdout.trim().split('@')[0], Buffer.from(`timing ${i}\n`));
    })));
  }
  const windowPut = Math.min(40, Math.ceil(median(putMs) * 1.2));
  const windowImport = 40;

  const imports = new Map(); // patient → {ok, lines}
  let kills = 0, finished = 0, busy = 0, iter = 0;
  const unexpected = [];
  const start = Date.now();

  const one = async (slot) => {
    const n = iter++;
    const killIt = randomInt(100) < 80; // some run to completion
    const isImport = randomInt(100) < 15;
    const delay = killIt ? randomInt((isImport ? windowImport : windowPut) + 1) : null; // within 0–40 ms
    if (isImport) {
      const patient = `imp-${n}`;
      const lines = [];
      for (let i = 0; i < IMPORT_LINES; i++) {
        lines.push(JSON.stringify({ patient, type: 'text/plain', content: `import ${n} line ${i} ${randomBytes(6).toString('hex')}` }));
      }
      const file = join(v.dir, `imp-${n}.ndjson`);
      writeFileSync(file, lines.join('\n') + '\n');
      const r = await startKilled(v, ['import', file, '--as', `importer${slot}`], undefined, delay);
      const ok = r.status === 0 && new RegExp(`^imported ${IMPORT_LINES} records`).test(r.stdout);
      imports.set(patient, { patient, ok, lines, killed: r.signal === 'SIGKILL' });
      tally(r, ok, `import ${n}`);
    } else {
      const content = Buffer.concat([Buffer.from(`put ${n} `), randomBytes(randomInt(1, 20_000))]);
      const r = await startKilled(v, ['put', '--patient', `crash-${n % 5}`, '--type', 'application/octet-stream',
        '--as', `writer${slot}`, '-'], content, delay);
      const m = /^([0-9a-f-]{36})@1\n$/.exec(r.stdout);
      if (r.status === 0 && m) puts.set(m[1], content);
      tally(r, r.status === 0 && !!m, `put ${n}`);
    }
  };
  function tally(r, ok, what) {
    if (r.signal === 'SIGKILL') kills++;
    else if (ok) finished++;
    else if (r.status === EXIT.BUSY) busy++;
    else unexpected.push(`${what}: exit ${r.status} signal ${r.signal}: ${r.stderr.trim()} ${r.stdout.trim()}`);
  }

  // Two writers at a time, so a kill can also land while the other waits on the lock.
  while ((kills < MIN_KILLS || finished < 30) && Date.now() - start < TIME_BUDGET_MS) {
    await Promise.all([one(0), one(1)]);
  }
  t.diagnostic(`${iter} commands: ${kills} killed, ${finished} finished, ${busy} busy, ` +
    `${imports.size} imports, ${((Date.now() - start) / 1000).toFixed(1)} s; ` +
    `put ~${median(putMs).toFixed(1)} ms, kill window 0–${windowPut} ms`);
  assert.ok(kills >= 50, `only ${kills} kills landed`);
  assert.deepEqual(unexpected, [], 'commands that were not killed failed');

  // The vault opens and verifies clean.
  const sth = v.run(['--json', 'sth']);
  assert.equal(sth.status, 0, sth.stderr);
  const ver = v.verify();
  assert.equal(ver.status, 0, `verify after the kills: ${ver.stdout}${ver.stderr}`);
  assert.equal(ver.report.ok, true);

  // Every reported put is there with the exact bytes.
  const listed = v.json(['list']);
  const byRecord = new Map(listed.map((x) => [x.record, x]));
  for (const [rec, content] of puts) {
    assert.ok(byRecord.has(rec), `reported put ${rec} is missing from kura list`);
    assert.ok(v.get(rec).equals(content), `reported put ${rec}: content differs`);
  }
  // Records that made it without a report (killed after COMMIT) are whole too.
  let unreported = 0;
  for (const x of listed) {
    if (puts.has(x.record) || x.patient.startsWith('imp-')) continue;
    unreported++;
    const c = v.run(['get', x.record]);
    assert.equal(c.status, 0, `unreported record ${x.record}: ${c.stderr}`);
    assert.match(c.stdout, /^put \d+ /);
    assert.equal(c.stdoutBuf.length, x.size);
  }

  const killedImports = [...imports.values()].filter((x) => x.killed);
  t.diagnostic(`${unreported} puts committed but killed before reporting; ` +
    `${killedImports.length} imports killed, of which ` +
    `${killedImports.filter((x) => listed.some((y) => y.patient === x.patient)).length} had committed`);

  // Imports: all 200 or none (one 1,000-record batch), and reported ones all there.
  for (const [patient, imp] of imports) {
    const got = listed.filter((x) => x.patient === patient);
    assert.ok(got.length === 0 || got.length === IMPORT_LINES,
      `import for ${patient} left ${got.length} of ${IMPORT_LINES} records (killed: ${imp.killed})`);
    if (imp.ok) assert.equal(got.length, IMPORT_LINES, `reported import for ${patient} is incomplete`);
    if (got.length) {
      const want = new Set(imp.lines.map((l) => JSON.parse(l).content));
      for (const x of got.slice(0, 3)) assert.ok(want.has(v.get(x.record).toString()));
    }
  }

  // The ledger and the list agree.
  assert.equal(ver.report.versions, listed.length, 'every version is a listed record (all are version 1)');
  const size = JSON.parse(sth.stdout).tree_size;
  const events = sqliteRows(v.db, `SELECT count(*) AS n FROM events WHERE leaf_index < ${size};`)[0].n;
  assert.equal(size - events, listed.length, 'leaves = listed records + audit events');

  // The vault still takes writes.
  const after = v.put('after the storm\n');
  assert.equal(v.get(after).toString(), 'after the storm\n');
  assert.equal(v.run(['verify']).status, 0);
});
