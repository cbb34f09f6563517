import { useEffect, useRef, useState } from 'preact/hooks';
import { del, fetchBlobUrl, get, LIVE_STATES, stream, type Conversation, type CallUpdate } from '../api';
import { formatPhone } from '../phone';
import { formatDateTime, formatUsd, t, tv } from '../i18n';
import { duration, ErrorBox, LiveDot, StatusBadge, errorText } from '../ui';

interface GetConversationResponse {
  success: boolean;
  data: Conversation;
}

const FINAL = new Set(['completed', 'failed', 'no_answer', 'busy', 'ended_manually', 'canceled']);

export function hasAudio(c: Conversation | null): boolean {
  return !!c && !!c.hasAudio;
}

function KeyValues({ obj }: { obj?: Record<string, unknown> }) {
  if (!obj || !Object.keys(obj).length) return <span class="muted">{t('common.none')}</span>;
  return (
    <dl class="kv">
      {Object.entries(obj).map(([k, v]) => {
        const shown = v && typeof v === 'object' && 'value' in (v as object) ? (v as { value: unknown }).value : v;
        return (
          <>
            <dt>{k}</dt>
            <dd>{typeof shown === 'object' ? JSON.stringify(shown) : String(shown)}</dd>
          </>
        );
      })}
    </dl>
  );
}

