// ui.test.mjs - the web UI end to end (issue #6, docs/UI.md): Debian's
// chromium, headless, driven by playwright-core against a real `kura serve`:
// login with TOTP, a Japanese patient found by kana, records of every kind
// rendered (FHIR, HL7 v2, PDF, DICOM), two versions compared, the ledger
// proof verified in the browser, the A4 print view, break-glass, the
// auditor's report and review, the administrator's dashboard, logout, the
// forced password change and TOTP enrolment; in English and in Japanese.
// Every page must cause no console error, no failed request and no request
// outside the server's origin; the CSP, the security headers and the
// session cookie's flags are checked; a logged-out browser reaches only the
// login page.  Screenshots: tests/e2e/out/ui/ (not committed).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { OUT, CHROMIUM, openBrowser, setupUi } from './lib/ui.mjs';
import { request, startServe } from './lib/serve.mjs';
import { ROOT } from './lib/kura.mjs';

const NO_CHROMIUM = existsSync(CHROMIUM) ? false : `no ${CHROMIUM} (scripts/bootstrap installs Debian's chromium)`;
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; " +
  "font-src 'self'; frame-src 'self' blob:; object-src 'self' blob:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
let F;

before(async () => { if (!NO_CHROMIUM) F = await setupUi(); });
after(async () => { if (F) await F.cleanup(); });

const T = { en: (await import(join(ROOT, 'web/ui/en.js'))).default, ja: (await import(join(ROOT, 'web/ui/ja.js'))).default };

// Log in through the form (one step: user, password, code) with the
// keyboard only: the cursor starts in the user field, Tab, Enter.
async function login(b, id, { otp = true } = {}) {
  const p = b.page;
  await p.goto(`${F.base}/`);
  await p.locator('#user:focus').waitFor();
  await p.keyboard.type(id);
  await p.keyboard.press('Tab');
  await p.keyboard.type(F.password(id));
  await p.keyboard.press('Tab');
  if (otp) await p.keyboard.type(await F.code(id));
  await p.keyboard.press('Enter');
  await p.locator('#logout').waitFor({ state: 'visible' });
}

async function logout(b) {
  await b.page.locator('#logout').click();
  await b.page.locator('#login-submit').waitFor();
}

// A failure with what the page showed and what went wrong on it.
async function explain(b, e) {
  const main = await b.page.locator('#main').innerText().catch(() => '?');
  await b.page.screenshot({ path: join(OUT, `failed-${Date.now()}.png`), fullPage: true }).catch(() => {});
  e.message += `\n--- page at ${b.page.url()}:\n${main.slice(0, 1500)}\n--- problems:\n${b.watch.problems.join('\n')}`;
  return e;
}

function clean(b, what) {
  assert.deepEqual(b.watch.problems, [], `${what}: console errors or failed requests`);
  assert.deepEqual(b.watch.foreign, [], `${what}: requests outside the server's origin`);
  assert.ok(b.watch.requests > 0);
}

test('the dictionaries have the same keys in Japanese and English', () => {
  assert.deepEqual(Object.keys(T.ja).sort(), Object.keys(T.en).sort());
  for (const [k, s] of Object.entries(T.ja)) assert.ok(s.trim(), `ja ${k} is empty`);
});

