import { describe, expect, it } from 'vitest';
import { backoffMs, LineSplitter, parseLine } from '../src/ndjson';

describe('LineSplitter', () => {
  it('returns complete lines and keeps the unfinished tail', () => {
    const s = new LineSplitter();
    expect(s.push('{"a":1}\n{"b"')).toEqual(['{"a":1}']);
    expect(s.push(':2}\n')).toEqual(['{"b":2}']);
    expect(s.push('')).toEqual([]);
    expect(s.flush()).toEqual([]);
  });
  it('splits several lines in one chunk, CRLF too, and byte-by-byte input', () => {
    const s = new LineSplitter();
    expect(s.push('x\r\ny\n\nz\n')).toEqual(['x', 'y', '', 'z']);
    const b = new LineSplitter();
    const out: string[] = [];
    for (const ch of 'one\ntwo\n') out.push(...b.push(ch));
    expect(out).toEqual(['one', 'two']);
  });
  it('flushes a last line without a newline', () => {
    const s = new LineSplitter();
    expect(s.push('{"a":1}')).toEqual([]);
    expect(s.flush()).toEqual(['{"a":1}']);
    expect(s.flush()).toEqual([]);
  });
  it('keeps a multi-byte character split across chunks intact (with a streaming decoder)', () => {
    const bytes = new TextEncoder().encode('{"m":"llamó"}\n');
    const d = new TextDecoder();
    const s = new LineSplitter();
    const cut = bytes.indexOf(0xc3) + 1; // inside "ó"
    const lines = [...s.push(d.decode(bytes.slice(0, cut), { stream: true })), ...s.push(d.decode(bytes.slice(cut), { stream: true }))];
    expect(lines).toEqual(['{"m":"llamó"}']);
  });
});

describe('parseLine', () => {
  it('parses a CallUpdate', () => {
    const p = parseLine('{"conversationId":"conv_1","callId":"c","status":"ringing","previousStatus":"initiated","cause":"","at":"2026-12-04T15:00:00Z"}', 'conversationId');
    expect(p.kind).toBe('message');
    if (p.kind === 'message') expect((p.value as { status: string }).status).toBe('ringing');
  });
  it('skips blank lines and garbage', () => {
    expect(parseLine('', 'conversationId').kind).toBe('skip');
    expect(parseLine('   ', 'conversationId').kind).toBe('skip');
    expect(parseLine('not json', 'conversationId').kind).toBe('skip');
    expect(parseLine('[1,2]', 'conversationId').kind).toBe('skip');
  });
  it('treats {code, message} without the id as the stream error', () => {
    const p = parseLine('{"code":8,"message":"watcher fell behind","details":[]}', 'conversationId');
    expect(p).toEqual({ kind: 'error', error: { code: 8, message: 'watcher fell behind' } });
  });
  it('a message that has code and message and the id is a message', () => {
    expect(parseLine('{"conversationId":"x","code":1,"message":"m"}', 'conversationId').kind).toBe('message');
  });
  it('tolerates a JSON array streamed as it grows', () => {
    expect(parseLine('[{"campaignId":"a","state":"running"}', 'campaignId').kind).toBe('message');
    expect(parseLine(',{"campaignId":"a","state":"paused"}', 'campaignId').kind).toBe('message');
    expect(parseLine(']', 'campaignId').kind).toBe('skip');
  });
  it('unwraps {"result": ...} and {"error": ...}', () => {
    expect(parseLine('{"result":{"campaignId":"a"}}', 'campaignId').kind).toBe('message');
    expect(parseLine('{"error":{"code":14,"message":"down"}}', 'campaignId')).toEqual({ kind: 'error', error: { code: 14, message: 'down' } });
  });
});

describe('backoffMs', () => {
  it('doubles from 1 s and stops at the cap, with bounded jitter', () => {
    expect(backoffMs(0, 30000, () => 0)).toBe(1000);
    expect(backoffMs(1, 30000, () => 0)).toBe(2000);
    expect(backoffMs(3, 30000, () => 0)).toBe(8000);
    expect(backoffMs(10, 30000, () => 0)).toBe(30000);
    expect(backoffMs(10, 30000, () => 1)).toBe(36000);
  });
});
