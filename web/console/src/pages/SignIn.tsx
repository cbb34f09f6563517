import { useState } from 'preact/hooks';
import { ApiError, BASE, claims, token } from '../api';
import { formatDateTime, t } from '../i18n';

export function SignIn({ notice, onSignedIn }: { notice: string; onSignedIn: () => void }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    const tok = value.trim().replace(/^Bearer\s+/i, '');
    const c = claims(tok);
    if (!c) return setError(t('signin.notJwt'));
    if (typeof c.exp === 'number' && c.exp * 1000 < Date.now())
      return setError(t('signin.expired', { when: formatDateTime(new Date(c.exp * 1000).toISOString()) }));
    setBusy(true);
    setError('');
    try {
      // One cheap read tells whether the edge accepts the token (403: valid, other permissions).
      const res = await fetch(`${BASE}/calls?limit=1`, { headers: { Authorization: `Bearer ${tok}` } });
      if (res.status === 401) {
        let message = 'HTTP 401';
        try {
          message = (await res.json()).message || message;
        } catch {
          /* not JSON */
        }
        throw new ApiError(401, 16, message);
      }
      token.set(tok);
      onSignedIn();
    } catch (err) {
      setError(err instanceof ApiError ? t('signin.rejected', { message: err.message }) : t('err.network', { message: String((err as Error).message) }));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card narrow" data-page="signin">
      <h1>{t('signin.title')}</h1>
      {notice && (
        <p class="error" role="alert" data-testid="signin-notice">
          {t('signin.sessionEnded', { message: notice })}
        </p>
      )}
      <p>{t('signin.help')}</p>
      <form onSubmit={submit}>
        <label class="field">
          <span class="label">{t('signin.token')}</span>
          <textarea
            name="token"
            rows={5}
            spellcheck={false}
            autoComplete="off"
            value={value}
            onInput={(e) => setValue((e.target as HTMLTextAreaElement).value)}
          />
        </label>
        {error && (
          <p class="error" role="alert" data-testid="signin-error">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy || !value.trim()}>
          {busy ? t('signin.checking') : t('signin.submit')}
        </button>
      </form>
    </section>
  );
}