test('the page\'s verifier (web/ui/verify.js) accepts kura\'s inclusion proofs and refuses altered ones', { skip: NO_CHROMIUM }, async () => {
  const { verifyInclusion } = await import(join(ROOT, 'web/ui/verify.js'));
  const pem = F.pubkey;
  for (const [rid, ver] of [[F.rec.obs, 1], [F.rec.obs, 2], [F.rec.dicom, 1]]) {
    const proof = F.proofs[`${rid}@${ver}`];
    const ok = await verifyInclusion(proof, pem, rid, ver);
    assert.equal(ok.leaf.record, rid);
    assert.equal(ok.leaf.version, ver);
    const bad = (f) => { const c = structuredClone(proof); f(c); return verifyInclusion(c, pem, rid, ver); };
    const flip = (hex) => (hex[0] === '0' ? '1' : '0') + hex.slice(1);
    await assert.rejects(bad((c) => { c.sth.root_hash = flip(c.sth.root_hash); }), /signature/);
    await assert.rejects(bad((c) => { c.sth.signature = flip(c.sth.signature); }), /signature/);
    await assert.rejects(bad((c) => { c.leaf = c.leaf.slice(0, -2) + (c.leaf.endsWith('00') ? '01' : '00'); }), /root|leaf/);
    if (proof.path.length) await assert.rejects(bad((c) => { c.path[0] = flip(c.path[0]); }), /root/);
    await assert.rejects(bad((c) => { c.leaf_index += 1; }), /root|beyond|path/);
    await assert.rejects(verifyInclusion(proof, pem, rid, ver + 5), /another version/);
  }
});

test('static files: strict CSP and security headers, ETag, no traversal, no listing', { skip: NO_CHROMIUM }, async () => {
  const ca = readFileSync(F.pki.ca);
  const get = (path, headers = {}) => request(`${F.base}${path}`, { ca, headers });
  const r = await get('/');
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^text\/html; charset=utf-8/);
  assert.equal(r.headers['content-security-policy'], CSP);
  assert.equal(r.headers['x-content-type-options'], 'nosniff');
  assert.equal(r.headers['referrer-policy'], 'no-referrer');
  assert.equal(r.headers['cross-origin-opener-policy'], 'same-origin');
  assert.match(r.headers['strict-transport-security'], /max-age=\d+/);
  assert.doesNotMatch(r.text, /<script(?![^>]*\bsrc=)[^>]*>|\sstyle=|\son\w+=/i, 'no inline script, style or handler');
  const etag = r.headers.etag;
  assert.match(etag, /^"[0-9a-f.-]+"$/);
  assert.equal((await get('/', { 'If-None-Match': etag })).status, 304);
  const js = await get('/ui/app.js');
  assert.equal(js.status, 200);
  assert.match(js.headers['content-type'], /^text\/javascript/);
  assert.equal(js.headers['content-security-policy'], CSP);
  for (const bad of ['/ui/', '/ui/../meson.build', '/ui/%2e%2e/meson.build', '/ui/.hidden', '/ui/app.js.bak', '/index.html', '/ui/nope.js'])
    assert.equal((await get(bad)).status, 404, bad);
  const api = await get('/api/me');
  assert.equal(api.status, 401);
  assert.equal(api.headers['content-security-policy'], "default-src 'none'; frame-ancestors 'none'");
});

test('[ui] dir: symbolic links are never followed, only regular files are served; enabled = off', { skip: NO_CHROMIUM }, async () => {
  const dir = join(F.v.dir, 'webroot');
  mkdirSync(join(dir, 'ui/sub'), { recursive: true });
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>t</title>');
  writeFileSync(join(dir, 'ui/a.js'), 'export const a = 1;\n');
  writeFileSync(join(dir, 'ui/sub/b.css'), 'p{}');
  writeFileSync(join(F.v.dir, 'secret.txt'), 'not for the web');
  symlinkSync(join(F.v.dir, 'secret.txt'), join(dir, 'ui/link.txt'));
  symlinkSync(join(dir, 'ui/sub'), join(dir, 'ui/dirlink'));
  mkfifoOrSkip(join(dir, 'ui/fifo.txt'));
  const ca = readFileSync(F.pki.ca);
  for (const [extra, want] of [[`[ui]\ndir = ${dir}\n`, 'on'], [`[ui]\ndir = ${dir}\nenabled = off\n`, 'off']]) {
    const cfg = join(F.v.dir, `serve-ui-${want}.ini`);
    writeFileSync(cfg, readFileSync(join(F.v.dir, 'serve.ini'), 'utf8') + extra);
    const srv = await startServe(cfg);
    try {
      const get = async (path) => (await request(`${srv.urls[0]}${path}`, { ca })).status;
      if (want === 'on') {
        assert.equal(await get('/'), 200);
        assert.equal(await get('/ui/a.js'), 200);
        assert.equal(await get('/ui/sub/b.css'), 200);
        assert.equal(await get('/ui/link.txt'), 404, 'a link to a file');
        assert.equal(await get('/ui/dirlink/b.css'), 404, 'a link to a directory');
        assert.equal(await get('/ui/sub'), 404, 'a directory');
        if (existsSync(join(dir, 'ui/fifo.txt'))) assert.equal(await get('/ui/fifo.txt'), 404, 'a FIFO');
      } else {
        assert.equal(await get('/'), 404);
        assert.equal(await get('/ui/a.js'), 404);
        assert.equal(await get('/healthz'), 200);
      }
    } finally { await srv.stop(); }
  }
});

