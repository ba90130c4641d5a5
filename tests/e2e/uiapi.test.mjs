// uiapi.test.mjs - the web UI's API, sections 1 and 2 of
// docs/formats/ui-api.md, against a real `kura serve` (its group commit
// included: a read's answer waits for its event): a JP Core patient found by
// kana in either script, a PDF stored and read back byte for byte, a print,
// break-glass from a denial to an alerted read, a password change with the
// cookie and its CSRF token, and TOTP enrolment in two steps.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATA, sqliteRows, totp } from './lib/kura.mjs';
import { jsonOf, login, request, startKura } from './lib/hostile.mjs';

let s, url;
const tok = {};
const JSONH = { 'Content-Type': 'application/json' };

before(async () => {
  s = await startKura({ listen: ['optional'], machines: [], limits: { rate_per_ip: 0, rate_per_account: 0 } });
  s.v.user('dr.int');
  s.v.user('dr.sur', { departments: ['surgery'] });
  s.v.user('cl.ito', { role: 'clerk', departments: ['reception'] });
  s.v.user('dr.pw');
  url = s.urls[0];
  for (const id of ['dr.int', 'dr.sur', 'cl.ito', 'dr.pw']) tok[id] = await login(s, url, id);
});

after(async () => { if (s) await s.cleanup(); });

function api(who, method, path, body) {
  const headers = { Authorization: `Bearer ${tok[who].token}`, ...(body ? JSONH : {}) };
  return request(s, `${url}${path}`, { method, client: 'none', headers, body: body && JSON.stringify(body) });
}

const events = (where) => sqliteRows(s.v.db, `SELECT action, outcome, severity, actor, patient_id FROM events WHERE ${where};`);
// The first Patient of the JP Core sample (kanji, katakana and romaji names).
const jpPatient = () => JSON.parse(readFileSync(join(DATA, 'fhir/patients-ts-gimei-transaction.json'), 'utf8'))
  .entry.find((e) => e.resource.resourceType === 'Patient').resource;

test('patients: a JP Core Patient found by kana in either script, hidden outside the scope', async () => {
  const res = jpPatient();
  let r = await api('dr.int', 'POST', '/api/records', { patient: 'jp1', type: 'Patient', content: JSON.stringify(res), reason: 'admission', confirm: true });
  assert.equal(r.status, 201, r.body);
  r = await api('dr.sur', 'POST', '/api/records', { patient: 'jp2', type: 'Patient', content: JSON.stringify(res), reason: 'admission' });
  assert.equal(r.status, 201, r.body);
  const kana = res.name.find((n) => n.extension?.[0]?.valueCode === 'SYL').family;
  const hira = [...kana].map((c) => String.fromCharCode(c.charCodeAt(0) - 0x60)).join('');
  for (const q of [kana, hira, res.name[0].family]) {
    r = await api('dr.int', 'GET', `/api/patients?q=${encodeURIComponent(q)}`);
    assert.equal(r.status, 200, r.body);
    const j = jsonOf(r);
    assert.deepEqual(j.patients.map((p) => p.id), ['jp1'], q);
    assert.equal(j.hidden, 1);
    assert.equal(j.patients[0].birthdate, res.birthDate);
  }
  assert.ok(events("action = 'search' AND actor = 'dr.int'").length >= 3);
  r = await api('dr.int', 'GET', '/api/patients?q=a&q=b');
  assert.equal(r.status, 400);
});

test('records: a PDF byte for byte, a print event, a retraction 410', async () => {
  const pdf = readFileSync(join(DATA, 'pdfjs-helloworld.pdf'));
  let r = await api('dr.int', 'POST', '/api/records', { patient: 'jp1', type: 'application/pdf', content_base64: pdf.toString('base64') });
  assert.equal(r.status, 400, 'no reason');
  r = await api('dr.int', 'POST', '/api/records', { patient: 'jp1', type: 'application/pdf', content_base64: pdf.toString('base64'), reason: 'referral' });
  assert.equal(r.status, 201, r.body);
  const rid = jsonOf(r).record;
  const got = await new Promise((resolve, reject) => {
    import('node:https').then(({ default: https }) => {
      const q = https.request(`${url}/api/records/${rid}/versions/1?purpose=print`, { ca: s.files.ca, servername: 'localhost', agent: false,
        headers: { Authorization: `Bearer ${tok['dr.int'].token}` } }, (res) => {
        const c = [];
        res.on('data', (d) => c.push(d));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(c) }));
      });
      q.on('error', reject);
      q.end();
    });
  });
  assert.equal(got.status, 200);
  assert.equal(got.headers['content-type'], 'application/pdf');
  assert.ok(got.body.equals(pdf));
  assert.equal(got.headers['x-kura-record'], rid);
  assert.equal(got.headers['x-kura-version'], '1');
  assert.equal(events(`action = 'print' AND actor = 'dr.int' AND outcome = 0`).length, 1);
  r = await api('dr.int', 'POST', `/api/records/${rid}/retract`, { reason: 'wrong patient' });
  assert.equal(r.status, 200, r.body);
  r = await api('dr.int', 'GET', `/api/records/${rid}/versions/2`);
  assert.equal(r.status, 410);
  assert.equal(jsonOf(r).status, 'entered-in-error');
  r = await api('dr.int', 'GET', `/api/records/${rid}`);
  assert.equal(jsonOf(r).versions.length, 2);
});

