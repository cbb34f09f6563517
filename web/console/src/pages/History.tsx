import { useEffect, useState } from 'preact/hooks';
import { CALL_STATES, get, query, type ListCallsResponse } from '../api';
import { href } from '../route';
import { t, tv } from '../i18n';
import { ErrorBox } from '../ui';
import { CallRows } from './Today';

const LIMIT = 20;

/** Filters live in the hash (#/history?status=completed&patientId=7), so a view can be shared. */
export function History({ query: q }: { query: URLSearchParams }) {
  const patientId = q.get('patientId') || '';
  const status = q.get('status') || '';
  const startDate = q.get('startDate') || '';
  const endDate = q.get('endDate') || '';
  const [form, setForm] = useState({ patientId, status, startDate, endDate });
  const [data, setData] = useState<ListCallsResponse | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);
  // Cursor paging: the cursors of the pages seen so far ('' = the first), to go back.
  const [cursors, setCursors] = useState<string[]>(['']);
  const filterKey = `${patientId}|${status}|${startDate}|${endDate}`;

  const load = async (cursor: string) => {
    setLoading(true);
    try {
      const r = await get<ListCallsResponse>(
        '/calls' + query({ limit: LIMIT, patientId, status, startDate, endDate, cursor: cursor || undefined }),
      );
      setData(r);
      setError(null);
    } catch (e) {
      setError(e);
      setData(null);
    } finally {
      setLoading(false);
    }
  };

  useEffect(() => {
    setForm({ patientId, status, startDate, endDate });
    setCursors(['']);
    load('');
  }, [filterKey]);

  const apply = (e: Event) => {
    e.preventDefault();
    location.hash = href('/history', form);
  };
  const set = (k: keyof typeof form) => (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value });

  const next = () => {
    const c = data?.pagination?.nextCursor;
    if (!c) return;
    setCursors([...cursors, c]);
    load(c);
  };
  const prev = () => {
    if (cursors.length < 2) return;
    const n = cursors.slice(0, -1);
    setCursors(n);
    load(n[n.length - 1]);
  };
  const p = data?.pagination;
  const pageNo = cursors.length;

  return (
    <section data-page="history">
      <h1>{t('history.title')}</h1>
      <form class="filters" onSubmit={apply} data-testid="history-filters">
        <label class="field">
          <span class="label">{t('history.patientId')}</span>
          <input name="patientId" inputMode="numeric" value={form.patientId} onInput={set('patientId')} />
        </label>
        <label class="field">
          <span class="label">{t('history.status')}</span>
          <select name="status" value={form.status} onChange={set('status')}>
            <option value="">{t('common.all')}</option>
            {CALL_STATES.map((s) => (
              <option value={s}>{tv('status', s)}</option>
            ))}
          </select>
        </label>
        <label class="field">
          <span class="label">{t('history.from')}</span>
          <input type="date" name="startDate" value={form.startDate} onInput={set('startDate')} />
        </label>
        <label class="field">
          <span class="label">{t('history.to')}</span>
          <input type="date" name="endDate" value={form.endDate} onInput={set('endDate')} />
        </label>
        <div class="buttons">
          <button type="submit" class="primary">{t('common.apply')}</button>
          <button type="button" onClick={() => (location.hash = '#/history')}>{t('common.clear')}</button>
        </div>
      </form>
      <ErrorBox error={error} onRetry={() => load(cursors[cursors.length - 1])} />
      {loading && <p class="muted">{t('common.loading')}</p>}
      {data && (data.data?.length ? <CallRows calls={data.data} /> : <p class="muted" data-testid="empty">{t('common.empty')}</p>)}
      {p && (
        <div class="pager">
          <button onClick={prev} disabled={pageNo < 2 || loading} data-testid="prev">
            {t('common.prev')}
          </button>
          <span data-testid="page-info">{t('common.pageOf', { page: pageNo, pages: Math.max(1, p.pages), total: p.total })}</span>
          <button onClick={next} disabled={!p.nextCursor || loading} data-testid="next">
            {t('common.next')}
          </button>
        </div>
      )}
    </section>
  );
}