export function CallPage({ id }: { id: string }) {
  const [conv, setConv] = useState<Conversation | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [connected, setConnected] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [ending, setEnding] = useState(false);
  const [endMsg, setEndMsg] = useState('');
  const [audioUrl, setAudioUrl] = useState<string | null>(null);
  const [audioState, setAudioState] = useState<'none' | 'loading' | 'ready' | 'missing'>('none');
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const tries = useRef(0);

  const load = async () => {
    try {
      const r = await get<GetConversationResponse>(`/conversation/${encodeURIComponent(id)}`);
      setConv(r.data);
      setError(null);
      // A final call's transcript, analysis and recording arrive with the post-call webhooks,
      // shortly after the state: read again a few times until they are there.
      const d = r.data;
      if (FINAL.has(d.status) && d.status === 'completed' && (!d.transcript?.length || !d.analysis) && tries.current < 8) {
        tries.current++;
        timer.current = setTimeout(load, 1000 * tries.current);
      }
    } catch (e) {
      setError(e);
    }
  };

  useEffect(() => {
    load();
    const stop = stream<CallUpdate>(
      `/call-events?conversationId=${encodeURIComponent(id)}`,
      'conversationId',
      (u) => {
        setConv((c) => (c ? { ...c, status: u.status } : c));
        tries.current = 0;
        if (timer.current) clearTimeout(timer.current);
        load();
      },
      (c) => {
        setConnected(c);
      },
    );
    return () => {
      stop();
      if (timer.current) clearTimeout(timer.current);
    };
  }, [id]);

  const audio = hasAudio(conv);
  useEffect(() => {
    if (!audio || audioState !== 'none') return;
    setAudioState('loading');
    fetchBlobUrl(`/conversation/${encodeURIComponent(id)}/audio`)
      .then((u) => {
        setAudioUrl(u);
        setAudioState(u ? 'ready' : 'missing');
      })
      .catch(() => setAudioState('missing'));
  }, [audio]);
  useEffect(() => () => {
    if (audioUrl) URL.revokeObjectURL(audioUrl);
  }, [audioUrl]);

  const endCall = async () => {
    setEnding(true);
    try {
      await del(`/conversation/${encodeURIComponent(id)}`);
      setEndMsg(t('detail.ended_ok'));
      load();
    } catch (e) {
      setEndMsg(errorText(e));
    } finally {
      setEnding(false);
      setConfirming(false);
    }
  };

  if (!conv) {
    return (
      <section data-page="call">
        <p><a href="#/calls">← {t('common.back')}</a></p>
        {error ? <ErrorBox error={error} onRetry={load} /> : <p class="muted">{t('common.loading')}</p>}
      </section>
    );
  }

  const live = LIVE_STATES.has(conv.status);
  const a = conv.analysis;
  return (
    <section data-page="call" data-conversation={conv.conversationId}>
      <p><a href="#/calls">← {t('common.back')}</a></p>
      <div class="head">
        <h1>
          {t('detail.title')} <span class="mono">{formatPhone(conv.phoneNumber)}</span>
        </h1>
        <StatusBadge status={conv.status} />
        {live && <LiveDot connected={connected} />}
      </div>
      <ErrorBox error={error} />
      {live && (
        <div class="actions">
          {!confirming ? (
            <button class="danger" onClick={() => setConfirming(true)} data-testid="end-call">
              {t('detail.endCall')}
            </button>
          ) : (
            <>
              <button class="danger" onClick={endCall} disabled={ending} data-testid="end-call-confirm">
                {ending ? t('detail.ending') : t('detail.endConfirm')}
              </button>
              <button onClick={() => setConfirming(false)}>{t('common.cancel')}</button>
            </>
          )}
        </div>
      )}
      {endMsg && <p class="notice" role="status">{endMsg}</p>}
      <div class="grid">
        <dl class="kv card">
          <dt>{t('detail.conversation')}</dt>
          <dd class="mono">{conv.conversationId || t('common.none')}</dd>
          <dt>{t('detail.callId')}</dt>
          <dd class="mono">{conv.callId}</dd>
          <dt>{t('col.patient')}</dt>
          <dd>{conv.patientId || t('common.none')}</dd>
          <dt>{t('detail.appointment')}</dt>
          <dd>{conv.appointmentId || t('common.none')}</dd>
          <dt>{t('detail.agent')}</dt>
          <dd class="mono">{conv.agentId}</dd>
          <dt>{t('col.duration')}</dt>
          <dd data-testid="duration">{duration(conv.durationSecs)}</dd>
          <dt>{t('col.cost')}</dt>
          <dd data-testid="cost">{formatUsd(conv.cost)}</dd>
          {!!Number(conv.costCredits) && (
            <>
              <dt>{t('detail.credits')}</dt>
              <dd>{String(conv.costCredits)}</dd>
            </>
          )}
          <dt>{t('detail.created')}</dt>
          <dd>{formatDateTime(conv.createdAt)}</dd>
          <dt>{t('detail.started')}</dt>
          <dd>{formatDateTime(conv.startedAt) || t('common.none')}</dd>
          <dt>{t('detail.ended')}</dt>
          <dd>{formatDateTime(conv.endedAt) || t('common.none')}</dd>
          {conv.terminationReason && (
            <>
              <dt>{t('detail.termination')}</dt>
              <dd>{conv.terminationReason}</dd>
            </>
          )}
        </dl>
        <div class="card" data-testid="analysis">
          <h2>{t('detail.analysis')}</h2>
          {a && (a.callSuccessful || a.transcriptSummary) ? (
            <dl class="kv">
              <dt>{t('detail.successful')}</dt>
              <dd>{a.callSuccessful || t('common.none')}</dd>
              {a.callSummaryTitle && (
                <>
                  <dt>{t('detail.title')}</dt>
                  <dd>{a.callSummaryTitle}</dd>
                </>
              )}
              <dt>{t('detail.summary')}</dt>
              <dd>{a.transcriptSummary || t('common.none')}</dd>
              <dt>{t('detail.dataCollected')}</dt>
              <dd><KeyValues obj={a.dataCollectionResults} /></dd>
              <dt>{t('detail.evaluation')}</dt>
              <dd><KeyValues obj={a.evaluationCriteriaResults} /></dd>
            </dl>
          ) : (
            <p class="muted">{t('detail.noAnalysis')}</p>
          )}
        </div>
      </div>
      <div class="card" data-testid="audio">
        <h2>{t('detail.audio')}</h2>
        {audioState === 'ready' && audioUrl ? (
          <audio controls preload="metadata" src={audioUrl} data-testid="audio-player" />
        ) : audioState === 'loading' ? (
          <p class="muted">{t('detail.audioLoading')}</p>
        ) : (
          <p class="muted">{t('detail.noAudio')}</p>
        )}
      </div>
      <div class="card">
        <h2>{t('detail.transcript')}</h2>
        {conv.transcript?.length ? (
          <ol class="transcript" data-testid="transcript">
            {conv.transcript.map((turn) => (
              <li class={`turn ${turn.role}`}>
                <span class="who">
                  {tv('role', turn.role)} · {t('common.seconds', { n: turn.timeInCallSecs || 0 })}
                </span>
                <p>{turn.message}</p>
              </li>
            ))}
          </ol>
        ) : (
          <p class="muted" data-testid="no-transcript">{t('detail.noTranscript')}</p>
        )}
      </div>
      {!!conv.errors?.length && (
        <div class="card">
          <h2>{t('detail.errors')}</h2>
          <ul>
            {conv.errors.map((e) => (
              <li>
                {formatDateTime(e.createdAt)} · {e.source} · {e.code}: {e.message}
              </li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}
