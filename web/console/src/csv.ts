// CSV of campaign recipients, read and checked as outcall-campaign-import and AddRecipients do
// (docs/campaigns.md "Importing a CSV" and "Adding recipients"): the header names the columns
// (a phone column, patientId / paciente, appointmentId / cita; every other column is a variable).
import Papa from 'papaparse';
import { normalizePhone } from './phone';

export const BUILTIN_VARIABLES = ['patient_name', 'patient_id', 'appointment_id', 'appointment_time'];

const PHONE_HEADERS = new Set([
  'numero', 'phone', 'telefono', 'phone number', 'phone e164', 'numero telefono', 'numero de telefono',
  'numero telefonico', 'numero movil', 'celular', 'movil', 'msisdn', 'phonenumber',
]);
const PATIENT_HEADERS = new Set(['patientid', 'patient id', 'paciente', 'id paciente']);
const APPOINTMENT_HEADERS = new Set(['appointmentid', 'appointment id', 'cita', 'id cita']);

/** The import tool's header folding: lower case, accents off, _ - . / and spaces as one space. */
export function foldHeader(name: string): string {
  const s = name.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
  return s.split(/[\s_\-./]+/).filter(Boolean).join(' ');
}

export interface Columns {
  phone?: number;
  patient?: number;
  appointment?: number;
  variables: { index: number; name: string }[];
}

export function classifyHeader(header: string[]): Columns | { error: string } {
  const c: Columns = { variables: [] };
  for (let i = 0; i < header.length; i++) {
    const f = foldHeader(header[i]);
    if (PHONE_HEADERS.has(f)) {
      if (c.phone !== undefined) return { error: 'csv.header.twoPhones' };
      c.phone = i;
    } else if (PATIENT_HEADERS.has(f)) c.patient = i;
    else if (APPOINTMENT_HEADERS.has(f)) c.appointment = i;
    else if (header[i].trim()) c.variables.push({ index: i, name: header[i].trim() });
  }
  if (c.phone === undefined && c.patient === undefined && c.appointment === undefined)
    return { error: 'csv.header.noPhone' };
  return c;
}

export interface RecipientInput {
  phoneNumber?: string;
  patientId?: number;
  appointmentId?: number;
  variables?: Record<string, string>;
}

export interface RowError {
  line: number; // 1-based line of the file (the header is line 1)
  field: string;
  message: string; // an i18n key ("csv.err.*") or the server's text
  params?: Record<string, string | number>;
}

export interface CheckedRow {
  line: number;
  input: RecipientInput;
  errors: RowError[];
}

export interface CsvCheck {
  headerError?: string;
  columns?: Columns;
  rows: CheckedRow[];
  valid: CheckedRow[];
  errors: RowError[];
}

/** {{name}} placeholders of a variables template's string values (names trimmed). */
export function placeholders(template: Record<string, unknown>): Set<string> {
  const out = new Set<string>();
  for (const v of Object.values(template || {})) {
    if (typeof v !== 'string') continue;
    for (const m of v.matchAll(/\{\{([^}]*)\}\}/g)) out.add(m[1].trim());
  }
  return out;
}

function positiveInt(s: string): number | null {
  if (!/^\d+$/.test(s)) return null;
  const n = Number(s);
  return n > 0 && n <= 2147483647 ? n : null;
}

/** Checks one data row against the columns and the template, as the server will. */
export function checkRow(fields: string[], line: number, cols: Columns, template: Set<string>): CheckedRow {
  const input: RecipientInput = {};
  const errors: RowError[] = [];
  const err = (field: string, message: string, params?: Record<string, string | number>) =>
    errors.push({ line, field, message, params });
  const get = (i?: number) => (i === undefined ? '' : (fields[i] ?? '').trim());

  const patient = get(cols.patient);
  const appointment = get(cols.appointment);
  const phone = get(cols.phone);
  if (patient) {
    const n = positiveInt(patient);
    if (n === null) err('patientId', 'csv.err.positive');
    else input.patientId = n;
  }
  if (appointment) {
    const n = positiveInt(appointment);
    if (n === null) err('appointmentId', 'csv.err.positive');
    else input.appointmentId = n;
  }
  if (phone) {
    const p = normalizePhone(phone);
    if (!p.ok) err('phoneNumber', p.reason);
    else input.phoneNumber = p.e164;
  } else if (!patient && !appointment) {
    err('phoneNumber', 'csv.err.phoneRequired');
  }
  const variables: Record<string, string> = {};
  for (const v of cols.variables) {
    const value = get(v.index);
    if (v.name.startsWith('system__')) {
      err(`variables.${v.name}`, 'csv.err.systemPrefix');
      continue;
    }
    if (value !== '') variables[v.name] = value;
  }
  for (const name of template) {
    if (name in variables) continue;
    if ((name === 'patient_name' || name === 'patient_id') && (input.patientId || input.appointmentId)) continue;
    if ((name === 'appointment_id' || name === 'appointment_time') && input.appointmentId) continue;
    err(`variables.${name}`, 'csv.err.missingVar', { name });
  }
  if (Object.keys(variables).length) input.variables = variables;
  return { line, input, errors };
}

/** The delimiter the header uses: the first of , ; tab | under which it names a known column. */
export function detectDelimiter(headerLine: string): string {
  for (const d of [',', ';', '\t', '|']) {
    const names = Papa.parse<string[]>(headerLine, { delimiter: d }).data[0] || [];
    const c = classifyHeader(names);
    if (!('error' in c)) return d;
  }
  return ',';
}

/** Parses a whole CSV text (delimiter , ; tab or |, RFC 4180 quotes) and checks every row. */
export function checkCsv(text: string, template: Record<string, unknown> = {}): CsvCheck {
  const clean = text.replace(/^\uFEFF/, '');
  const firstLine = clean.split(/\r?\n/, 1)[0] || '';
  const parsed = Papa.parse<string[]>(clean, { delimiter: detectDelimiter(firstLine), skipEmptyLines: false });
  const data = parsed.data as string[][];
  const result: CsvCheck = { rows: [], valid: [], errors: [] };
  if (!data.length || !data[0].some((h) => h.trim())) {
    result.headerError = 'csv.header.empty';
    return result;
  }
  const cols = classifyHeader(data[0]);
  if ('error' in cols) {
    result.headerError = cols.error;
    return result;
  }
  result.columns = cols;
  const tmpl = placeholders(template);
  // Line numbers: papaparse gives records, a quoted field may span lines; count them.
  let line = 1 + countBreaks(data[0]);
  for (let r = 1; r < data.length; r++) {
    const fields = data[r];
    line += 1;
    const here = line;
    line += countBreaks(fields);
    if (fields.length === 1 && fields[0].trim() === '') continue; // blank line
    const row = checkRow(fields, here, cols, tmpl);
    result.rows.push(row);
    if (row.errors.length) result.errors.push(...row.errors);
    else result.valid.push(row);
  }
  for (const e of parsed.errors) {
    if (e.code === 'UndetectableDelimiter') continue; // one column: fine
    result.errors.push({ line: (e.row ?? 0) + 2, field: 'csv', message: 'csv.err.quote' });
  }
  return result;
}

function countBreaks(fields: string[]): number {
  let n = 0;
  for (const f of fields) for (const ch of f) if (ch === '\n') n++;
  return n;
}
