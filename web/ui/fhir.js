// fhir.js - FHIR R4 resources as summaries a clinician reads: the codes
// with their systems, quantities with their units, names in kanji and kana
// (JP Core representation extension), dates; everything else of the
// resource stays visible in the raw view.
import { dl, h } from './dom.js';
import { t } from './i18n.js';

const SYS = {
  'http://loinc.org': 'LOINC', 'http://snomed.info/sct': 'SNOMED CT', 'http://unitsofmeasure.org': 'UCUM',
  'http://www.nlm.nih.gov/research/umls/rxnorm': 'RxNorm', 'http://hl7.org/fhir/sid/icd-10': 'ICD-10',
  'urn:oid:1.2.392.200119.4.403.1': 'JLAC10', 'urn:oid:1.2.392.100495.20.2.74': 'HOT',
};
const sys = (s) => SYS[s] || s || '';

export function coding(c) {
  if (!c) return '';
  const code = [sys(c.system), c.code].filter(Boolean).join(' ');
  return h('span.coding', c.display || c.code || '', code ? h('code.code', ` ${code}`) : null);
}

export function concept(cc) {
  if (!cc) return '';
  const codings = cc.coding || [];
  if (!codings.length) return cc.text || '';
  return h('span', cc.text && cc.text !== codings[0].display ? `${cc.text} — ` : '',
    codings.map((c, i) => [i ? '; ' : '', coding(c)]));
}

export function quantity(q) {
  if (!q) return '';
  const unit = q.unit || q.code || '';
  return h('span.qty', `${q.comparator || ''}${q.value ?? ''} ${unit}`.trim(),
    q.system && q.code ? h('code.code', ` ${sys(q.system)} ${q.code}`) : null);
}

const range = (r) => r && [r.low ? quantity(r.low) : '', ' – ', r.high ? quantity(r.high) : ''];
const period = (p) => p && `${p.start || ''} – ${p.end || ''}`;
const ref = (r) => r && (r.display ? `${r.display} (${r.reference || ''})` : r.reference || '');

// One HumanName: kanji text and the kana of the JP Core representation extension.
export function humanName(n) {
  const text = n.text || [...(n.family ? [n.family] : []), ...(n.given || [])].join(' ');
  const rep = (n.extension || []).find((e) => /iso21090-EN-representation/.test(e.url));
  const kind = rep && rep.valueCode === 'SYL' ? t('fhir.kana') : rep && rep.valueCode === 'IDE' ? t('fhir.kanji') : '';
  return kind ? `${text} (${kind})` : text;
}

function value(r) {
  for (const k of Object.keys(r)) {
    if (!k.startsWith('value')) continue;
    const v = r[k];
    if (k === 'valueQuantity') return quantity(v);
    if (k === 'valueCodeableConcept') return concept(v);
    if (k === 'valueRange') return range(v);
    if (k === 'valuePeriod') return period(v);
    if (typeof v !== 'object') return String(v);
  }
  return '';
}

const effective = (r) => r.effectiveDateTime || period(r.effectivePeriod) || r.issued || '';
const dosage = (d) => [d.text, ...(d.doseAndRate || []).map((x) => quantity(x.doseQuantity)),
  d.timing && d.timing.code ? concept(d.timing.code) : ''].filter((x) => x !== '' && x !== undefined);