function mkfifoOrSkip(path) {
  spawnSync('mkfifo', [path]);
}

for (const lang of ['en', 'ja']) {
  const L = T[lang];
  const bgPatient = lang === 'en' ? 'jp1002' : 'jp1003';

  test(`${lang}: logged out, only the login page; a wrong code is refused`, { skip: NO_CHROMIUM }, async () => {
    const b = await openBrowser(F.base, lang);
    try {
      const p = b.page;
      await b.watch.expect(401, /^\/api\/me$/, async () => {
        await p.goto(`${F.base}/#/admin`);
        await p.locator('#login-submit').waitFor();
      });
      assert.equal(await p.locator('html').getAttribute('lang'), lang);
      // light for a slow terminal: the whole page and its modules in a few requests and bytes
      const load = await p.evaluate(() => performance.getEntriesByType('resource').concat(performance.getEntriesByType('navigation'))
        .reduce((a, e) => ({ n: a.n + 1, bytes: a.bytes + (e.encodedBodySize || 0) }), { n: 0, bytes: 0 }));
      assert.ok(load.n <= 25 && load.bytes < 200_000, `page load: ${JSON.stringify(load)}`);
      assert.equal((await p.locator('h1').textContent()).trim(), L['login.title']);
      await b.shot('login');
      for (const hash of ['#/patients', '#/record/x', '#/audit']) {
        await b.watch.expect(401, /^\/api\/me$/, async () => { await p.goto(`${F.base}/${hash}`); await p.locator('#login-submit').waitFor(); });
        assert.equal(await p.locator('#main a[href^="#/"]').count(), 0, `${hash}: nothing but the login form`);
      }
      const status = await b.watch.expect(401, /^\/api\/patients$/, () => p.evaluate(() => fetch('/api/patients?q=a').then((r) => r.status)));
      assert.equal(status, 401);
      await b.watch.expect(401, /^\/api\/login$/, async () => {
        await p.locator('#user').fill('dr.sato');
        await p.locator('#password').fill(F.password('dr.sato'));
        await p.locator('#otp').fill('000000');
        await p.locator('#login-submit').click();
        await p.locator('#login-error').filter({ hasText: L['login.failed'] }).waitFor();
      });
      await b.shot('login-failed');
      // repeated failures lock the account: the page says so (423, AU-15)
      const who = `dr.lock.${lang}`;
      await b.watch.expect(401, /^\/api\/login$/, () => b.watch.expect(423, /^\/api\/login$/, async () => {
        for (let i = 0; i < 8; i++) {
          await p.locator('#user').fill(who);
          await p.locator('#password').fill(`wrong-${i}`);
          await p.locator('#login-submit').click();
          await p.locator('#login-submit:not([disabled])').waitFor();
          if ((await p.locator('#login-error').textContent()) === L['login.locked']) break;
        }
      }));
      assert.equal(await p.locator('#login-error').textContent(), L['login.locked']);
      await b.shot('login-locked');
      clean(b, 'login');
    } catch (e) { throw await explain(b, e); } finally { await b.close(); }
  });

  test(`${lang}: a doctor finds a Japanese patient, reads every kind of record, verifies, compares, prints, logs out`, { skip: NO_CHROMIUM }, async () => {
    const b = await openBrowser(F.base, lang);
    try {
      const p = b.page;
      await b.watch.expect(401, /^\/api\/me$/, () => login(b, 'dr.sato'));
      const cookies = await b.context.cookies();
      const sess = cookies.find((c) => c.name === 'kura_session');
      assert.ok(sess, `the session cookie is set: ${JSON.stringify(cookies)}`);
      assert.equal(sess.httpOnly, true);
      assert.equal(sess.secure, true);
      assert.equal(sess.sameSite, 'Strict');
      assert.equal(sess.expires, -1, 'a browser-session cookie');
      assert.equal(await p.evaluate(() => document.cookie), '', 'the page cannot read the cookie');
      // search by katakana reading
      await p.locator('#q').fill(lang === 'ja' ? 'おおひら' : 'オオヒラ');
      await p.locator('form.search button[type=submit]').click();
      await p.locator('#results a[href="#/patient/jp1001"]').waitFor();
      assert.match(await p.locator('#results').textContent(), /大平 澪保/);
      await b.shot('search');
      await p.locator('#results a[href="#/patient/jp1001"]').click();
      await p.locator('ol.timeline').waitFor();
      assert.equal(await p.locator('ol.timeline li').count(), 5);
      await b.shot('patient');
      const open = async (rid, kind) => {
        await p.goto(`${F.base}/#/record/${rid}`);
        await p.locator(`.content[data-kind="${kind}"]`).waitFor();
        await p.locator('#proof .verified, #proof .failed').first().waitFor();
        assert.equal(await p.locator('#proof .verified').count(), 1, `${kind}: ${await p.locator('#proof').textContent()}`);
      };
      await open(F.rec.obs, 'fhir');
      const fhir = await p.locator('.content').textContent();
      assert.match(fhir, /HbA1c|Hemoglobin A1c/);
      assert.match(fhir, /LOINC 4548-4/);
      assert.match(fhir, /6\.9 %/);
      assert.match(await p.locator('#proof').textContent(), new RegExp(L['proof.verified']));
      await b.shot('record-fhir');
      await p.locator('#raw-toggle').click();
      assert.match(await p.locator('pre.raw').textContent(), /"resourceType": "Observation"/);
      await p.locator('#raw-toggle').click();
      // history and the difference of version 1 and 2
      await p.locator('#compare').click();
      await p.locator('table.diff').waitFor();
      assert.match(await p.locator('td.del').first().textContent(), /7\.9/);
      assert.match(await p.locator('td.add').first().textContent(), /6\.9/);
      assert.match(await p.locator('#main').textContent(), /transcription error/);
      await b.shot('compare');
      await open(F.rec.hl7, 'hl7');
      const hl7 = await p.locator('.content').textContent();
      assert.match(hl7, /Patient Name/);
      assert.match(hl7, /JONES/);
      assert.match(hl7, /LDL-C/);
      assert.match(await p.locator('table.hl7-results tr.abnormal').first().textContent(), /134/);
      assert.match(hl7, new RegExp(L['hl7.seg.OBX']));
      await b.shot('record-hl7');
      await open(F.rec.pdf, 'pdf');
      const src = await p.locator('iframe.pdf').getAttribute('src');
      assert.match(src, /^blob:/);
      await p.waitForTimeout(1500); // the viewer draws the page for the screenshot
      await b.shot('record-pdf');
      await open(F.rec.dicom, 'dicom');
      const dcm = await p.locator('.content').textContent();
      assert.match(dcm, /CT/);
      assert.match(dcm, new RegExp(L['dicom.Modality']));
      assert.match(dcm, /1\.2\.840\.10008\.1\.2\.1/);
      const [dl] = await Promise.all([p.waitForEvent('download'), p.locator('.dicom a[download]').click()]);
      assert.match(dl.suggestedFilename(), /\.dcm$/);
      await b.shot('record-dicom');
      // the print view: version, time, author and a verification code, A4
      await p.goto(`${F.base}/#/print/record/${F.rec.obs}`);
      await p.locator('.vcode code').first().waitFor();
      const vcode = await p.locator('.vcode').textContent();
      assert.match(vcode, new RegExp(`${F.rec.obs}@2`));
      assert.match(vcode, /leaf [0-9a-f]{16} · tree \d+/);
      assert.match(await p.locator('.print-record').textContent(), /dr\.sato/);
      await p.emulateMedia({ media: 'print' });
      await b.shot('print-record');
      await p.pdf({ path: join(OUT, `${lang}-print-record.pdf`), format: 'A4' });
      await p.emulateMedia({ media: 'screen' });
      await p.goto(`${F.base}/#/print/patient/jp1001`);
      await p.locator('.print-record').nth(4).waitFor();
      await p.pdf({ path: join(OUT, `${lang}-print-patient.pdf`), format: 'A4' });
      // logout: the cookie no longer works
      await logout(b);
      await b.watch.expect(401, /^\/api\/(me|patients\/jp1001)$/, async () => {
        await p.goto(`${F.base}/#/patient/jp1001`);
        await p.locator('#login-submit').waitFor();
        assert.equal(await p.evaluate(() => fetch('/api/patients/jp1001').then((r) => r.status)), 401);
      });
      clean(b, 'doctor');
    } catch (e) { throw await explain(b, e); } finally { await b.close(); }
  });

  test(`${lang}: break-glass outside the scope: explained, reason asked, time left shown`, { skip: NO_CHROMIUM }, async () => {
    const b = await openBrowser(F.base, lang);
    try {
      const p = b.page;
      await b.watch.expect(401, /^\/api\/me$/, () => login(b, 'dr.er'));
      // the search finds the id but hides the patient: the page offers to open it by id
      await p.locator('#q').fill(bgPatient);
      await p.locator('form.search button[type=submit]').click();
      await p.locator('#open-by-id').waitFor();
      await b.watch.expect(403, new RegExp(`^/api/patients/${bgPatient}$`), async () => {
        await p.locator('#open-by-id').click();
        await p.locator('#bg-reason').waitFor();
      });
      assert.match(await p.locator('.bg').textContent(), new RegExp(L['bg.explain'].slice(0, 12)));
      await b.shot('breakglass-dialog');
      await p.locator('#bg-open').click(); // no reason: the form is not sent
      assert.equal(await p.locator('#bg-reason').evaluate((e) => e.validity.valueMissing), true);
      assert.equal(await p.locator('ol.timeline').count(), 0);
      await p.locator('#bg-reason').fill('unconscious patient in the ER');
      await p.locator('#bg-open').click();
      await p.locator('ol.timeline').waitFor();
      await p.locator('.banner.alert').waitFor();
      assert.match(await p.locator('.banner.alert').textContent(), /\d+:\d\d/);
      await b.shot('breakglass-open');
      // the session ends on the server (idle limit, logout elsewhere): the next step says so
      await p.evaluate(() => fetch('/api/me').then((r) => r.json()).then((me) => fetch('/api/logout', { method: 'POST', headers: { 'X-CSRF-Token': me.csrf_token } })));
      await b.watch.expect(401, /^\/api\/(patients\/.*|me)$/, async () => {
        await p.locator('nav a[href="#/patients"]').click();
        await p.locator('#q').fill('jp');
        await b.watch.expect(401, /^\/api\/patients$/, async () => {
          await p.locator('form.search button[type=submit]').click();
          await p.locator('#login-error', { hasText: L['login.expired'] }).waitFor();
        });
      });
      await b.shot('session-ended');
      clean(b, 'break-glass');
    } catch (e) { throw await explain(b, e); } finally { await b.close(); }
  });

  test(`${lang}: the auditor sees who accessed a patient, the break-glass flagged, and marks a period reviewed`, { skip: NO_CHROMIUM }, async () => {
    const b = await openBrowser(F.base, lang);
    try {
      const p = b.page;
      await b.watch.expect(401, /^\/api\/me$/, () => login(b, 'au.kimura'));
      await p.locator('#a-patient').waitFor();
      await p.locator('#a-patient').fill(bgPatient);
      await p.locator('#a-search').click();
      await p.locator('#audit-results table').waitFor();
      assert.ok(await p.locator('tr.bg-row').count() >= 1, 'the break-glass access is flagged');
      assert.match(await p.locator('#audit-results').textContent(), /dr\.er/);
      await b.shot('audit-patient');
      await p.goto(`${F.base}/#/audit?user=dr.sato`);
      await p.locator('#audit-results table').waitFor();
      await p.locator('#a-anomalies').click();
      await p.locator('#audit-results h2').waitFor();
      await b.shot('audit-anomalies');
      const now = new Date();
      await p.locator('#r-from').fill(new Date(now - 3600e3).toISOString().replace(/\.\d+Z$/, 'Z'));
      await p.locator('#r-to').fill(new Date(+now + 60e3).toISOString().replace(/\.\d+Z$/, 'Z'));
      await p.locator('#r-submit').click();
      await p.locator('#r-result.ok').waitFor();
      await b.shot('audit-review');
      await logout(b);
      clean(b, 'auditor');
    } catch (e) { throw await explain(b, e); } finally { await b.close(); }
  });

  test(`${lang}: the security administrator's dashboard`, { skip: NO_CHROMIUM }, async () => {
    const b = await openBrowser(F.base, lang);
    try {
      const p = b.page;
      // (the logged-out test locked dr.lock.LANG through the page; made sure of here too)
      for (let i = 0; i < 8; i++) {
        const r = await request(`${F.base}/api/login`, { ca: readFileSync(F.pki.ca), method: 'POST',
          headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user: `dr.lock.${lang}`, password: 'wrong' }) });
        if (r.status === 423) break;
      }
      await b.watch.expect(401, /^\/api\/me$/, () => login(b, 'sec.tanaka'));
      await p.locator('#accounts table').waitFor();
      for (const id of ['#alerts', '#accounts', '#roles', '#policy', '#tls', '#ledger', '#backups']) assert.equal(await p.locator(id).count(), 1, id);
      assert.match(await p.locator('#accounts').textContent(), /dr\.new/);
      assert.match(await p.locator('#tls').textContent(), /TLSv1\.3|TLS ?1\.3/);
      assert.match(await p.locator('#accounts tr.locked').first().textContent(), /dr\.lock\./, 'locked accounts are marked');
      await b.shot('admin');
      await logout(b);
      clean(b, 'admin');
    } catch (e) { throw await explain(b, e); } finally { await b.close(); }
  });
}

