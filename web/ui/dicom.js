// dicom.js - the main header fields of a DICOM file (PS3.10), read in the
// browser: the file meta group (explicit VR little endian), then the data
// set in explicit or implicit VR little endian up to the pixel data.  Big
// endian and compressed data sets are named, not parsed.
import { h } from './dom.js';
import { t } from './i18n.js';

// (group,element) → [keyword, i18n key]
const MAIN = {
  '00100010': 'PatientName', '00100020': 'PatientID', '00100030': 'PatientBirthDate',
  '00100040': 'PatientSex', '00080020': 'StudyDate', '00080030': 'StudyTime',
  '00080050': 'AccessionNumber', '00080060': 'Modality', '00080070': 'Manufacturer',
  '00080080': 'InstitutionName', '00080090': 'ReferringPhysicianName', '00081030': 'StudyDescription',
  '0008103E': 'SeriesDescription', '00180015': 'BodyPartExamined', '00180050': 'SliceThickness',
  '00080016': 'SOPClassUID', '00080018': 'SOPInstanceUID', '0020000D': 'StudyInstanceUID',
  '0020000E': 'SeriesInstanceUID', '00200013': 'InstanceNumber', '00280010': 'Rows',
  '00280011': 'Columns', '00280100': 'BitsAllocated', '00280004': 'PhotometricInterpretation',
  '00080005': 'SpecificCharacterSet', '00020010': 'TransferSyntaxUID',
};
const LONG_VR = new Set(['OB', 'OD', 'OF', 'OL', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT', 'OV', 'SV', 'UV']);
const TS = {
  '1.2.840.10008.1.2': 'Implicit VR Little Endian', '1.2.840.10008.1.2.1': 'Explicit VR Little Endian',
  '1.2.840.10008.1.2.2': 'Explicit VR Big Endian', '1.2.840.10008.1.2.4.50': 'JPEG Baseline',
  '1.2.840.10008.1.2.4.90': 'JPEG 2000 (lossless)', '1.2.840.10008.1.2.4.91': 'JPEG 2000',
  '1.2.840.10008.1.2.5': 'RLE Lossless',
};
const MAX_ELEMENTS = 5000;

function decoderFor(charset) {
  const c = charset || '';
  if (/ISO_IR 192/.test(c)) return new TextDecoder('utf-8');
  if (/IR 87|IR 13|IR 159/.test(c)) return new TextDecoder('iso-2022-jp');
  return new TextDecoder('windows-1252');
}

// Bytes → {tags: {'GGGGEEEE': value}, transferSyntax, error?}
export function readDicom(buf) {
  const b = new Uint8Array(buf);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out = { tags: {}, transferSyntax: '', error: '' };
  let o = 0;
  const dicm = b.length > 132 && String.fromCharCode(...b.subarray(128, 132)) === 'DICM';
  if (dicm) o = 132;
  let explicit = dicm; // a file without the preamble: implicit VR little endian (the default)
  let charset = '';
  let n = 0;
  let inMeta = dicm;
  try {
    while (o + 8 <= b.length && n++ < MAX_ELEMENTS) {
      const group = dv.getUint16(o, true);
      if (inMeta && group !== 0x0002) {
        inMeta = false;
        const ts = out.transferSyntax;
        if (ts === '1.2.840.10008.1.2') explicit = false;
        else if (ts === '1.2.840.10008.1.2.2') { out.error = 'big-endian'; break; }
        else if (ts === '1.2.840.10008.1.2.1.99') { out.error = 'deflated'; break; }
      }
      const el = dv.getUint16(o + 2, true);
      const tag = group.toString(16).padStart(4, '0').toUpperCase() + el.toString(16).padStart(4, '0').toUpperCase();
      let vr = '';
      let len;
      const ex = inMeta || explicit;
      if (group === 0xfffe) { len = dv.getUint32(o + 4, true); o += 8; if (len === 0xffffffff) continue; o += len; continue; }
      if (ex) {
        vr = String.fromCharCode(b[o + 4], b[o + 5]);
        if (LONG_VR.has(vr)) { len = dv.getUint32(o + 8, true); o += 12; } else { len = dv.getUint16(o + 6, true); o += 8; }
      } else {
        len = dv.getUint32(o + 4, true); o += 8;
      }
      if (tag === '7FE00010') break; // pixel data: the header is read
      if (len === 0xffffffff) { o = skipUndefined(b, dv, o); continue; }
      if (o + len > b.length) { out.error = 'truncated'; break; }
      if (MAIN[tag]) {
        const raw = b.subarray(o, o + len);
        let v;
        if (vr === 'US' || (!ex && (tag === '00280010' || tag === '00280011' || tag === '00280100'))) v = len >= 2 ? dv.getUint16(o, true) : '';
        else v = (tag === '00080005' ? new TextDecoder('ascii') : decoderFor(charset)).decode(raw).replace(/[\0 ]+$/, '').trim();
        if (tag === '00080005') charset = String(v);
        if (tag === '00020010') out.transferSyntax = String(v);
        out.tags[tag] = v;
      }
      o += len;
    }
  } catch (e) {
    out.error = out.error || 'truncated';
  }
  return out;
}

// Skip a value of undefined length (a sequence or encapsulated pixel data)
// up to and past its sequence delimitation item (FFFE,E0DD), nesting counted.
function skipUndefined(b, dv, o) {
  let depth = 1;
  while (o + 8 <= b.length && depth > 0) {
    const g = dv.getUint16(o, true);
    const e = dv.getUint16(o + 2, true);
    if (g === 0xfffe && e === 0xe0dd) { depth--; o += 8; continue; }
    if (g === 0xfffe && e === 0xe000) { const l = dv.getUint32(o + 4, true); o += 8; if (l !== 0xffffffff) o += l; else depth++; continue; }
    if (g === 0xfffe && e === 0xe00d) { depth--; o += 8; continue; }
    o += 2;
  }
  return o;
}

const fmtDate = (v) => (/^\d{8}$/.test(v) ? `${v.slice(0, 4)}-${v.slice(4, 6)}-${v.slice(6)}` : v);

export function renderDicom(buf, downloadHref, filename) {
  const d = readDicom(buf);
  const rows = Object.entries(MAIN).filter(([tag]) => d.tags[tag] !== undefined && d.tags[tag] !== '')
    .map(([tag, kw]) => {
      let v = d.tags[tag];
      if (/Date$/.test(kw)) v = fmtDate(String(v));
      if (kw === 'PatientName') v = String(v).replace(/\^/g, ' ').replace(/=/g, ' / ');
      if (kw === 'TransferSyntaxUID') v = `${v}${TS[v] ? ` (${TS[v]})` : ''}`;
      return h('tr', h('td', h('code', `(${tag.slice(0, 4)},${tag.slice(4)})`)), h('td', t(`dicom.${kw}`)), h('td', String(v)));
    });
  return h('div.dicom',
    d.error ? h('p.warn', t(`dicom.err.${d.error}`)) : null,
    h('table.grid', h('caption', t('dicom.header')),
      h('thead', h('tr', h('th', { scope: 'col' }, t('dicom.tag')), h('th', { scope: 'col' }, t('hl7.name')), h('th', { scope: 'col' }, t('hl7.value')))),
      h('tbody', rows)),
    h('p', h('a.button', { href: downloadHref, download: filename }, t('record.download'))));
}
