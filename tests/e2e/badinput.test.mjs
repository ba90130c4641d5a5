// Bad input: every refusal is one lowercase line on stderr with its own
// documented exit code (README "Exit codes"), and changes nothing in the vault.
// Also: damaged vault files (KEEP-01) and concurrent writers.
// Run: node --test tests/e2e/badinput.test.mjs (build first: ninja -C build).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  existsSync, mkdirSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  DOCUMENTED_EXITS, EXIT, dbDigest, errorLine, fileDigest, makeVault, sha256, sqlite, withVault,
} from './lib/kura.mjs';

const MiB = 1024 * 1024;
const LIMIT = 64 * MiB;

// A vault with a few records of every kind, and one retracted record.
function populated(t) {
  const v = makeVault();
  t.after(() => v.cleanup());
  const recs = [];
  for (let i = 0; i < 4; i++) recs.push(v.put(`note ${i}\n`, { patient: `p${i % 2}` }));
  const obs = v.put('{"resourceType":"Observation","status":"final"}', { type: 'Observation' });
  v.amend(recs[0], 'note 0, corrected\n');
  v.run(['confirm', recs[1]], { as: 'dr.tanaka' });
  const retracted = v.put('to be retracted\n');
  const r = v.run(['retract', retracted, '--reason', 'wrong patient'], { as: 'dr.sato' });
  assert.equal(r.status, 0, r.stderr);
  return { v, recs, obs, retracted };
}

// What a refusal must leave alone: the records and the ledger's non-event
// leaves.  A refusal that reaches an authenticated operator is itself
// recorded (login, the refused access, logout: audit-event leaves), so the
// trail may grow; a refusal before that (wrong passphrase) changes nothing.
function snapshot(v) {
  const size = v.treeSize();
  const events = Number(sqlite(v.db, `SELECT count(*) FROM events WHERE leaf_index < ${size};`).trim());
  return {
    recordLeaves: size - events,
    records: sha256(sqlite(v.db, 'SELECT * FROM versions ORDER BY leaf_index; SELECT * FROM patients ORDER BY patient_id;')),
    files: readdirSync(v.path).filter((f) => !f.startsWith('vault.db-')).sort(),
  };
}

// Runs a command that must be refused with `code`, and checks the contract.
function refused(v, args, code, opts = {}) {
  v.authArgs(args, opts); // creates the acting account first, if new
  const before = snapshot(v);
  const whole = dbDigest(v.db);
  const r = v.run(args, opts);
  const what = `kura ${args.join(' ')}`;
  assert.equal(r.signal, null, `${what}: killed by ${r.signal}`);
  assert.equal(r.status, code, `${what}: exit ${r.status}, wanted ${code}; stderr ${r.stderr}`);
  const e = errorLine(r.stderr);
  assert.ok(e.ok, `${what}: ${e.why}`);
  assert.equal(r.stdout, '', `${what}: nothing on stdout`);
  assert.deepEqual(snapshot(v), before, `${what}: the vault changed`);
  if (code === EXIT.PASSPHRASE && /passphrase/.test(r.stderr)) assert.equal(dbDigest(v.db), whole, `${what}: vault.db changed`);
  // The same refusal as JSON on stdout.
  const j = v.run(['--json', ...args], opts);
  assert.equal(j.status, code, `${what} --json`);
  const parsed = JSON.parse(j.stdout);
  assert.equal(parsed.error.exit, code);
  assert.deepEqual(snapshot(v), before, `${what} --json: the vault changed`);
  return e.message;
}

test('wrong passphrase: exit 3 for reads and writes, nothing changes', (t) => {
  const { v, recs } = populated(t);
  const bad = join(v.dir, 'wrong-passphrase');
  writeFileSync(bad, 'not the passphrase');
  const env = { KURA_PASSPHRASE_FILE: bad };
  for (const args of [['list'], ['get', recs[0]], ['verify'], ['sth'],
    ['put', '--patient', 'p1', '--type', 'text/plain', '--as', 'u', '-'],
    ['amend', recs[0], '--reason', 'r', '--as', 'u', '-']]) {
    const msg = refused(v, args, EXIT.PASSPHRASE, { env, input: 'x' });
    assert.match(msg, /passphrase/);
  }
  // KURA_PASSPHRASE (no file) is checked the same way.
  refused(v, ['list'], EXIT.PASSPHRASE, { env: { KURA_PASSPHRASE_FILE: null, KURA_PASSPHRASE: 'nope' } });
});