test('break-glass: denied, opened with a reason, then an alerted read; a clerk may not', async () => {
  // BG-02: the site's alert.command runs at once, with no patient id.
  const script = join(s.dir, 'alert.sh'), out = join(s.dir, 'alert.out');
  writeFileSync(script, `#!/bin/sh\nenv | grep '^KURA_ALERT' | sort > ${out}\n`);
  chmodSync(script, 0o755);
  s.v.admin(['config', 'set', 'alert.command', script]);
  let r = await api('dr.sur', 'GET', '/api/patients/jp1');
  assert.equal(r.status, 403);
  assert.equal(jsonOf(r).breakglass, true);
  r = await api('cl.ito', 'POST', '/api/breakglass', { patient: 'jp1', reason: 'curious' });
  assert.equal(r.status, 403);
  r = await api('dr.sur', 'POST', '/api/breakglass', { patient: 'jp1', reason: 'cardiac arrest in ER' });
  assert.equal(r.status, 200, r.body);
  assert.equal(jsonOf(r).active, true);
  r = await api('dr.sur', 'GET', '/api/patients/jp1');
  assert.equal(r.status, 200, r.body);
  assert.equal(jsonOf(r).access.how, 'breakglass');
  assert.equal(events("action = 'breakglass' AND actor = 'dr.sur' AND severity = 1 AND outcome = 0").length, 1);
  assert.ok(events("action = 'list' AND actor = 'dr.sur' AND severity = 1 AND outcome = 0").length >= 1);
  for (let i = 0; i < 100 && !existsSync(out); i++) await new Promise((res) => setTimeout(res, 50));
  const env = readFileSync(out, 'utf8');
  assert.match(env, /^KURA_ALERT_ACTION=breakglass$/m);
  assert.match(env, /^KURA_ALERT_USER=dr\.sur$/m);
  assert.match(env, /^KURA_ALERT_LEAF=\d+$/m);
  assert.doesNotMatch(env, /jp1/);
});

test('password change with the cookie and CSRF; TOTP enrolment in two steps', async () => {
  const t = tok['dr.pw'];
  const other = await login(s, url, 'dr.pw');
  const post = (path, body, csrf = t.csrf) => request(s, `${url}${path}`, { method: 'POST', client: 'none',
    headers: { Cookie: t.cookie, ...(csrf ? { 'X-CSRF-Token': csrf } : {}), ...JSONH }, body: JSON.stringify(body) });
  const pw = s.v.users.get('dr.pw').password;
  let r = await post('/api/password', { old: pw, new: 'Nw4!pQ9#zLm2@vX' }, null);
  assert.equal(r.status, 403);
  r = await post('/api/password', { old: pw, new: 'short' });
  assert.equal(r.status, 400);
  assert.deepEqual(jsonOf(r).policy, ['too-short']);
  r = await post('/api/password', { old: pw, new: 'Nw4!pQ9#zLm2@vX' });
  assert.equal(r.status, 200, r.body);
  r = await request(s, `${url}/api/me`, { client: 'none', headers: { Authorization: `Bearer ${other.token}` } });
  assert.equal(r.status, 401, 'the other session ended');
  r = await post('/api/factors/totp', {});
  assert.equal(r.status, 200, r.body);
  const { secret_base32: secret, qr_svg: svg } = jsonOf(r);
  assert.match(svg, /^<svg /);
  r = await post('/api/factors/totp/confirm', { code: totp(secret) });
  assert.equal(r.status, 200, r.body);
  assert.equal(events("action = 'factor-enroll' AND actor = 'dr.pw' AND outcome = 0").length, 1);
});
