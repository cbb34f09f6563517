import { useEffect, useState } from 'preact/hooks';
import { get, post, type Review } from '../api';
import { formatDateTime, t, tv } from '../i18n';
import { ErrorBox, errorText } from '../ui';

const DECISIONS = ['confirmed', 'reschedule_requested', 'canceled', 'call_again', 'no_action'];

function ReviewItem({ r, onResolved }: { r: Review; onResolved: (r: Review) => void }) {
  const [decision, setDecision] = useState('confirmed');
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const resolve = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      onResolved(await post<Review>(`/campaign-reviews/${encodeURIComponent(String(r.reviewId))}/resolve`, { decision, note }));
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <li class="card" data-review={String(r.reviewId)}>
      <div class="head">
        <strong>{tv('reason', r.reason)}</strong>
        <span class="muted">{formatDateTime(r.createdAt)}</span>
      </div>
      <p class="mono">{r.phoneNumber} {r.patientId ? `· ${t('col.patient')} ${r.patientId}` : ''}</p>
      <p>{r.summary || t('common.none')}</p>
      {r.conversationId && (
        <p>
          <a href={`#/calls/${encodeURIComponent(r.conversationId)}`}>{t('reviews.openCall')}</a>
        </p>
      )}
      {r.decision ? (
        <p class="notice">{t('reviews.resolved', { decision: tv('decision', r.decision) })}</p>
      ) : (
        <form class="filters" onSubmit={resolve}>
          <label class="field">
            <span class="label">{t('reviews.decision')}</span>
            <select value={decision} onChange={(e) => setDecision((e.target as HTMLSelectElement).value)}>
              {DECISIONS.map((d) => (
                <option value={d}>{tv('decision', d)}</option>
              ))}
            </select>
          </label>
          <label class="field">
            <span class="label">{t('reviews.note')}</span>
            <input value={note} maxLength={1000} onInput={(e) => setNote((e.target as HTMLInputElement).value)} />
          </label>
          <div class="buttons">
            <button class="primary" disabled={busy}>{t('reviews.resolve')}</button>
          </div>
          {error && <p class="error" role="alert">{error}</p>}
        </form>
      )}
    </li>
  );
}

export function Reviews() {
  const [list, setList] = useState<Review[] | null>(null);
  const [next, setNext] = useState('');
  const [error, setError] = useState<unknown>(null);
  const load = async (token = '') => {
    try {
      const r = await get<{ reviews: Review[]; nextPageToken: string }>(
        `/campaign-reviews?state=open&pageSize=50${token ? `&pageToken=${encodeURIComponent(token)}` : ''}`,
      );
      setList((prev) => (token && prev ? [...prev, ...(r.reviews || [])] : r.reviews || []));
      setNext(r.nextPageToken || '');
      setError(null);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    load();
  }, []);
  return (
    <section data-page="reviews">
      <h1>{t('reviews.title')}</h1>
      <p class="muted">{t('reviews.help')}</p>
      <ErrorBox error={error} onRetry={() => load()} />
      {list && !list.length && <p class="muted">{t('reviews.empty')}</p>}
      <ul class="cards">
        {(list || []).map((r) => (
          <ReviewItem r={r} onResolved={(n) => setList((l) => (l || []).map((x) => (x.reviewId === r.reviewId ? { ...x, ...n } : x)))} />
        ))}
      </ul>
      {next && <button onClick={() => load(next)}>{t('common.loadMore')}</button>}
    </section>
  );
}
