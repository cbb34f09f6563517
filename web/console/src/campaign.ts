// Pure campaign helpers: progress from counters, the actions a state allows.
import type { Counters } from './api';

export function finalCount(c?: Partial<Counters>): number {
  if (!c) return 0;
  return (c.done || 0) + (c.exhausted || 0) + (c.ineligible || 0) + (c.optedOut || 0) + (c.canceled || 0) + (c.expired || 0);
}

export function progress(c?: Partial<Counters>): number {
  const total = c?.total || 0;
  return total ? Math.min(1, finalCount(c) / total) : 0;
}

export type Action = 'start' | 'pause' | 'resume' | 'cancel';

/** What docs/campaigns.md's state table allows from each state. */
export function actionsFor(state: string): Action[] {
  switch (state) {
    case 'draft':
      return ['start', 'cancel'];
    case 'scheduled':
    case 'running':
      return ['pause', 'cancel'];
    case 'paused':
    case 'auto_paused':
      return ['resume', 'cancel'];
    default:
      return [];
  }
}

export const COUNTER_KEYS: (keyof Counters)[] = [
  'pending', 'scheduled', 'dialing', 'inCall', 'done', 'exhausted', 'ineligible', 'optedOut', 'canceled', 'expired',
];