test('en: a doctor writes a draft, confirms, amends and retracts it, each with a reason', { skip: NO_CHROMIUM }, async () => {
  const b = await openBrowser(F.base, 'en');
  try {
    const p = b.page;
    await b.watch.expect(401, /^\/api\/me$/, () => login(b, 'dr.sato'));
    await p.goto(`${F.base}/#/write/jp1001`);
    await p.locator('#w-type').selectOption('text/plain');
    await p.locator('#w-content').fill('外来メモ: 血圧 128/82 mmHg\n');
    await p.locator('#w-reason').fill('outpatient visit');
    await p.locator('#w-submit').click();
    await p.locator('.content[data-kind="text"]').waitFor();
    assert.match(await p.locator('h1').textContent(), /draft/);
    await p.locator('summary', { hasText: T.en['actions.confirm'] }).click();
    await p.locator('#confirm-reason').fill('checked with the patient');
    await p.locator('#confirm-submit').click();
    await p.locator('h1', { hasText: 'v2' }).waitFor();
    assert.match(await p.locator('h1').textContent(), /confirmed/);
    await p.locator('summary', { hasText: T.en['actions.amend'] }).click();
    await p.locator('#amend-content').fill('外来メモ: 血圧 132/84 mmHg\n');
    await p.locator('#amend-reason').fill('second measurement');
    await p.locator('#amend-confirm').check();
    await p.locator('#amend-submit').click();
    await p.locator('h1', { hasText: 'v3' }).waitFor();
    assert.match(await p.locator('.content').textContent(), /132\/84/);
    await b.shot('record-amended');
    await p.locator('summary', { hasText: T.en['actions.retract'] }).click();
    await p.locator('#retract-reason').fill('wrong patient');
    await p.locator('#retract-submit').click();
    await p.locator('h1', { hasText: 'v4' }).waitFor();
    assert.ok((await p.locator('#main').textContent()).includes(T.en['record.retracted']));
    assert.match(await p.locator('table.grid').last().textContent(), /wrong patient/);
    await logout(b);
    clean(b, 'writes');
  } catch (e) { throw await explain(b, e); } finally { await b.close(); }
});

