import { useEffect, useState } from 'preact/hooks';
import { get, stream, type Campaign, type CampaignUpdate } from '../api';
import { COUNTER_KEYS } from '../campaign';
import { formatDateTime, t, tv, type Key } from '../i18n';
import { ErrorBox, LiveDot, StateBadge } from '../ui';
import { CampaignActions, Progress } from './Campaigns';

interface Recipient {
  id: string | number;
  patientId: number;
  appointmentId: number;
  phoneNumber: string;
  state: string;
  outcome: string;
  attempts: number;
}

export function CampaignPage({ id }: { id: string }) {
  const [c, setC] = useState<Campaign | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [connected, setConnected] = useState(false);
  const [recipients, setRecipients] = useState<Recipient[]>([]);

  const loadRecipients = () =>
    get<{ recipients: Recipient[] }>(`/campaigns/${encodeURIComponent(id)}/recipients?pageSize=20`)
      .then((r) => setRecipients(r.recipients || []))
      .catch(() => {});

  const load = async () => {
    try {
      setC(await get<Campaign>(`/campaigns/${encodeURIComponent(id)}`));
      setError(null);
    } catch (e) {
      setError(e);
    }
  };

  useEffect(() => {
    load();
    loadRecipients();
    let recipientsTimer: ReturnType<typeof setTimeout> | null = null;
    const stop = stream<CampaignUpdate>(
      `/campaigns/${encodeURIComponent(id)}/watch`,
      'campaignId',
      (u) => {
        if (u.counters || u.state) {
          setC((prev) => (prev ? { ...prev, state: u.state || prev.state, counters: u.counters || prev.counters } : prev));
        }
        if (u.transition && !recipientsTimer) {
          recipientsTimer = setTimeout(() => {
            recipientsTimer = null;
            loadRecipients();
          }, 1000);
        }
      },
      setConnected,
      (e) => setError(new Error(e.message)),
    );
    return () => {
      stop();
      if (recipientsTimer) clearTimeout(recipientsTimer);
    };
  }, [id]);

  if (!c) {
    return (
      <section data-page="campaign">
        <p><a href="#/campaigns">← {t('common.back')}</a></p>
        {error ? <ErrorBox error={error} onRetry={load} /> : <p class="muted">{t('common.loading')}</p>}
      </section>
    );
  }
  const counters = c.counters;
  return (
    <section data-page="campaign" data-campaign={c.campaignId}>
      <p><a href="#/campaigns">← {t('common.back')}</a></p>
      <div class="head">
        <h1>{c.spec?.name}</h1>
        <StateBadge state={c.state} />
        <LiveDot connected={connected} />
      </div>
      <p class="muted">
        {tv('purpose', c.spec?.purpose)} · {formatDateTime(c.createdAt)} · {c.createdBy}
      </p>
      {c.stateReason && <p class="notice">{t('campaigns.reason', { reason: c.stateReason })}</p>}
      {c.eta && <p class="muted">{t('campaigns.eta', { when: formatDateTime(c.eta) })}</p>}
      <ErrorBox error={error} />
      <Progress c={c} />
      <CampaignActions c={c} onChanged={(n) => setC(n)} />
      <div class="grid">
        <div class="card">
          <h2>{t('campaigns.counters')}</h2>
          <dl class="kv" data-testid="counters">
            <dt>{t('rstate.total')}</dt>
            <dd data-counter="total">{counters?.total || 0}</dd>
            {COUNTER_KEYS.map((k) => (
              <>
                <dt>{t(`rstate.${k}` as Key)}</dt>
                <dd data-counter={k}>{String(counters?.[k] || 0)}</dd>
              </>
            ))}
            <dt>{t('campaigns.attempts')}</dt>
            <dd>{String(counters?.attempts || 0)}</dd>
          </dl>
        </div>
        <div class="card">
          <h2>{t('campaigns.outcomes')}</h2>
          {counters?.outcomes && Object.keys(counters.outcomes).length ? (
            <dl class="kv">
              {Object.entries(counters.outcomes).map(([k, v]) => (
                <>
                  <dt>{k}</dt>
                  <dd>{v}</dd>
                </>
              ))}
            </dl>
          ) : (
            <p class="muted">{t('common.none')}</p>
          )}
          <p>
            <a href="#/reviews">{t('campaigns.watchReviews')}</a>
          </p>
        </div>
      </div>
      {!!recipients.length && (
        <div class="card">
          <h2>{t('campaigns.recipients')}</h2>
          <table class="list">
            <thead>
              <tr>
                <th>{t('col.phone')}</th>
                <th class="hide-s">{t('col.patient')}</th>
                <th>{t('col.status')}</th>
                <th>{t('col.result')}</th>
              </tr>
            </thead>
            <tbody>
              {recipients.map((r) => (
                <tr>
                  <td class="mono">{r.phoneNumber}</td>
                  <td class="hide-s">{r.patientId || t('common.none')}</td>
                  <td>{tv('rstate', r.state === 'in_call' ? 'inCall' : r.state === 'opted_out' ? 'optedOut' : r.state)}</td>
                  <td>{r.outcome || t('common.none')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
