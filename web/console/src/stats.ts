// Pure figures for the statistics page.
import type { CallStats, DailyStats } from './api';

/**
 * Pick-up rate: completed ÷ (completed + failed), where failed_calls counts failed, no_answer
 * and busy. Calls still live, ended by staff or canceled are left out. null when nothing counts.
 */
export function pickupRate(s: Pick<CallStats, 'completed_calls' | 'failed_calls'>): number | null {
  const den = (s.completed_calls || 0) + (s.failed_calls || 0);
  return den ? (s.completed_calls || 0) / den : null;
}

/** uPlot's columns: x in unix seconds (noon UTC of each day), then total, completed, failed. */
export function dailySeries(rows: DailyStats[]): [number[], number[], number[], number[]] {
  const x: number[] = [], total: number[] = [], completed: number[] = [], failed: number[] = [];
  for (const r of rows) {
    const [y, m, d] = r.date.split('-').map(Number);
    x.push(Date.UTC(y, m - 1, d, 12) / 1000);
    total.push(r.total_calls || 0);
    completed.push(r.completed_calls || 0);
    failed.push(r.failed_calls || 0);
  }
  return [x, total, completed, failed];
}
