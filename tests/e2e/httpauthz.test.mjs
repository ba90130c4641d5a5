// httpauthz.test.mjs - the identity issue's authorization campaign
// (tests/e2e/identity.test.mjs, over the CLI) reproduced over HTTPS against
// `kura serve` (issue #5: "Unauthorized requests of every kind denied and
// audited").  Actors: a doctor in and out of the patient's care scope, a
// nurse, a clerk, an auditor, the security administrator, a machine (client
// certificate, role system), an unmapped certificate, a person's
// certificate alone, nobody, a bad token, an ended session, and a session
// cookie without the CSRF header.  Actions: GET/POST/PUT on /fhir/Patient
// and /fhir/Observation, GET /api/ledger/proof, GET /metrics.  Every
// answer is the expected 200/201/401/403, and every denial that carried a
// credential left a refused (outcome 4) audit event in the vault; a request
// with no credential at all is 401 and, as docs/formats/http-api.md says,
// not audited (there was nothing to fail).
//
// /metrics: loopback peers are always allowed (docs/SERVE.md), and every
// peer here is 127.0.0.1, so /metrics answers 200 to everyone in this test;
// the role check for non-loopback peers cannot be exercised from one host.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { sqliteRows, totp } from './lib/kura.mjs';
import { jsonOf, login, request, startKura } from './lib/hostile.mjs';

let s, P, O, tok = {};
const FJ = { 'Content-Type': 'application/fhir+json' };

before(async () => {
  s = await startKura({ listen: ['required', 'optional'], machines: ['lab'], limits: { rate_per_ip: 0, rate_per_account: 0 } });
  const v = s.v;
  v.user('dr.int');                                       // doctor of 'internal': the patient's department
  v.user('dr.sur', { departments: ['surgery'] });         // doctor of another department
  v.user('ns.int', { role: 'nurse' });
  v.user('cl.ito', { role: 'clerk', departments: ['reception'] });
  v.user('au.kimura', { role: 'auditor', departments: [] });
  v.enrollTotp('au.kimura');
  v.user('dr.card');                                      // a clinician with an IC-card certificate
  v.user('dr.gone');                                      // whose session ends
  const url = s.urls[1];
  for (const id of ['dr.int', 'dr.sur', 'ns.int', 'cl.ito', 'au.kimura', 'dr.gone']) tok[id] = await login(s, url, id);
  tok.admin = await login(s, url, 'admin', { otp: totp(v.users.get('admin').totp, { step: 1 }) });
  // The patient and an Observation, written by the doctor of 'internal'.
  const p = await request(s, `${url}/fhir/Patient`, { method: 'POST', client: 'none',
    headers: { ...FJ, Authorization: `Bearer ${tok['dr.int'].token}` },
    body: JSON.stringify({ resourceType: 'Patient', name: [{ family: '佐藤', given: ['花子'] }] }) });
  assert.equal(p.status, 201, p.body);
  P = jsonOf(p).id;
  const o = await request(s, `${url}/fhir/Observation`, { method: 'POST', client: 'none',
    headers: { ...FJ, Authorization: `Bearer ${tok['dr.int'].token}` }, body: obs('37.1') });
  assert.equal(o.status, 201, o.body);
  O = jsonOf(o).id;
  // dr.card's certificate is enrolled as its factor: alone it is refused.
  const r = v.run(['cert', 'client', '--ca', join(s.dir, 'ca'), '--name', 'dr.card', '--account', 'dr.card', '--out', join(s.dir, 'card')]);
  assert.equal(r.status, 0, r.stderr);
  v.admin(['factor', 'enroll', 'cert', '--certificate', join(s.dir, 'card.pem'), '--user', 'dr.card']);
  const { readFileSync } = await import('node:fs');
  s.files.card = { cert: readFileSync(join(s.dir, 'card.pem')), key: readFileSync(join(s.dir, 'card.key')) };
  // dr.gone logs out: its token is an ended session.
  const out = await request(s, `${url}/api/logout`, { method: 'POST', client: 'none',
    headers: { Authorization: `Bearer ${tok['dr.gone'].token}` } });
  assert.equal(out.status, 200, out.body);
});

after(async () => { if (s) await s.cleanup(); });

function obs(value) {
  return JSON.stringify({ resourceType: 'Observation', status: 'final', code: { text: 'BT' },
    subject: { reference: `Patient/${P}` }, valueQuantity: { value: Number(value), unit: 'Cel' } });
}

