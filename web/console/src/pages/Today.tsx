import { useEffect, useRef, useState } from 'preact/hooks';
import { clinicDate, get, query, stream, type CallSummary, type CallUpdate, type ListCallsResponse } from '../api';
import { formatPhone } from '../phone';
import { formatTime, t } from '../i18n';
import { duration, ErrorBox, LiveDot, StatusBadge } from '../ui';

const PAGE = 50;

export function CallRows({ calls, flash }: { calls: CallSummary[]; flash?: Set<string> }) {
  return (
    <table class="list" data-testid="calls">
      <thead>
        <tr>
          <th>{t('col.time')}</th>
          <th>{t('col.phone')}</th>
          <th class="hide-s">{t('col.patient')}</th>
          <th>{t('col.status')}</th>
          <th class="hide-s">{t('col.duration')}</th>
        </tr>
      </thead>
      <tbody>
        {calls.map((c) => (
          <tr key={c.conversationId || c.callId} data-conversation={c.conversationId} data-call={c.callId} class={flash?.has(c.conversationId) ? 'flash' : ''}>
            <td>
              <a href={`#/calls/${encodeURIComponent(c.conversationId || c.callId)}`}>{formatTime(c.createdAt)}</a>
            </td>
            <td class="mono">
              <a href={`#/calls/${encodeURIComponent(c.conversationId || c.callId)}`}>{formatPhone(c.phoneNumber)}</a>
            </td>
            <td class="hide-s">{c.patientId || t('common.none')}</td>
            <td>
              <StatusBadge status={c.status} />
            </td>
            <td class="hide-s">{duration(c.durationSecs)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function Today() {
  const [today] = useState(clinicDate());
  const [calls, setCalls] = useState<CallSummary[]>([]);
  const [cursor, setCursor] = useState('');
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const [connected, setConnected] = useState(false);
  const [flash, setFlash] = useState<Set<string>>(new Set());
  const known = useRef<Map<string, string>>(new Map()); // conversation or call id -> row key
  const refetchTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const loadedCount = useRef(PAGE);

  const remember = (rows: CallSummary[]) => {
    for (const c of rows) {
      if (c.conversationId) known.current.set(c.conversationId, c.conversationId);
      if (c.callId) known.current.set(c.callId, c.conversationId);
    }
  };

  const load = async (more = false) => {
    setLoading(true);
    try {
      const limit = more ? PAGE : Math.min(100, Math.max(PAGE, loadedCount.current));
      const r = await get<ListCallsResponse>(
        '/calls' + query({ startDate: today, endDate: today, limit, cursor: more ? cursor : undefined }),
      );
      const rows = r.data || [];
      if (more) {
        setCalls((prev) => {
          const next = [...prev, ...rows];
          loadedCount.current = next.length;
          return next;
        });
      } else {
        known.current.clear();
        setCalls(rows);
      }
      remember(rows);
      setCursor(r.pagination?.nextCursor || '');
      setError(null);
    } catch (e) {
      setError(e);
    } finally {
      setLoading(false);
    }
  };

  const refetchSoon = () => {
    if (refetchTimer.current) return;
    refetchTimer.current = setTimeout(() => {
      refetchTimer.current = null;
      load(false);
    }, 300);
  };

  useEffect(() => {
    load(false);
    const stop = stream<CallUpdate>(
      '/call-events',
      'conversationId',
      (u) => {
        const key = known.current.get(u.conversationId) ?? known.current.get(u.callId);
        if (key === undefined) {
          refetchSoon();
          return;
        }
        setCalls((prev) =>
          prev.map((c) =>
            c.conversationId === key || (u.callId && c.callId === u.callId)
              ? { ...c, status: u.status, conversationId: c.conversationId || u.conversationId }
              : c,
          ),
        );
        setFlash((f) => new Set(f).add(key));
        setTimeout(() => setFlash((f) => {
          const n = new Set(f);
          n.delete(key);
          return n;
        }), 1500);
        // Final states bring duration and cost: refresh the row's figures.
        if (['completed', 'failed', 'no_answer', 'busy', 'ended_manually', 'canceled'].includes(u.status)) refetchSoon();
      },
      (c) => {
        setConnected(c);
        // Whatever happened while disconnected is read again.
        if (c) refetchSoon();
      },
      (e) => setError(new Error(e.message)),
    );
    return () => {
      stop();
      if (refetchTimer.current) clearTimeout(refetchTimer.current);
    };
  }, []);

  return (
    <section data-page="today">
      <div class="head">
        <h1>{t('today.title')}</h1>
        <LiveDot connected={connected} />
      </div>
      <p class="muted">{t('today.subtitle', { date: today })}</p>
      <ErrorBox error={error} onRetry={() => load(false)} />
      {calls.length ? <CallRows calls={calls} flash={flash} /> : !loading && <p class="muted" data-testid="empty">{t('today.empty')}</p>}
      {loading && <p class="muted">{t('common.loading')}</p>}
      {cursor && !loading && (
        <button onClick={() => load(true)} data-testid="more">
          {t('common.loadMore')}
        </button>
      )}
    </section>
  );
}
