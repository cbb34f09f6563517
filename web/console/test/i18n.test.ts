import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dictionaries, fill } from '../src/i18n';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : /\.(ts|tsx)$/.test(n) ? [p] : [];
  });
}

describe('i18n', () => {
  const es = Object.keys(dictionaries.es).sort();
  const en = Object.keys(dictionaries.en).sort();
  it('both languages have exactly the same keys', () => {
    expect(en.filter((k) => !es.includes(k))).toEqual([]);
    expect(es.filter((k) => !en.includes(k))).toEqual([]);
  });
  it('no string is empty and both use the same placeholders', () => {
    for (const k of es) {
      expect(dictionaries.es[k].trim(), k).not.toBe('');
      expect(dictionaries.en[k].trim(), k).not.toBe('');
      const ph = (s: string) => [...s.matchAll(/(?<!\{)\{(\w+)\}/g)].map((m) => m[1]).sort();
      expect(ph(dictionaries.en[k]), k).toEqual(ph(dictionaries.es[k]));
    }
  });
  it('every key the sources use exists, and every run-time prefix has its values', () => {
    const src = sources(join(__dirname, '../src')).map((p) => readFileSync(p, 'utf8')).join('\n');
    const used = new Set<string>();
    for (const m of src.matchAll(/\bt\(\s*'([\w.]+)'/g)) used.add(m[1]);
    for (const m of src.matchAll(/'((?:csv|newc|campaigns|call|stats|detail)\.[\w.]+)'/g)) if (m[1].split('.').length >= 2) used.add(m[1]);
    const missing = [...used].filter((k) => !(k in dictionaries.es) && !k.endsWith('.'));
    expect(missing).toEqual([]);
    const states = ['queued', 'dialing', 'initiated', 'ringing', 'in_progress', 'completed', 'failed', 'no_answer', 'busy', 'ended_manually', 'canceled'];
    for (const s of states) expect(`status.${s}` in dictionaries.es, s).toBe(true);
    for (const s of ['draft', 'scheduled', 'running', 'paused', 'auto_paused', 'completed', 'canceled', 'expired'])
      expect(`cstate.${s}` in dictionaries.es, s).toBe(true);
    for (const s of ['confirmation', 'reminder', 'survey', 'promotion', 'collection']) expect(`purpose.${s}` in dictionaries.es).toBe(true);
    for (const s of ['confirmed', 'reschedule_requested', 'canceled', 'call_again', 'no_action']) expect(`decision.${s}` in dictionaries.es).toBe(true);
  });
  it('fills placeholders, and {{{name}}} becomes {{value}}', () => {
    expect(fill('a {x} b', { x: 1 })).toBe('a 1 b');
    expect(fill(dictionaries.es['csv.err.missingVar'], { name: 'hora' })).toBe('falta: la plantilla usa {{hora}}');
  });
});
