// hl7.js - an HL7 v2 message (ER7, "|^~\&") as a table of segments and
// fields with their names from the standard (v2.5.1 numbering, which the
// earlier versions share for these fields).
import { h } from './dom.js';
import { t } from './i18n.js';

const F = {
  MSH: ['Field Separator', 'Encoding Characters', 'Sending Application', 'Sending Facility',
    'Receiving Application', 'Receiving Facility', 'Date/Time of Message', 'Security', 'Message Type',
    'Message Control ID', 'Processing ID', 'Version ID', 'Sequence Number', 'Continuation Pointer',
    'Accept Acknowledgment Type', 'Application Acknowledgment Type', 'Country Code', 'Character Set',
    'Principal Language of Message'],
  EVN: ['Event Type Code', 'Recorded Date/Time', 'Date/Time Planned Event', 'Event Reason Code',
    'Operator ID', 'Event Occurred', 'Event Facility'],
  PID: ['Set ID', 'Patient ID', 'Patient Identifier List', 'Alternate Patient ID', 'Patient Name',
    "Mother's Maiden Name", 'Date/Time of Birth', 'Administrative Sex', 'Patient Alias', 'Race',
    'Patient Address', 'County Code', 'Phone Number - Home', 'Phone Number - Business',
    'Primary Language', 'Marital Status', 'Religion', 'Patient Account Number', 'SSN Number',
    "Driver's License Number", "Mother's Identifier", 'Ethnic Group', 'Birth Place',
    'Multiple Birth Indicator', 'Birth Order', 'Citizenship', 'Veterans Military Status',
    'Nationality', 'Patient Death Date and Time', 'Patient Death Indicator'],
  PD1: ['Living Dependency', 'Living Arrangement', 'Patient Primary Facility', 'Patient Primary Care Provider'],
  NK1: ['Set ID', 'Name', 'Relationship', 'Address', 'Phone Number', 'Business Phone Number', 'Contact Role'],
  PV1: ['Set ID', 'Patient Class', 'Assigned Patient Location', 'Admission Type', 'Preadmit Number',
    'Prior Patient Location', 'Attending Doctor', 'Referring Doctor', 'Consulting Doctor',
    'Hospital Service', 'Temporary Location', 'Preadmit Test Indicator', 'Re-admission Indicator',
    'Admit Source', 'Ambulatory Status', 'VIP Indicator', 'Admitting Doctor', 'Patient Type',
    'Visit Number', 'Financial Class'],
  ORC: ['Order Control', 'Placer Order Number', 'Filler Order Number', 'Placer Group Number',
    'Order Status', 'Response Flag', 'Quantity/Timing', 'Parent', 'Date/Time of Transaction',
    'Entered By', 'Verified By', 'Ordering Provider'],
  OBR: ['Set ID', 'Placer Order Number', 'Filler Order Number', 'Universal Service Identifier',
    'Priority', 'Requested Date/Time', 'Observation Date/Time', 'Observation End Date/Time',
    'Collection Volume', 'Collector Identifier', 'Specimen Action Code', 'Danger Code',
    'Relevant Clinical Information', 'Specimen Received Date/Time', 'Specimen Source',
    'Ordering Provider', 'Order Callback Phone Number', 'Placer Field 1', 'Placer Field 2',
    'Filler Field 1', 'Filler Field 2', 'Results Rpt/Status Chng - Date/Time', 'Charge to Practice',
    'Diagnostic Serv Sect ID', 'Result Status'],
  OBX: ['Set ID', 'Value Type', 'Observation Identifier', 'Observation Sub-ID', 'Observation Value',
    'Units', 'References Range', 'Abnormal Flags', 'Probability', 'Nature of Abnormal Test',
    'Observation Result Status', 'Effective Date of Reference Range', 'User Defined Access Checks',
    'Date/Time of the Observation', "Producer's ID", 'Responsible Observer', 'Observation Method'],
  NTE: ['Set ID', 'Source of Comment', 'Comment', 'Comment Type'],
  AL1: ['Set ID', 'Allergen Type Code', 'Allergen Code/Mnemonic/Description', 'Allergy Severity Code',
    'Allergy Reaction Code', 'Identification Date'],
  DG1: ['Set ID', 'Diagnosis Coding Method', 'Diagnosis Code', 'Diagnosis Description',
    'Diagnosis Date/Time', 'Diagnosis Type'],
  MSA: ['Acknowledgment Code', 'Message Control ID', 'Text Message', 'Expected Sequence Number'],
  ERR: ['Error Code and Location', 'Error Location', 'HL7 Error Code', 'Severity'],
  RXA: ['Give Sub-ID Counter', 'Administration Sub-ID Counter', 'Date/Time Start of Administration',
    'Date/Time End of Administration', 'Administered Code', 'Administered Amount',
    'Administered Units', 'Administered Dosage Form', 'Administration Notes', 'Administering Provider'],
  QAK: ['Query Tag', 'Query Response Status', 'Message Query Name', 'Hit Count'],
  QPD: ['Message Query Name', 'Query Tag', 'Parameters'],
  FHS: ['File Field Separator', 'File Encoding Characters', 'File Sending Application',
    'File Sending Facility', 'File Receiving Application', 'File Receiving Facility',
    'File Creation Date/Time', 'File Security', 'File Name/ID', 'File Header Comment'],
  BHS: ['Batch Field Separator', 'Batch Encoding Characters', 'Batch Sending Application',
    'Batch Sending Facility', 'Batch Receiving Application', 'Batch Receiving Facility',
    'Batch Creation Date/Time', 'Batch Security', 'Batch Name/ID/Type', 'Batch Comment'],
  BTS: ['Batch Message Count', 'Batch Comment', 'Batch Totals'],
  FTS: ['File Batch Count', 'File Trailer Comment'],
};

