import { useMemo, useRef, useState } from 'preact/hooks';
import { post, uuid, type Campaign, type RecipientError } from '../api';
import { checkCsv, type RowError } from '../csv';
import { fill, t, tv, type Key } from '../i18n';
import { errorText, Field } from '../ui';

const PURPOSES = ['confirmation', 'reminder', 'survey', 'promotion', 'collection'];
const BATCH = 1000;
const PREVIEW_ROWS = 20;

/** A template: a JSON object of scalars (the server's rule for variables), or an error. */
export function parseTemplate(text: string): { ok: true; value: Record<string, unknown> } | { ok: false } {
  if (!text.trim()) return { ok: true, value: {} };
  try {
    const v = JSON.parse(text);
    if (!v || typeof v !== 'object' || Array.isArray(v)) return { ok: false };
    for (const x of Object.values(v)) if (x === null || typeof x === 'object') return { ok: false };
    return { ok: true, value: v };
  } catch {
    return { ok: false };
  }
}

function msg(e: RowError): string {
  return e.message.startsWith('csv.') ? t(e.message as Key, e.params) : fill(e.message, e.params);
}

function ErrorTable({ errors, testid }: { errors: RowError[]; testid: string }) {
  return (
    <table class="list errors" data-testid={testid}>
      <thead>
        <tr>
          <th>{t('col.line')}</th>
          <th>{t('col.field')}</th>
          <th>{t('col.message')}</th>
        </tr>
      </thead>
      <tbody>
        {errors.slice(0, 200).map((e) => (
          <tr data-line={e.line}>
            <td>{e.line}</td>
            <td class="mono">{e.field}</td>
            <td>{msg(e)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function NewCampaign() {
  const [name, setName] = useState('');
  const [purpose, setPurpose] = useState('confirmation');
  const [agentId, setAgentId] = useState('');
  const [template, setTemplate] = useState('');
  const [csv, setCsv] = useState('');
  const [fileName, setFileName] = useState('');
  const [startNow, setStartNow] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [serverErrors, setServerErrors] = useState<RowError[]>([]);
  const [result, setResult] = useState<{ campaign: Campaign; added: number; duplicates: number } | null>(null);
  const key = useRef('');
  const created = useRef<Campaign | null>(null); // kept across a retry after a failed batch

  const tmpl = parseTemplate(template);
  const check = useMemo(() => (csv.trim() ? checkCsv(csv, tmpl.ok ? tmpl.value : {}) : null), [csv, template]);
  const edited = () => {
    key.current = '';
    created.current = null;
    setResult(null);
  };

  const onFile = async (e: Event) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (!f) return;
    setFileName(f.name);
    setCsv(await f.text());
    edited();
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    if (!name.trim()) return setError(t('newc.nameRequired'));
    if (!tmpl.ok) return setError(t('newc.badTemplate'));
    if (!check || check.headerError || !check.valid.length) return setError(t('newc.noRows'));
    setBusy(true);
    setError('');
    setServerErrors([]);
    try {
      if (!created.current) {
        if (!key.current) key.current = uuid();
        const spec: Record<string, unknown> = { name: name.trim(), purpose };
        if (agentId.trim()) spec.agentId = agentId.trim();
        if (Object.keys(tmpl.value).length) spec.variablesTemplate = tmpl.value;
        created.current = await post<Campaign>('/campaigns', { spec, start: false }, { 'Idempotency-Key': key.current });
      }
      const c = created.current;
      const path = `/campaigns/${encodeURIComponent(c.campaignId)}`;
      let added = 0;
      let duplicates = 0;
      const errs: RowError[] = [];
      for (let at = 0; at < check.valid.length; at += BATCH) {
        const rows = check.valid.slice(at, at + BATCH);
        const r = await post<{ added: number; duplicates: number; errors: RecipientError[] }>(`${path}/recipients`, {
          recipients: rows.map((x) => x.input),
        });
        added += r.added || 0;
        duplicates += r.duplicates || 0;
        for (const er of r.errors || []) errs.push({ line: rows[er.index]?.line ?? 0, field: er.field, message: er.message });
      }
      setServerErrors(errs);
      let campaign = c;
      if (startNow) campaign = await post<Campaign>(`${path}/start`, {});
      setResult({ campaign, added, duplicates });
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  const cols = check?.columns;
  const header = cols
    ? [
        ...(cols.phone !== undefined ? ['phoneNumber'] : []),
        ...(cols.patient !== undefined ? ['patientId'] : []),
        ...(cols.appointment !== undefined ? ['appointmentId'] : []),
        ...cols.variables.map((v) => v.name),
      ]
    : [];

  return (
    <section data-page="new-campaign">
      <p><a href="#/campaigns">← {t('common.back')}</a></p>
      <h1>{t('newc.title')}</h1>
      <form onSubmit={submit} class="card">
        <Field label={t('newc.name')}>
          <input name="name" value={name} onInput={(e) => { setName((e.target as HTMLInputElement).value); edited(); }} />
        </Field>
        <div class="row2">
          <Field label={t('newc.purpose')}>
            <select name="purpose" value={purpose} onChange={(e) => { setPurpose((e.target as HTMLSelectElement).value); edited(); }}>
              {PURPOSES.map((p) => (
                <option value={p}>{tv('purpose', p)}</option>
              ))}
            </select>
          </Field>
          <Field label={t('newc.agent')}>
            <input name="agentId" value={agentId} onInput={(e) => { setAgentId((e.target as HTMLInputElement).value); edited(); }} />
          </Field>
        </div>
        <Field label={t('newc.template')} help={t('newc.templateHelp')} error={tmpl.ok ? undefined : t('newc.badTemplate')}>
          <textarea name="template" rows={3} spellcheck={false} value={template} onInput={(e) => { setTemplate((e.target as HTMLTextAreaElement).value); edited(); }} />
        </Field>
        <Field label={t('newc.file')} help={t('newc.fileHelp')}>
          <input type="file" name="csv" accept=".csv,text/csv,text/plain" onChange={onFile} data-testid="csv-file" />
        </Field>
        {fileName && <p class="muted small">{fileName}</p>}
        <Field label={t('newc.paste')}>
          <textarea name="csvText" rows={5} spellcheck={false} class="mono" value={csv} onInput={(e) => { setCsv((e.target as HTMLTextAreaElement).value); edited(); }} />
        </Field>
        <label class="check">
          <input type="checkbox" name="startNow" checked={startNow} onChange={(e) => setStartNow((e.target as HTMLInputElement).checked)} />
          {t('newc.startNow')}
        </label>

        {check && (
          <div class="preview" data-testid="preview">
            <h2>{t('newc.preview')}</h2>
            {check.headerError ? (
              <p class="error" role="alert" data-testid="header-error">{t(check.headerError as Key)}</p>
            ) : (
              <>
                <p data-testid="preview-summary" data-rows={check.rows.length} data-valid={check.valid.length} data-invalid={check.rows.length - check.valid.length}>
                  {t('newc.summary', { rows: check.rows.length, valid: check.valid.length, invalid: check.rows.length - check.valid.length })}
                </p>
                <div class="scroll">
                  <table class="list">
                    <thead>
                      <tr>
                        <th>{t('col.line')}</th>
                        {header.map((h) => <th class="mono">{h}</th>)}
                      </tr>
                    </thead>
                    <tbody>
                      {check.rows.slice(0, PREVIEW_ROWS).map((r) => (
                        <tr class={r.errors.length ? 'bad' : ''} data-line={r.line}>
                          <td>{r.line}</td>
                          {cols?.phone !== undefined && <td class="mono">{r.input.phoneNumber || ''}</td>}
                          {cols?.patient !== undefined && <td>{r.input.patientId || ''}</td>}
                          {cols?.appointment !== undefined && <td>{r.input.appointmentId || ''}</td>}
                          {cols?.variables.map((v) => <td>{r.input.variables?.[v.name] ?? ''}</td>)}
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
                {check.rows.length > PREVIEW_ROWS && <p class="muted small">{t('newc.moreRows', { n: check.rows.length - PREVIEW_ROWS })}</p>}
                {!!check.errors.length && (
                  <>
                    <h3>{t('newc.rowErrors')}</h3>
                    <ErrorTable errors={check.errors} testid="row-errors" />
                  </>
                )}
              </>
            )}
          </div>
        )}
        {error && <p class="error" role="alert" data-testid="campaign-error">{error}</p>}
        <button type="submit" class="primary" disabled={busy || !check || !!check.headerError || !check.valid.length || !!result} data-testid="create-campaign">
          {busy ? t('newc.submitting') : t('newc.submit', { n: check?.valid.length || 0 })}
        </button>
      </form>
      {!!serverErrors.length && (
        <div class="card">
          <h3>{t('newc.serverErrors')}</h3>
          <ErrorTable errors={serverErrors} testid="server-errors" />
        </div>
      )}
      {result && (
        <div class="notice card" role="status" data-testid="created" data-campaign={result.campaign.campaignId}>
          <p>{t('newc.created', { added: result.added, duplicates: result.duplicates })}</p>
          <a class="button primary" href={`#/campaigns/${encodeURIComponent(result.campaign.campaignId)}`} data-testid="open-campaign">
            {t('newc.open')}
          </a>
        </div>
      )}
    </section>
  );
}