test('missing vault: exit 9 and no directory is created', (t) => {
  const v = makeVault({ init: false });
  t.after(() => v.cleanup());
  for (const args of [['list'], ['verify'], ['sth'],
    ['put', '--patient', 'p1', '--type', 'text/plain', '--as', 'u', '-']]) {
    const r = v.run(args, { input: 'x' });
    assert.equal(r.status, EXIT.NOVAULT, `${args[0]}: ${r.stderr}`);
    assert.ok(errorLine(r.stderr).ok, errorLine(r.stderr).why);
    assert.equal(existsSync(v.path), false, `${args[0]} created the vault directory`);
  }
  const deep = join(v.dir, 'no', 'such', 'dir');
  const r = v.run(['--vault', deep, 'list']);
  assert.equal(r.status, EXIT.NOVAULT);
  assert.equal(existsSync(join(v.dir, 'no')), false);
  // An empty directory is not a vault either.
  mkdirSync(v.path);
  assert.equal(v.run(['list']).status, EXIT.NOVAULT);
  assert.deepEqual(readdirSync(v.path), []);
});

test('not a vault: another SQLite database, random bytes, an empty file → exit 10/11, file untouched', async (t) => {
  const v = makeVault({ init: false });
  t.after(() => v.cleanup());
  const cases = [
    ['another sqlite database', () => sqlite(v.db, 'CREATE TABLE patients(x); INSERT INTO patients VALUES (1);'), [EXIT.NOTVAULT]],
    ['random bytes', () => writeFileSync(v.db, randomBytes(64 * 1024)), [EXIT.NOTVAULT, EXIT.DAMAGED]],
    ['random bytes after a valid sqlite header', () => writeFileSync(v.db,
      Buffer.concat([Buffer.from('SQLite format 3\0'), randomBytes(32 * 1024)])), [EXIT.NOTVAULT, EXIT.DAMAGED]],
    ['an empty file', () => writeFileSync(v.db, ''), [EXIT.NOTVAULT, EXIT.DAMAGED]],
  ];
  for (const [what, make, codes] of cases) {
    for (const args of [['list'], ['verify'], ['sth'], ['get', 'x'],
      ['put', '--patient', 'p1', '--type', 'text/plain', '--as', 'u', '-'],
      ['init', '--kdf-ops', '1', '--kdf-mem-mib', '8']]) {
      await t.test(`${what}: kura ${args[0]}`, () => {
        rmSync(v.path, { recursive: true, force: true });
        mkdirSync(v.path);
        make();
        const digest = fileDigest(v.db);
        const r = v.run(args, { input: 'x' });
        const wanted = args[0] === 'init' ? [EXIT.EXISTS] : codes;
        assert.equal(r.signal, null, 'crashed');
        assert.ok(wanted.includes(r.status), `exit ${r.status}, wanted ${wanted}; ${r.stderr}`);
        assert.ok(errorLine(r.stderr).ok, errorLine(r.stderr).why);
        assert.equal(fileDigest(v.db), digest, 'vault.db was changed');
        assert.deepEqual(readdirSync(v.path).filter((f) => !f.startsWith('vault.db-')), ['vault.db']);
      });
    }
  }
});