// Segment id → i18n key of its name ("hl7.seg.PID"); unknown ones (Z-segments) get none.
const segName = (id) => (F[id] ? t(`hl7.seg.${id}`) : /^Z/.test(id) ? t('hl7.seg.Z') : '');

export function looksLikeHl7(text) {
  return /^(MSH|FHS|BHS)\|/.test(text.replace(/^\uFEFF/, ''));
}

// ER7 text → [{id, fields: [{n, name, value, components}]}]
export function parseHl7(text) {
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/).filter((l) => l.trim());
  const out = [];
  let fs = '|';
  let cs = '^';
  for (const line of lines) {
    const id = line.slice(0, 3);
    if (/^(MSH|FHS|BHS)$/.test(id)) { fs = line[3] || '|'; cs = line[4] || '^'; }
    const parts = line.split(fs);
    const fields = [];
    const header = /^(MSH|FHS|BHS)$/.test(id);
    // MSH-1 is the separator itself: MSH-2 is parts[1]
    if (header) fields.push({ n: 1, value: fs });
    parts.slice(1).forEach((v, i) => {
      const n = header ? i + 2 : i + 1;
      if (v !== '') fields.push({ n, value: v, components: v.split(cs) });
    });
    out.push({ id, fields: fields.map((f) => ({ ...f, name: (F[id] || [])[f.n - 1] || '' })) });
  }
  return out;
}

// Components as one line: "JHDL · HDL Cholesterol (CAD)" (empty ones left out).
const comps = (f) => (f && f.components ? f.components.filter((c) => c !== '' && c !== '""').join(' · ') : (f && f.value) || '');
const field = (s, n) => s && s.fields.find((f) => f.n === n);

// For a result message: one row per OBX, as a clinician reads it.
function resultsTable(segs) {
  const obx = segs.filter((s) => s.id === 'OBX');
  if (!obx.length) return null;
  return h('table.grid.hl7-results', h('caption', t('hl7.results')),
    h('thead', h('tr', [t('hl7.test'), t('hl7.value'), t('hl7.unit'), t('hl7.range'), t('hl7.flag'), t('hl7.status')].map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', obx.map((o) => {
      const flag = comps(field(o, 8));
      return h(`tr${flag && flag !== 'N' ? '.abnormal' : ''}`, h('td', comps(field(o, 3))), h('td', h('strong', comps(field(o, 5)))),
        h('td', comps(field(o, 6))), h('td', comps(field(o, 7))), h('td', flag), h('td', comps(field(o, 11))));
    })));
}

export function renderHl7(text) {
  const segs = parseHl7(text);
  const msh = segs.find((s) => s.id === 'MSH');
  const pid = segs.find((s) => s.id === 'PID');
  const get = (s, n) => (field(s, n) || {}).value;
  return h('div.hl7',
    msh ? h('p.summary', `${t('hl7.message')}: ${comps(field(msh, 9))} · ${t('hl7.version')} ${get(msh, 12) || '?'} · ${t('hl7.sent')} ${get(msh, 7) || '?'}`) : null,
    pid ? h('p.summary', `${t('hl7.patient')}: ${comps(field(pid, 5))} · ${comps(field(pid, 3))} · ${get(pid, 7) || ''} · ${get(pid, 8) || ''}`) : null,
    resultsTable(segs),
    h('h3', t('hl7.segments')),
    segs.map((s, i) => h('section.seg', { 'aria-label': `${s.id} ${segName(s.id)}` },
      h('h4', h('code', s.id), ' ', segName(s.id), h('span.muted', ` #${i + 1}`)),
      h('table.grid.hl7f', h('thead', h('tr', h('th', { scope: 'col' }, t('hl7.field')), h('th', { scope: 'col' }, t('hl7.name')), h('th', { scope: 'col' }, t('hl7.value')))),
        h('tbody', s.fields.map((f) => h('tr', h('td', h('code', `${s.id}-${f.n}`)), h('td', f.name),
          h('td', f.n <= 2 && /^(MSH|FHS|BHS)$/.test(s.id) ? h('code', f.value) : comps(f)))))))));
}
