import { useRef, useState } from 'preact/hooks';
import { ApiError, post, uuid } from '../api';
import { normalizePhone } from '../phone';
import { t, tv } from '../i18n';
import { errorText, Field } from '../ui';

interface InitiateCallResponse {
  success: boolean;
  message: string;
  data?: { conversationId: string; callId: string; status: string };
}

type Var = { name: string; value: string };

export function NewCall() {
  const [phone, setPhone] = useState('');
  const [name, setName] = useState('');
  const [patientId, setPatientId] = useState('');
  const [appointmentId, setAppointmentId] = useState('');
  const [vars, setVars] = useState<Var[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  // One key per submission of this form's content: a double click or a retry of the same
  // content sends the same key, so the gateway dials once. Any edit starts a new submission.
  const key = useRef<string>('');
  const edited = () => {
    key.current = '';
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    const fe: Record<string, string> = {};
    const p = normalizePhone(phone);
    if (!p.ok) fe.phone = t('call.badPhone', { reason: p.reason });
    const int = (s: string) => (/^\d+$/.test(s.trim()) && Number(s) > 0 ? Number(s) : null);
    if (patientId.trim() && int(patientId) === null) fe.patientId = t('call.badId');
    if (appointmentId.trim() && int(appointmentId) === null) fe.appointmentId = t('call.badId');
    if (vars.some((v) => !v.name.trim() && v.value.trim())) fe.vars = t('call.badVarName');
    setFieldErrors(fe);
    if (Object.keys(fe).length) return;

    const body: Record<string, unknown> = { phoneNumber: phone.trim(), patientName: name.trim() };
    if (patientId.trim()) body.patientId = int(patientId);
    if (appointmentId.trim()) body.appointmentId = int(appointmentId);
    const cv: Record<string, string> = {};
    for (const v of vars) if (v.name.trim()) cv[v.name.trim()] = v.value;
    if (Object.keys(cv).length) body.customVariables = cv;

    if (!key.current) key.current = uuid();
    setBusy(true);
    setError('');
    try {
      const r = await post<InitiateCallResponse>('/call', body, { 'Idempotency-Key': key.current });
      key.current = '';
      const id = r.data?.conversationId || r.data?.callId;
      if (id) location.hash = `#/calls/${encodeURIComponent(id)}`;
      else setError(r.message || t('call.placed', { status: tv('status', r.data?.status || '') }));
    } catch (err) {
      // A refusal (contact policy, bad input) is final for this content: a new try gets a new key.
      if (err instanceof ApiError && err.status >= 400 && err.status < 500) key.current = '';
      setError(t('call.refused', { message: errorText(err) }));
    } finally {
      setBusy(false);
    }
  };

  const input = (value: string, set: (v: string) => void, extra: Record<string, unknown> = {}) => (
    <input
      value={value}
      onInput={(e) => {
        set((e.target as HTMLInputElement).value);
        edited();
      }}
      {...extra}
    />
  );

  return (
    <section class="card narrow" data-page="new-call">
      <h1>{t('call.title')}</h1>
      <form onSubmit={submit} noValidate>
        <Field label={t('call.phone')} help={t('call.phoneHelp')} error={fieldErrors.phone}>
          {input(phone, setPhone, { name: 'phoneNumber', type: 'tel', inputMode: 'tel', required: true, autoComplete: 'off' })}
        </Field>
        <Field label={t('call.patientName')}>{input(name, setName, { name: 'patientName', autoComplete: 'off' })}</Field>
        <div class="row2">
          <Field label={t('call.patientId')} error={fieldErrors.patientId}>
            {input(patientId, setPatientId, { name: 'patientId', inputMode: 'numeric' })}
          </Field>
          <Field label={t('call.appointmentId')} error={fieldErrors.appointmentId}>
            {input(appointmentId, setAppointmentId, { name: 'appointmentId', inputMode: 'numeric' })}
          </Field>
        </div>
        <fieldset>
          <legend>{t('call.variables')}</legend>
          {vars.map((v, i) => (
            <div class="varrow" key={i}>
              <input
                aria-label={t('call.varName')}
                placeholder={t('call.varName')}
                value={v.name}
                name={`var-name-${i}`}
                onInput={(e) => {
                  const n = [...vars];
                  n[i] = { ...v, name: (e.target as HTMLInputElement).value };
                  setVars(n);
                  edited();
                }}
              />
              <input
                aria-label={t('call.varValue')}
                placeholder={t('call.varValue')}
                value={v.value}
                name={`var-value-${i}`}
                onInput={(e) => {
                  const n = [...vars];
                  n[i] = { ...v, value: (e.target as HTMLInputElement).value };
                  setVars(n);
                  edited();
                }}
              />
              <button type="button" class="link" onClick={() => { setVars(vars.filter((_, j) => j !== i)); edited(); }}>
                {t('call.remove')}
              </button>
            </div>
          ))}
          {fieldErrors.vars && <span class="field-error">{fieldErrors.vars}</span>}
          <button type="button" onClick={() => { setVars([...vars, { name: '', value: '' }]); edited(); }}>
            {t('call.addVariable')}
          </button>
        </fieldset>
        {error && (
          <p class="error" role="alert" data-testid="call-error">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy} data-testid="place-call">
          {busy ? t('call.submitting') : t('call.submit')}
        </button>
      </form>
    </section>
  );
}
