import type { ComponentChildren } from 'preact';
import { ApiError } from './api';
import { t, tv } from './i18n';

export function StatusBadge({ status }: { status: string }) {
  return (
    <span class={`badge s-${status}`} data-status={status}>
      {tv('status', status)}
    </span>
  );
}

export function StateBadge({ state }: { state: string }) {
  return (
    <span class={`badge c-${state}`} data-state={state}>
      {tv('cstate', state)}
    </span>
  );
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.status === 0) return t('err.network', { message: e.message });
    return e.message;
  }
  return (e as Error)?.message || String(e);
}

export function ErrorBox({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  if (!error) return null;
  return (
    <div class="error" role="alert" data-testid="error">
      {errorText(error)}
      {onRetry && (
        <button class="link" onClick={onRetry}>
          {t('common.retry')}
        </button>
      )}
    </div>
  );
}

export function LiveDot({ connected }: { connected: boolean }) {
  return (
    <span class={`live ${connected ? 'on' : 'off'}`} data-testid="live" data-connected={String(connected)}>
      {connected ? t('common.live') : t('common.reconnecting')}
    </span>
  );
}

export function Field({ label, help, error, children }: { label: string; help?: string; error?: string; children: ComponentChildren }) {
  return (
    <label class="field">
      <span class="label">{label}</span>
      {children}
      {help && <span class="help">{help}</span>}
      {error && <span class="field-error" role="alert">{error}</span>}
    </label>
  );
}

export function duration(secs: number): string {
  if (!secs) return t('common.none');
  const m = Math.floor(secs / 60);
  const s = secs % 60;
  return m ? `${m}:${String(s).padStart(2, '0')}` : t('common.seconds', { n: s });
}