const lastEvent = () => sqliteRows(s.v.db, 'SELECT max(leaf_index) AS m FROM events;')[0].m ?? -1;

// Who asks: the listener, the client certificate and the headers.
function as(who) {
  const url0 = s.urls[0], url1 = s.urls[1];
  const bearer = (id) => ({ url: url1, client: 'none', headers: { Authorization: `Bearer ${tok[id].token}` }, actor: id });
  switch (who) {
    case 'machine': return { url: url0, client: 'lab', headers: {}, actor: 'lab' };
    case 'stranger-cert': return { url: url0, client: s.files.stranger, headers: {}, actor: '' };
    case 'person-cert': return { url: url1, client: s.files.card, headers: {}, actor: 'dr.card' };
    case 'nobody': return { url: url1, client: 'none', headers: {}, actor: null };
    case 'bad-token': return { url: url1, client: 'none', headers: { Authorization: `Bearer ${'0'.repeat(64)}` }, actor: '' };
    case 'not-bearer': return { url: url1, client: 'none', headers: { Authorization: 'Basic ZHIuaW50Onh4eA==' }, actor: '' };
    case 'ended-session': return { ...bearer('dr.gone'), actor: 'dr.gone' };
    case 'cookie-no-csrf': return { url: url1, client: 'none', headers: { Cookie: tok['dr.int'].cookie }, actor: 'dr.int' };
    case 'cookie-wrong-csrf': return { url: url1, client: 'none', headers: { Cookie: tok['dr.int'].cookie, 'X-CSRF-Token': 'f'.repeat(64) }, actor: 'dr.int' };
    case 'cookie+csrf': return { url: url1, client: 'none', headers: { Cookie: tok['dr.int'].cookie, 'X-CSRF-Token': tok['dr.int'].csrf }, actor: 'dr.int' };
    default: return bearer(who);
  }
}

// The actions: [name, method, path, body].
const ACTIONS = () => [
  ['read Patient', 'GET', `/fhir/Patient/${P}`],
  ['read Observation', 'GET', `/fhir/Observation/${O}`],
  ['search Observation', 'GET', `/fhir/Observation?subject=Patient/${P}`],
  ['create Observation', 'POST', '/fhir/Observation', obs('37.5')],
  ['update Observation', 'PUT', `/fhir/Observation/${O}`, null],
  ['update Patient', 'PUT', `/fhir/Patient/${P}`, null],
  ['create Patient', 'POST', '/fhir/Patient', JSON.stringify({ resourceType: 'Patient', name: [{ family: 'New' }] })],
  ['inclusion proof', 'GET', `/api/ledger/proof?record=${O}`],
  ['metrics', 'GET', '/metrics'],
];

// Expected status per actor and action (see the roles of `kura role list`:
// doctor read/search/write/export in care scope; nurse read/search, writes
// @nursing (Observation); clerk read/search/write @administrative (Patient),
// all patients; auditor and security-admin: no clinical data; system:
// read/search/write/confirm, all patients, no export).
// E: a search outside the caller's scope is 200 with an empty Bundle (the
// rows it may not see are left out and counted in its 'search' event,
// docs/FHIR.md "Search"), and that event is asserted.
const D = 403, U = 401, E = 'empty';
const MATRIX = {
  //                 readP readO search createO updO updP createP proof metrics
  'dr.int':         [200, 200, 200, 201, 200, 200, 201, 200, 200],
  'cookie+csrf':    [200, 200, 200, 201, 200, 200, 201, 200, 200],
  machine:          [200, 200, 200, 201, 200, 200, 201, D, 200],
  'ns.int':         [200, 200, 200, 201, 200, D, D, D, 200],
  'cl.ito':         [200, D, E, D, D, 200, 201, D, 200],
  'dr.sur':         [D, D, E, D, D, D, 201, D, 200],
  'au.kimura':      [D, D, E, D, D, D, D, D, 200],
  admin:            [D, D, E, D, D, D, D, D, 200],
  'cookie-no-csrf': [200, 200, 200, D, D, D, D, 200, 200],
  'cookie-wrong-csrf': [200, 200, 200, D, D, D, D, 200, 200],
  'stranger-cert':  [U, U, U, U, U, U, U, U, 200],
  'person-cert':    [U, U, U, U, U, U, U, U, 200],
  'ended-session':  [U, U, U, U, U, U, U, U, 200],
  'bad-token':      [U, U, U, U, U, U, U, U, 200],
  'not-bearer':     [U, U, U, U, U, U, U, U, 200],
  nobody:           [U, U, U, U, U, U, U, U, 200],
};

