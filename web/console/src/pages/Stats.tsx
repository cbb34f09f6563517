import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { addDays, clinicDate, get, query, type CallStats, type DailyStats } from '../api';
import { href } from '../route';
import { dailySeries, pickupRate } from '../stats';
import { formatNumber, formatUsd, getLang, t, tv } from '../i18n';
import { ErrorBox } from '../ui';

function Chart({ rows }: { rows: DailyStats[] }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = () => Math.max(280, el.clientWidth);
    const loc = getLang() === 'es' ? 'es-CO' : 'en-US';
    const fmt = new Intl.DateTimeFormat(loc, { month: 'short', day: 'numeric', timeZone: 'UTC' });
    const short = new Intl.DateTimeFormat(loc, { month: 'numeric', day: 'numeric', timeZone: 'UTC' });
    const plot = new uPlot(
      {
        width: width(),
        height: 260,
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        axes: [
          { space: 60, values: (_u, vals) => vals.map((v) => short.format(new Date(v * 1000))) },
          { values: (_u, vals) => vals.map((v) => (Number.isInteger(v) ? String(v) : '')) },
        ],
        series: [
          { value: (_u, v) => (v == null ? '' : fmt.format(new Date(v * 1000))) },
          { label: t('stats.total'), stroke: '#1f5fa8', width: 2, fill: 'rgba(31,95,168,0.08)' },
          { label: t('stats.completed'), stroke: '#1c7c3c', width: 2 },
          { label: t('stats.failed'), stroke: '#b3261e', width: 2, dash: [6, 4] },
        ],
      },
      dailySeries(rows),
      el,
    );
    const ro = new ResizeObserver(() => plot.setSize({ width: width(), height: 260 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [rows]);
  return <div ref={box} class="chart" role="img" aria-label={t('stats.chartLabel')} data-testid="chart" data-points={rows.length} />;
}

export function Stats({ query: q }: { query: URLSearchParams }) {
  const today = clinicDate();
  const endDate = q.get('endDate') || today;
  const startDate = q.get('startDate') || addDays(endDate, -13);
  const [form, setForm] = useState({ startDate, endDate });
  const [totals, setTotals] = useState<CallStats | null>(null);
  const [daily, setDaily] = useState<DailyStats[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [rangeError, setRangeError] = useState('');

  const load = async () => {
    try {
      const range = query({ startDate, endDate });
      const [s, d] = await Promise.all([
        get<{ data: CallStats }>('/stats' + range),
        get<{ data: DailyStats[] }>('/stats/daily' + range),
      ]);
      setTotals(s.data);
      setDaily(d.data || []);
      setError(null);
    } catch (e) {
      setError(e);
    }
  };

  useEffect(() => {
    setForm({ startDate, endDate });
    load();
  }, [startDate, endDate]);

  const apply = (e: Event) => {
    e.preventDefault();
    if (form.startDate && form.endDate && form.endDate < form.startDate) return setRangeError(t('stats.badRange'));
    setRangeError('');
    location.hash = href('/stats', form);
  };
  const rate = totals ? pickupRate(totals) : null;

  return (
    <section data-page="stats">
      <h1>{t('stats.title')}</h1>
      <form class="filters" onSubmit={apply}>
        <label class="field">
          <span class="label">{t('stats.from')}</span>
          <input type="date" name="startDate" value={form.startDate} onInput={(e) => setForm({ ...form, startDate: (e.target as HTMLInputElement).value })} />
        </label>
        <label class="field">
          <span class="label">{t('stats.to')}</span>
          <input type="date" name="endDate" value={form.endDate} onInput={(e) => setForm({ ...form, endDate: (e.target as HTMLInputElement).value })} />
        </label>
        <div class="buttons">
          <button type="submit" class="primary">{t('common.apply')}</button>
        </div>
      </form>
      {rangeError && <p class="error" role="alert">{rangeError}</p>}
      <ErrorBox error={error} onRetry={load} />
      {totals && (
        <div class="tiles" data-testid="totals">
          <div class="tile">
            <span class="label">{t('stats.total')}</span>
            <span class="value" data-testid="total_calls">{totals.total_calls}</span>
          </div>
          <div class="tile">
            <span class="label">{t('stats.completed')}</span>
            <span class="value" data-testid="completed_calls">{totals.completed_calls}</span>
          </div>
          <div class="tile">
            <span class="label">{t('stats.failed')}</span>
            <span class="value" data-testid="failed_calls">{totals.failed_calls}</span>
            <span class="help">{t('stats.failedHelp')}</span>
          </div>
          <div class="tile">
            <span class="label">{t('stats.pickup')}</span>
            <span class="value" data-testid="pickup">{rate === null ? t('common.none') : `${formatNumber(rate * 100, 1)} %`}</span>
            <span class="help">{t('stats.pickupHelp')}</span>
          </div>
          <div class="tile">
            <span class="label">{t('stats.avgDuration')}</span>
            <span class="value" data-testid="avg_duration">{t('common.seconds', { n: formatNumber(totals.avg_duration, 1) })}</span>
          </div>
          <div class="tile">
            <span class="label">{t('stats.totalCost')}</span>
            <span class="value" data-testid="total_cost" data-value={String(totals.total_cost)}>{formatUsd(totals.total_cost)}</span>
          </div>
        </div>
      )}
      {daily && (
        <div class="card">
          <h2>{t('stats.daily')}</h2>
          <Chart rows={daily} />
        </div>
      )}
      {totals && !!totals.by_status?.length && (
        <div class="card">
          <h2>{t('stats.byStatus')}</h2>
          <div class="scroll"><table class="list" data-testid="by-status">
            <thead>
              <tr>
                <th>{t('col.status')}</th>
                <th>{t('col.count')}</th>
                <th>{t('stats.avgDuration')}</th>
                <th>{t('col.cost')}</th>
              </tr>
            </thead>
            <tbody>
              {totals.by_status.map((s) => (
                <tr data-status={s.status}>
                  <td>
                    <a href={href('/history', { status: s.status, startDate, endDate })}>{tv('status', s.status)}</a>
                  </td>
                  <td>{s.count}</td>
                  <td>{t('common.seconds', { n: formatNumber(s.avg_duration, 1) })}</td>
                  <td>{formatUsd(s.total_cost)}</td>
                </tr>
              ))}
            </tbody>
          </table></div>
        </div>
      )}
    </section>
  );
}