const SUMMARY = {
  Patient: (r) => [
    [t('fhir.name'), (r.name || []).map((n) => h('div', humanName(n)))],
    [t('fhir.birthDate'), r.birthDate], [t('fhir.gender'), r.gender && t(`fhir.gender.${r.gender}`)],
    [t('fhir.identifier'), (r.identifier || []).map((i) => h('div', `${i.value || ''}`, h('code.code', ` ${i.system || ''}`)))],
    [t('fhir.telecom'), (r.telecom || []).map((x) => h('div', `${x.system || ''}: ${x.value || ''}`))],
    [t('fhir.address'), (r.address || []).map((a) => h('div', a.text || [a.postalCode, a.state, a.city, ...(a.line || [])].filter(Boolean).join(' ')))],
  ],
  Observation: (r) => [
    [t('fhir.code'), concept(r.code)], [t('fhir.value'), value(r)],
    [t('fhir.interpretation'), (r.interpretation || []).map(concept)],
    [t('fhir.referenceRange'), (r.referenceRange || []).map((x) => h('div', x.text || range(x)))],
    [t('fhir.component'), (r.component || []).map((c) => h('div', concept(c.code), ': ', value(c)))],
    [t('fhir.effective'), effective(r)], [t('fhir.category'), (r.category || []).map(concept)],
  ],
  Condition: (r) => [
    [t('fhir.code'), concept(r.code)], [t('fhir.clinicalStatus'), concept(r.clinicalStatus)],
    [t('fhir.verificationStatus'), concept(r.verificationStatus)], [t('fhir.severity'), concept(r.severity)],
    [t('fhir.onset'), r.onsetDateTime || r.onsetString || period(r.onsetPeriod)], [t('fhir.bodySite'), (r.bodySite || []).map(concept)],
  ],
  MedicationRequest: (r) => [
    [t('fhir.medication'), concept(r.medicationCodeableConcept) || ref(r.medicationReference)],
    [t('fhir.intent'), r.intent], [t('fhir.authoredOn'), r.authoredOn], [t('fhir.requester'), ref(r.requester)],
    [t('fhir.dosage'), (r.dosageInstruction || []).map((d) => h('div', dosage(d).map((x, i) => [i ? ' · ' : '', x])))],
  ],
  AllergyIntolerance: (r) => [
    [t('fhir.code'), concept(r.code)], [t('fhir.criticality'), r.criticality], [t('fhir.category'), (r.category || []).join(', ')],
    [t('fhir.clinicalStatus'), concept(r.clinicalStatus)],
    [t('fhir.reaction'), (r.reaction || []).map((x) => h('div', (x.manifestation || []).map(concept), x.severity ? ` (${x.severity})` : ''))],
    [t('fhir.onset'), r.onsetDateTime],
  ],
  Encounter: (r) => [
    [t('fhir.class'), coding(r.class)], [t('fhir.type'), (r.type || []).map(concept)],
    [t('fhir.period'), period(r.period)], [t('fhir.reason'), (r.reasonCode || []).map(concept)],
    [t('fhir.serviceProvider'), ref(r.serviceProvider)],
  ],
  DiagnosticReport: (r) => [
    [t('fhir.code'), concept(r.code)], [t('fhir.category'), (r.category || []).map(concept)],
    [t('fhir.effective'), effective(r)], [t('fhir.result'), (r.result || []).map((x) => h('div', ref(x)))],
    [t('fhir.conclusion'), r.conclusion], [t('fhir.performer'), (r.performer || []).map(ref).join(', ')],
  ],
  DocumentReference: (r) => [
    [t('fhir.type'), concept(r.type)], [t('fhir.description'), r.description], [t('fhir.date'), r.date],
    [t('fhir.content'), (r.content || []).map((c) => h('div', c.attachment && `${c.attachment.title || ''} ${c.attachment.contentType || ''} ${c.attachment.size ? `${c.attachment.size} B` : ''}`))],
  ],
  Binary: (r) => [[t('fhir.contentType'), r.contentType], [t('fhir.size'), r.data ? `${Math.floor(r.data.length * 3 / 4)} B` : '']],
  Bundle: (r) => [[t('fhir.type'), r.type], [t('fhir.entries'), (r.entry || []).map((e) => h('div', e.resource ? `${e.resource.resourceType}/${e.resource.id || ''}` : e.fullUrl || ''))]],
};

export function renderFhir(res) {
  const common = [[t('fhir.resourceType'), res.resourceType], [t('fhir.id'), res.id],
    [t('fhir.status'), res.status], [t('fhir.subject'), ref(res.subject || res.patient)]];
  const f = SUMMARY[res.resourceType];
  const rows = f ? f(res) : Object.entries(res).filter(([, v]) => typeof v !== 'object').map(([k, v]) => [k, String(v)]);
  const narrative = res.text && res.text.div ? h('details.narrative', h('summary', t('fhir.narrative')),
    h('p', new DOMParser().parseFromString(res.text.div, 'text/html').body.textContent.trim())) : null;
  return h('div.fhir', dl([...common, ...rows]), narrative);
}
