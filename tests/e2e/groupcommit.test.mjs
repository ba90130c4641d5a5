// groupcommit.test.mjs - audited FHIR reads under `kura serve` share
// transactions (group commit, src/serve/commit.c): many concurrent reads
// are each answered with the right content, each has exactly one durable
// read event, several share a signed tree head, and the vault verifies.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Agent, request as urequest } from 'undici';
import { makeVault, sqliteRows } from './lib/kura.mjs';
import { bearerToken, makePki, startServe, writeConfig } from './lib/serve.mjs';

let v, srv, base, caBuf, token, agent;
const patients = [];

before(async () => {
  v = makeVault();
  const pki = makePki(v.dir);
  caBuf = readFileSync(pki.ca);
  v.user('dr.gc');
  srv = await startServe(writeConfig(v, pki, { scan: 'off' }));
  base = srv.urls[0];
  token = await bearerToken(base, caBuf, 'dr.gc', v.users.get('dr.gc').password);
  agent = new Agent({ connect: { ca: caBuf, servername: 'localhost' }, connections: 32, pipelining: 1 });
  for (let i = 0; i < 8; i++) {
    const body = JSON.stringify({ resourceType: 'Patient', name: [{ family: `Gc${i}`, given: ['Taro'] }],
      birthDate: `19${50 + i}-01-0${1 + (i % 9)}` });
    const r = await urequest(`${base}/fhir/Patient`, { dispatcher: agent, method: 'POST', body,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' } });
    const text = await r.body.text();
    assert.equal(r.statusCode, 201, text);
    const res = JSON.parse(text);
    patients.push({ id: res.id, family: `Gc${i}` });
  }
});

after(async () => {
  if (srv) await srv.stop();
  if (agent) await agent.close().catch(() => {});
  if (v) v.cleanup();
});

const get = async (id) => {
  const r = await urequest(`${base}/fhir/Patient/${id}`, { dispatcher: agent,
    headers: { authorization: `Bearer ${token}` } });
  return { status: r.statusCode, text: await r.body.text() };
};

const readEvents = () => sqliteRows(v.db,
  `SELECT count(*) AS n FROM events WHERE action='read' AND actor='dr.gc' AND record_id IN (${patients.map((p) => `'${p.id}'`).join(',')});`)[0].n;
const heads = () => sqliteRows(v.db, 'SELECT count(*) AS n FROM tree_heads;')[0].n;

test('200 concurrent reads over 32 connections: right content, 200 read events, shared tree heads, verify passes', async () => {
  const events0 = readEvents();
  const heads0 = heads();
  const want = Array.from({ length: 200 }, (_, i) => patients[i % patients.length]);
  const got = await Promise.all(want.map((p) => get(p.id)));
  got.forEach((r, i) => {
    assert.equal(r.status, 200, r.text);
    const res = JSON.parse(r.text);
    assert.equal(res.resourceType, 'Patient');
    assert.equal(res.id, want[i].id);
    assert.equal(res.name[0].family, want[i].family);
  });
  assert.equal(readEvents() - events0, 200, 'one read event per answered read');
  const newHeads = heads() - heads0;
  console.log(`group commit: 200 reads, ${newHeads} tree heads`);
  assert.ok(newHeads >= 1 && newHeads < 200, `reads were committed in groups (${newHeads} tree heads for 200 reads)`);
  const vr = v.verify();
  assert.equal(vr.status, 0, `kura verify: ${vr.stdout}${vr.stderr}`);
});

test('SIGTERM while reads are in flight: every read answered 200 has its read event', async () => {
  const events0 = readEvents();
  const pending = Array.from({ length: 64 }, (_, i) => get(patients[i % patients.length].id).catch(() => null));
  await new Promise((r) => setTimeout(r, 5));
  srv.proc.kill('SIGTERM');
  const got = await Promise.all(pending);
  const { code } = await srv.exited;
  assert.equal(code, 0, srv.stderr().slice(-2000));
  const ok = got.filter((r) => r && r.status === 200).length;
  const events = readEvents() - events0;
  console.log(`drain: ${ok} of ${got.length} reads answered 200, ${events} read events`);
  assert.ok(ok >= 1, 'reads in flight were answered');
  assert.ok(events >= ok && events <= got.length, `a read event for every content sent (${ok} answers, ${events} events)`);
  assert.ok(got.every((r) => !r || r.status === 200 || r.status === 503), 'only 200 or 503 answers');
  srv = null;
  const vr = v.verify();
  assert.equal(vr.status, 0, `kura verify after the drain: ${vr.stdout}${vr.stderr}`);
});
