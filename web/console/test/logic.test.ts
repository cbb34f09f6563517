import { describe, expect, it } from 'vitest';
import { actionsFor, finalCount, progress } from '../src/campaign';
import { addDays, clinicDate } from '../src/api';
import { parseRoute } from '../src/route';
import { dailySeries, pickupRate } from '../src/stats';

describe('stats', () => {
  it('pick-up rate is completed over completed + failed', () => {
    expect(pickupRate({ completed_calls: 3, failed_calls: 1 })).toBe(0.75);
    expect(pickupRate({ completed_calls: 0, failed_calls: 0 })).toBeNull();
  });
  it('daily series in uPlot columns', () => {
    const s = dailySeries([{ date: '2026-12-03', total_calls: 2, completed_calls: 1, failed_calls: 1, avg_duration: 0, total_cost: 0 }]);
    expect(s).toEqual([[Date.UTC(2026, 11, 3, 12) / 1000], [2], [1], [1]]);
  });
});

describe('campaign helpers', () => {
  it('progress counts final recipients', () => {
    const c = { total: 10, done: 3, exhausted: 1, optedOut: 1, pending: 5 };
    expect(finalCount(c)).toBe(5);
    expect(progress(c)).toBe(0.5);
    expect(progress({ total: 0 })).toBe(0);
  });
  it('actions follow the state table', () => {
    expect(actionsFor('draft')).toEqual(['start', 'cancel']);
    expect(actionsFor('running')).toEqual(['pause', 'cancel']);
    expect(actionsFor('auto_paused')).toEqual(['resume', 'cancel']);
    expect(actionsFor('completed')).toEqual([]);
  });
});

describe('dates and routes', () => {
  it('clinic date is Bogotá (UTC-5)', () => {
    expect(clinicDate(new Date('2026-12-05T03:00:00Z'))).toBe('2026-12-04');
    expect(addDays('2026-12-01', -1)).toBe('2026-11-30');
  });
  it('parses hash routes', () => {
    expect(parseRoute('#/calls/conv_1').name).toBe('callDetail');
    expect(parseRoute('#/calls/conv_1').id).toBe('conv_1');
    expect(parseRoute('#/campaigns/new').name).toBe('campaignNew');
    expect(parseRoute('#/history?status=completed').query.get('status')).toBe('completed');
    expect(parseRoute('').name).toBe('calls');
  });
});
