import { describe, expect, it } from 'vitest';
import { checkCsv, classifyHeader, foldHeader, placeholders } from '../src/csv';
import { normalizePhone } from '../src/phone';

describe('normalizePhone (the server rules)', () => {
  it('accepts the common Colombian spellings', () => {
    for (const s of ['3001234567', '573001234567', '+57 300 123 4567', '(300) 123-4567', '0057 300 123 4567', '6012345678'])
      expect(normalizePhone(s)).toEqual({ ok: true, e164: s.startsWith('6') ? '+576012345678' : '+573001234567' });
  });
  it('accepts other countries in international form', () => {
    expect(normalizePhone('+34 612 345 678')).toEqual({ ok: true, e164: '+34612345678' });
    expect(normalizePhone('+1 212 555 0100')).toEqual({ ok: true, e164: '+12125550100' });
  });
  it('refuses with the reason', () => {
    const r = (s: string) => {
      const x = normalizePhone(s);
      return x.ok ? '' : x.reason;
    };
    expect(r('12345')).toMatch(/10 digits/);
    expect(r('+57 500 123 4567')).toMatch(/start with 3/);
    expect(r('300-abc')).toMatch(/only hold digits/);
    expect(r('')).toMatch(/no digits/);
    expect(r('+1 112 555 0100')).toMatch(/area code/);
    expect(r('3+001234567')).toMatch(/'\+' may only appear once/);
  });
});

describe('headers', () => {
  it('folds like the import tool', () => {
    expect(foldHeader('Teléfono')).toBe('telefono');
    expect(foldHeader('Número_de-Teléfono')).toBe('numero de telefono');
    expect(foldHeader('  Patient ID ')).toBe('patient id');
  });
  it('classifies phone, patient, appointment and variable columns', () => {
    const c = classifyHeader(['celular', 'Paciente', 'cita', 'appointment_time', '']);
    expect(c).toEqual({ phone: 0, patient: 1, appointment: 2, variables: [{ index: 3, name: 'appointment_time' }] });
    expect(classifyHeader(['nombre', 'hora'])).toEqual({ error: 'csv.header.noPhone' });
    expect(classifyHeader(['phone', 'telefono'])).toEqual({ error: 'csv.header.twoPhones' });
  });
});

describe('checkCsv', () => {
  it('keeps valid rows and reports each bad one by line and field', () => {
    const csv = ['telefono,patient_name,hora', '+57 300 555 0001,Ana,10:00', '12345,Luis,11:00', '3005550002,,', '', '573005550006,Eva,09:30'].join('\n');
    const r = checkCsv(csv, { saludo: 'Hola {{patient_name}}', cuando: 'a las {{ hora }}' });
    expect(r.headerError).toBeUndefined();
    expect(r.rows.map((x) => x.line)).toEqual([2, 3, 4, 6]);
    expect(r.valid.map((x) => x.input.phoneNumber)).toEqual(['+573005550001', '+573005550006']);
    expect(r.errors.map((e) => [e.line, e.field])).toEqual([
      [3, 'phoneNumber'],
      [4, 'variables.patient_name'],
      [4, 'variables.hora'],
    ]);
    expect(r.valid[0].input.variables).toEqual({ patient_name: 'Ana', hora: '10:00' });
  });
  it('built-in variables come from the patient and the appointment', () => {
    const r = checkCsv('paciente;cita\n7;42\n8;\n', { a: '{{patient_name}} {{appointment_time}}' });
    expect(r.valid.map((x) => x.input)).toEqual([{ patientId: 7, appointmentId: 42 }]);
    expect(r.errors).toEqual([{ line: 3, field: 'variables.appointment_time', message: 'csv.err.missingVar', params: { name: 'appointment_time' } }]);
  });
  it('checks ids, the phone-or-patient rule and the system__ prefix', () => {
    const r = checkCsv('phone\tpatientId\tsystem__x\n\t-3\ta\n\t\t\n');
    expect(r.errors.map((e) => [e.line, e.field, e.message])).toEqual([
      [2, 'patientId', 'csv.err.positive'],
      [2, 'variables.system__x', 'csv.err.systemPrefix'],
      [3, 'phoneNumber', 'csv.err.phoneRequired'],
      [3, 'variables.system__x', 'csv.err.systemPrefix'],
    ]);
  });
  it('reads RFC 4180 quotes (a field with the delimiter or a line break) and counts lines', () => {
    const r = checkCsv('telefono|nota\n3005550001|"uno| dos"\n3005550002|"linea\notra"\n12|x\n');
    expect(r.valid.map((x) => x.input.variables?.nota)).toEqual(['uno| dos', 'linea\notra']);
    expect(r.errors.map((e) => e.line)).toEqual([5]);
  });
  it('refuses a header without a phone or patient column, and an empty file', () => {
    expect(checkCsv('nombre,hora\nAna,10\n').headerError).toBe('csv.header.noPhone');
    expect(checkCsv('').headerError).toBe('csv.header.empty');
  });
  it('placeholders are trimmed and only taken from strings', () => {
    expect([...placeholders({ a: '{{ x }} y {{z}}', b: 3, c: '{{unclosed' })]).toEqual(['x', 'z']);
  });
});