test('a truncated vault.db: every command fails cleanly, verify never reports ok (KEEP-01)', (t) => {
  const { v } = populated(t);
  for (let i = 0; i < 6; i++) v.put(randomBytes(3000).toString('base64'), { patient: `t${i}` });
  const size = statSync(v.db).size;
  const points = [Math.floor(size / 2), 100, 4096, size - 4096, size - 1, Math.floor(size / 3) + 17];
  const docs = [...DOCUMENTED_EXITS];
  for (const n of points) {
    const copy = v.copy(`trunc-${n}`);
    const db = join(copy, 'vault.db');
    truncateSync(db, n);
    const c = withVault(v, copy);
    for (const args of [['list'], ['sth'], ['get', 'x'], ['history', 'x'],
      ['put', '--patient', 'p1', '--type', 'text/plain', '--as', 'u', '-'], ['verify']]) {
      const r = c.run(args, { input: 'x' });
      const what = `truncated to ${n} of ${size} bytes, kura ${args[0]}`;
      assert.equal(r.signal, null, `${what}: killed by ${r.signal}`);
      assert.notEqual(r.status, EXIT.INTERNAL, `${what}: internal error ${r.stderr}`);
      // A command that never reads the damaged pages may succeed; verify must not.
      if (args[0] === 'verify') assert.notEqual(r.status, 0, `${what}: verify reported ok`);
      assert.ok(r.status === 0 || docs.includes(r.status), `${what}: exit ${r.status} (${r.stderr})`);
      if (r.status !== 0 && r.status !== EXIT.VERIFY) {
        assert.ok(errorLine(r.stderr).ok, `${what}: ${errorLine(r.stderr).why}`);
      }
    }
    const ver = c.run(['verify']);
    assert.ok([EXIT.VERIFY, EXIT.NOTVAULT, EXIT.DAMAGED].includes(ver.status),
      `truncated to ${n}: verify exited ${ver.status}: ${ver.stdout}${ver.stderr}`);
  }
});

test('content over 64 MiB: exit 6 from a file and from stdin, nothing written', (t) => {
  const { v } = populated(t);
  const big = join(v.dir, 'big.bin');
  writeFileSync(big, '');
  truncateSync(big, LIMIT + 1); // sparse: 64 MiB + 1 zero bytes
  const msg = refused(v, ['put', '--patient', 'p1', '--type', 'application/octet-stream', big], EXIT.TOOBIG, { as: 'u' });
  assert.match(msg, /64 MiB/);
  refused(v, ['put', '--patient', 'p1', '--type', 'application/octet-stream', '-'], EXIT.TOOBIG,
    { as: 'u', input: Buffer.alloc(LIMIT + 1, 0x41) });
  const rec = v.put('small\n');
  refused(v, ['amend', rec, '--reason', 'r', big], EXIT.TOOBIG, { as: 'u' });
  const longReason = 'r'.repeat(4097);
  refused(v, ['amend', rec, '--reason', longReason, '-'], EXIT.TOOBIG, { as: 'u', input: 'x' });
});

test('content up to exactly 64 MiB is accepted and comes back intact', (t) => {
  const v = makeVault();
  t.after(() => v.cleanup());
  const failures = [];
  for (const n of [LIMIT - 64 * 1024, LIMIT]) {
    const content = randomBytes(n); // incompressible: the worst case for the envelope
    const file = join(v.dir, `c-${n}.bin`);
    writeFileSync(file, content);
    const r = v.run(['put', '--patient', 'big', '--type', 'application/octet-stream', file], { as: 'u' });
    if (r.status !== 0) {
      failures.push(`${n} bytes (64 MiB - ${LIMIT - n}): exit ${r.status}: ${r.stderr.trim()}`);
      continue;
    }
    const rec = r.stdout.trim().split('@')[0];
    assert.equal(sha256(v.get(rec)), sha256(content), `${n} bytes round trip`);
  }
  assert.deepEqual(failures, [], 'contents within the documented limit were refused');
  assert.equal(v.run(['verify']).status, 0);
});

test('invalid patient ids: exit 5', async (t) => {
  const { v } = populated(t);
  for (const id of ['bad id', '', 'a'.repeat(65), 'a/b', '../x', '患者', 'x\ny', 'p;DROP TABLE versions']) {
    await t.test(`patient id ${JSON.stringify(id)}`, () => {
      const msg = refused(v, ['put', '--patient', id, '--type', 'text/plain', '-'], EXIT.INVALID, { as: 'u', input: 'x' });
      assert.match(msg, /patient/, msg);
    });
  }
  refused(v, ['list', '--patient', 'bad id'], EXIT.INVALID);
  assert.equal(v.run(['put', '--patient', 'a'.repeat(64), '--type', 'text/plain', '-'], { as: 'u', input: 'x' }).status, 0,
    '64 characters is allowed');
});