test('en: forced password change, then TOTP enrolment with the QR code', { skip: NO_CHROMIUM }, async () => {
  const b = await openBrowser(F.base, 'en');
  try {
    const p = b.page;
    await b.watch.expect(401, /^\/api\/me$/, () => login(b, 'dr.new', { otp: false }));
    await p.locator('#new-password').waitFor();
    await b.shot('password-forced');
    const pw = `Zr8#${Date.now().toString(36)}Qw!x`;
    await p.locator('#old-password').fill(F.password('dr.new'));
    await p.locator('#new-password').fill(pw);
    await p.locator('#new-password2').fill(pw);
    await p.locator('#password-submit, form button[type=submit]').first().click();
    // a doctor's policy may not require a second factor (then the account page offers it)
    await p.locator('#totp-start, form.search').first().waitFor();
    assert.match(await p.locator('#banner').textContent(), new RegExp(T.en['password.changed'].slice(0, 16)));
    if (!(await p.locator('#totp-start').count())) {
      await p.locator('nav a[href="#/account"]').click();
      await p.locator('a[href="#/totp"]').click();
    }
    await p.locator('#totp-start').click();
    await p.locator('img.qr').waitFor();
    assert.match(await p.locator('img.qr').getAttribute('src'), /^blob:/);
    const secret = (await p.locator('#totp-secret').textContent()).trim();
    await b.shot('totp-enrol');
    const { totp } = await import('./lib/kura.mjs');
    await p.locator('#totp-code').fill(totp(secret));
    await p.locator('form button[type=submit]').click();
    await p.locator('form.search').waitFor();
    assert.match(await p.locator('#banner').textContent(), new RegExp(T.en['totp.done']));
    // the next login needs the code: the factor is enrolled
    await logout(b);
    await b.watch.expect(401, /^\/api\/login$/, async () => {
      await p.locator('#user').fill('dr.new');
      await p.locator('#password').fill(pw);
      await p.locator('#login-submit').click();
      await p.locator('#login-error').filter({ hasText: T.en['login.failed'] }).waitFor();
    });
    await p.locator('#password').fill(pw);
    await p.locator('#otp').fill(totp(secret, { step: 1 }));
    await p.locator('#login-submit').click();
    await p.locator('form.search').waitFor();
    clean(b, 'enrolment');
  } catch (e) { throw await explain(b, e); } finally { await b.close(); }
});
