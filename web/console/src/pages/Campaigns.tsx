import { useEffect, useState } from 'preact/hooks';
import { get, post, type Campaign } from '../api';
import { actionsFor, finalCount, progress, type Action } from '../campaign';
import { t, type Key } from '../i18n';
import { ErrorBox, StateBadge, errorText } from '../ui';

export const ACTION_LABEL: Record<Action, Key> = {
  start: 'campaigns.start',
  pause: 'campaigns.pause',
  resume: 'campaigns.resume',
  cancel: 'campaigns.cancel',
};

export function Progress({ c }: { c: Campaign }) {
  const total = c.counters?.total || 0;
  const p = progress(c.counters);
  return (
    <div class="progress-wrap">
      <div
        class="progress"
        role="progressbar"
        aria-valuemin={0}
        aria-valuemax={total}
        aria-valuenow={finalCount(c.counters)}
        data-testid="progress"
      >
        <span style={{ width: `${(p * 100).toFixed(1)}%` }} />
      </div>
      <span class="muted small">{t('campaigns.progress', { final: finalCount(c.counters), total })}</span>
    </div>
  );
}

export function CampaignActions({ c, onChanged }: { c: Campaign; onChanged: (c: Campaign) => void }) {
  const [busy, setBusy] = useState(false);
  const [confirmCancel, setConfirmCancel] = useState(false);
  const [error, setError] = useState('');
  const run = async (a: Action) => {
    if (a === 'cancel' && !confirmCancel) return setConfirmCancel(true);
    setBusy(true);
    setError('');
    try {
      onChanged(await post<Campaign>(`/campaigns/${encodeURIComponent(c.campaignId)}/${a}`, {}));
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
      setConfirmCancel(false);
    }
  };
  return (
    <div class="actions">
      {actionsFor(c.state).map((a) => (
        <button
          class={a === 'cancel' ? 'danger' : a === 'start' || a === 'resume' ? 'primary' : ''}
          disabled={busy}
          data-action={a}
          onClick={() => run(a)}
        >
          {a === 'cancel' && confirmCancel ? t('campaigns.cancelConfirm') : t(ACTION_LABEL[a])}
        </button>
      ))}
      {error && <span class="error" role="alert">{error}</span>}
    </div>
  );
}

export function Campaigns() {
  const [list, setList] = useState<Campaign[] | null>(null);
  const [next, setNext] = useState('');
  const [error, setError] = useState<unknown>(null);

  const load = async (token = '') => {
    try {
      const r = await get<{ campaigns: Campaign[]; nextPageToken: string }>(
        `/campaigns?pageSize=50${token ? `&pageToken=${encodeURIComponent(token)}` : ''}`,
      );
      setList((prev) => (token && prev ? [...prev, ...(r.campaigns || [])] : r.campaigns || []));
      setNext(r.nextPageToken || '');
      setError(null);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    load();
  }, []);

  const replace = (c: Campaign) => setList((l) => (l || []).map((x) => (x.campaignId === c.campaignId ? c : x)));

  return (
    <section data-page="campaigns">
      <div class="head">
        <h1>{t('campaigns.title')}</h1>
        <a class="button primary" href="#/campaigns/new" data-testid="new-campaign">
          {t('campaigns.new')}
        </a>
      </div>
      <ErrorBox error={error} onRetry={() => load()} />
      {list && !list.length && <p class="muted">{t('campaigns.empty')}</p>}
      <ul class="cards">
        {(list || []).map((c) => (
          <li class="card" data-campaign={c.campaignId}>
            <div class="head">
              <h2>
                <a href={`#/campaigns/${encodeURIComponent(c.campaignId)}`}>{c.spec?.name}</a>
              </h2>
              <StateBadge state={c.state} />
            </div>
            <Progress c={c} />
            <CampaignActions c={c} onChanged={replace} />
          </li>
        ))}
      </ul>
      {next && <button onClick={() => load(next)}>{t('common.loadMore')}</button>}
    </section>
  );
}