test('the authorization matrix over HTTPS: every answer as expected, every denial audited', { timeout: 120_000 }, async (t) => {
  let denied = 0, allowed = 0;
  const wrong = [], unaudited = [];
  const rounds = 2; // each cell twice: a cached machine session, a repeated denial
  for (let round = 0; round < rounds; round++) {
    for (const [who, want] of Object.entries(MATRIX)) {
      const a = as(who);
      const actions = ACTIONS();
      for (let i = 0; i < actions.length; i++) {
        const [name, method, path, body0] = actions[i];
        let body = body0;
        const headers = { ...a.headers };
        if (method !== 'GET') Object.assign(headers, FJ);
        if (body === null) {
          // An update: the current version, changed a little.
          const cur = jsonOf(await request(s, `${s.urls[0]}${path}`, { client: 'lab' }));
          delete cur.meta;
          if (cur.resourceType === 'Observation') cur.valueQuantity.value += 0.1;
          else cur.name = [{ family: '佐藤', given: ['花子', `${who} ${round}`] }];
          body = JSON.stringify(cur);
        }
        const before = lastEvent();
        const r = await request(s, `${a.url}${path}`, { method, client: a.client, headers, body });
        const cell = `${who} ${name} (${method} ${path.slice(0, 40)})`;
        if (want[i] === E) {
          const b = jsonOf(r);
          if (r.status !== 200 || b?.total !== 0 || (b.entry || []).length)
            wrong.push(`${cell}: ${r.status}, expected an empty Bundle: ${r.body.slice(0, 160)}`);
          const ev = sqliteRows(s.v.db, `SELECT actor, action FROM events WHERE leaf_index > ${before} AND action = 'search';`);
          if (!ev.some((e) => e.actor === a.actor)) unaudited.push(`${cell}: no search event by ${a.actor}`);
          continue;
        }
        if (r.status !== want[i]) wrong.push(`${cell}: ${r.status}, expected ${want[i]}: ${r.body.slice(0, 160)}`);
        if (r.status === 401 || r.status === 403) {
          denied++;
          if (r.status === 401) assert.match(r.headers['www-authenticate'] || '', /^Bearer realm="kura"/, cell);
          const ev = sqliteRows(s.v.db, `SELECT leaf_index, actor, action, outcome, detail, reason FROM events WHERE outcome = 4 AND leaf_index > ${before} ORDER BY leaf_index;`);
          if (a.actor === null) {
            if (ev.length) unaudited.push(`${cell}: no credential, yet ${ev.length} refused events`);
          } else if (!ev.length) {
            unaudited.push(`${cell}: ${r.status} without a refused audit event`);
          } else if (a.actor && !ev.some((e) => e.actor === a.actor)) {
            unaudited.push(`${cell}: refused events not by ${a.actor}: ${JSON.stringify(ev)}`);
          }
        } else if (r.status < 300) {
          allowed++;
        }
      }
    }
  }
  t.diagnostic(`${denied} denied, ${allowed} allowed`);
  assert.deepEqual(wrong, [], 'answers');
  assert.deepEqual(unaudited, [], 'denials and their audit events');
  assert.ok(denied >= 150, `only ${denied} denials`);
  // The auditor finds the denials through the audit trail's own search.
  const refused = sqliteRows(s.v.db, 'SELECT actor, action, count(*) AS n FROM events WHERE outcome = 4 GROUP BY actor, action ORDER BY actor, action;');
  t.diagnostic(`refused events: ${refused.map((e) => `${e.actor || '-'}/${e.action}: ${e.n}`).join(', ')}`);
  for (const id of ['dr.sur', 'au.kimura', 'admin', 'cl.ito', 'ns.int', 'dr.gone', 'dr.card', 'dr.int', 'lab'])
    assert.ok(refused.some((e) => e.actor === id), `a refused event by ${id}`);
  const vr = s.v.verify();
  assert.equal(vr.status, 0, vr.stdout + vr.stderr);
});