test('unknown record ids: exit 4 for every command that takes one', (t) => {
  const { v, recs } = populated(t);
  const unknown = '01900000-0000-7000-8000-000000000000';
  for (const args of [['get', unknown], ['get', `${recs[0]}@9`], ['history', unknown],
    ['amend', unknown, '--reason', 'r', '--as', 'u', '-'], ['confirm', unknown, '--as', 'u'],
    ['retract', unknown, '--reason', 'r', '--as', 'u'], ['proof', unknown], ['proof', `${recs[0]}@9`],
    ['get', 'not-a-record-id']]) {
    const msg = refused(v, args, EXIT.NOTFOUND, { input: 'x' });
    assert.match(msg, /not found/);
  }
});

test('a retracted record cannot be amended, confirmed or retracted again: exit 7', (t) => {
  const { v, retracted, recs } = populated(t);
  refused(v, ['amend', retracted, '--reason', 'r', '-'], EXIT.STATE, { as: 'u', input: 'x' });
  refused(v, ['confirm', retracted], EXIT.STATE, { as: 'u' });
  refused(v, ['retract', retracted, '--reason', 'r'], EXIT.STATE, { as: 'u' });
  refused(v, ['confirm', recs[1]], EXIT.STATE, { as: 'u' }); // already confirmed
});

test('empty content: exit 5', (t) => {
  const { v, recs } = populated(t);
  const empty = join(v.dir, 'empty');
  writeFileSync(empty, '');
  refused(v, ['put', '--patient', 'p1', '--type', 'text/plain', '-'], EXIT.INVALID, { as: 'u', input: '' });
  refused(v, ['put', '--patient', 'p1', '--type', 'text/plain', empty], EXIT.INVALID, { as: 'u' });
  refused(v, ['amend', recs[0], '--reason', 'r', '-'], EXIT.INVALID, { as: 'u', input: '' });
});

test('FHIR type mismatch or non-FHIR content for a FHIR type: exit 5', async (t) => {
  const { v, obs } = populated(t);
  const bad = ['{"resourceType":"Patient","id":"x"}', 'not json', '{"status":"final"}',
    '["resourceType","Observation"]', '{"resourceType":"Observation"', '{"resourceType":"Observation"} trailing'];
  for (const content of bad) {
    await t.test(`put --type Observation ${content}`, () => {
      refused(v, ['put', '--patient', 'p1', '--type', 'Observation', '-'], EXIT.INVALID, { as: 'u', input: content });
    });
  }
  // An amend of an Observation record is held to the record's type too.
  for (const content of bad.slice(0, 2)) {
    await t.test(`amend of an Observation record with ${content}`, () => {
      refused(v, ['amend', obs, '--reason', 'r', '-'], EXIT.INVALID, { as: 'u', input: content });
    });
  }
});

test('a bad NDJSON line in the middle of an import: exit 5 and nothing imported', (t) => {
  const { v } = populated(t);
  const good = (i) => JSON.stringify({ patient: `imp${i % 7}`, type: 'text/plain', content: `line ${i}` });
  const bads = [
    '{"patient":"a","type":"text/plain","content":',
    '{"patient":"a b","type":"text/plain","content":"x"}',
    '{"patient":"a","type":"Observation","content":{"resourceType":"Patient"}}',
    '{"patient":"a","type":"text/plain","content":""}',
    '{"patient":"a","content":"no type"}',
  ];
  for (const bad of bads) {
    const lines = [good(1), good(2), good(3), bad, good(5)];
    const file = join(v.dir, 'bad.ndjson');
    writeFileSync(file, lines.join('\n') + '\n');
    const msg = refused(v, ['import', file], EXIT.INVALID, { as: 'importer' });
    assert.match(msg, /line 4/, msg);
  }
  // The bad line after the first 1,000-record batch: still nothing.
  const lines = [];
  for (let i = 1; i <= 1500; i++) lines.push(i === 1200 ? bads[0] : good(i));
  const file = join(v.dir, 'late.ndjson');
  writeFileSync(file, lines.join('\n') + '\n');
  const msg = refused(v, ['import', file], EXIT.INVALID, { as: 'importer' });
  assert.match(msg, /line 1200/, msg);
});

test('no operator: exit 14; the old --as option is gone: exit 2 (usage)', (t) => {
  const { v, recs } = populated(t);
  const nd = join(v.dir, 'ok.ndjson');
  writeFileSync(nd, '{"patient":"a","type":"text/plain","content":"x"}\n');
  const nobody = { as: null, env: { KURA_SESSION_FILE: join(v.dir, 'no-session') }, input: 'x' };
  for (const args of [['put', '--patient', 'p1', '--type', 'text/plain', '-'],
    ['amend', recs[0], '--reason', 'r', '-'], ['confirm', recs[0]], ['get', recs[0]], ['list'],
    ['retract', recs[0], '--reason', 'r'], ['import', nd]]) {
    const msg = refused(v, args, EXIT.AUTH, nobody);
    assert.match(msg, /not logged in.*--credentials/);
  }
  // --as USER is no longer accepted (the identity comes from a login).
  for (const args of [['put', '--patient', 'p1', '--type', 'text/plain', '--as', 'dr.sato', '-'],
    ['confirm', recs[0], '--as', 'dr.sato']]) {
    // (getopt's own message plus the usage: more than the one error line)
    const r = v.run(args, { as: 'dr.sato', input: 'x' });
    assert.equal(r.status, EXIT.USAGE, r.stderr);
    assert.match(r.stderr, /--as/);
  }
  refused(v, ['put', '--patient', 'p1', '-'], EXIT.USAGE, { input: 'x' }); // no --type
  refused(v, ['frobnicate'], EXIT.USAGE);
});

test('the refusals above use distinct documented exit codes', () => {
  const used = [EXIT.USAGE, EXIT.PASSPHRASE, EXIT.NOTFOUND, EXIT.INVALID, EXIT.TOOBIG, EXIT.STATE,
    EXIT.NOVAULT, EXIT.NOTVAULT, EXIT.EXISTS];
  assert.equal(new Set(used).size, used.length);
  for (const c of used) assert.ok(DOCUMENTED_EXITS.has(c));
});

test('concurrent writers: 4 processes x 25 puts, none lost, verify clean', async (t) => {
  const v = makeVault();
  t.after(() => v.cleanup());
  const ok = new Map(); // record → content
  const busy = [];
  const other = [];
  const worker = async (w) => {
    for (let i = 0; i < 25; i++) {
      const content = `writer ${w} put ${i} ${randomBytes(8).toString('hex')}\n`;
      const r = await v.runAsync(['put', '--patient', `w${w}`, '--type', 'text/plain', '-'],
        { as: `u${w}`, input: content });
      if (r.status === 0) {
        const m = /^([0-9a-f-]{36})@1\n$/.exec(r.stdout);
        assert.ok(m, `put printed ${JSON.stringify(r.stdout)}`);
        ok.set(m[1], content);
      } else if (r.status === EXIT.BUSY) {
        busy.push(r.stderr);
      } else {
        other.push(`exit ${r.status} ${r.signal || ''}: ${r.stderr}`);
      }
    }
  };
  await Promise.all([0, 1, 2, 3].map(worker));
  assert.deepEqual(other, [], 'puts failed with something other than busy');
  assert.equal(ok.size + busy.length, 100);
  const ver = v.verify();
  assert.equal(ver.status, 0, ver.stdout + ver.stderr);
  assert.equal(ver.report.versions, ok.size);
  const listed = v.json(['list']).map((x) => x.record);
  assert.deepEqual(new Set(listed), new Set(ok.keys()), 'list has exactly the successful puts');
  assert.equal(listed.length, ok.size);
  for (const [rec, content] of ok) assert.equal(v.get(rec).toString(), content);
  assert.equal(v.recordLeaves(), ok.size);
});
