// The staff console end to end: headless Chromium (Debian's) through playwright-core, against the
// real stack run.sh started (edge, gateway, stats, ingest, simulator, PostgreSQL). Every wait is
// for a condition; nothing sleeps and hopes. Screenshots go to OUTCALL_ARTIFACTS.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const need = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run tests/browser/run.sh`);
  return v;
};
const URL_ = need('OUTCALL_CONSOLE_URL');
const TOKEN = need('OUTCALL_TOKEN');
const ART = need('OUTCALL_ARTIFACTS');
const EXE = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const API = new URL('api/elevenlabs', URL_).href;
const SIM = need('OUTCALL_SIM_URL');
const LONG = 90_000; // a simulated call at scale 20 takes a few seconds; be generous

mkdirSync(ART, { recursive: true });

async function api(method, path, body, headers = {}) {
  const res = await fetch(API + path, {
    method,
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`);
  return json;
}

/** The simulator's clock: 0 freezes every call where it is, 20 runs 20 simulated s a second. */
async function clock(scale) {
  const res = await fetch(`${SIM}/__sim/clock`, { method: 'POST', body: JSON.stringify({ scale }) });
  assert.equal(res.status, 200, `sim clock: HTTP ${res.status}`);
}

/** Polls fn until it returns a truthy value (for API-side conditions). */
async function until(fn, what, timeout = LONG) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function bogotaToday() {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Bogota', year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
}

let browser;
let context;
let page;
const consoleErrors = [];

async function shot(p, name) {
  await p.screenshot({ path: join(ART, `${name}.png`), fullPage: true });
}

async function signIn(p) {
  await p.goto(URL_);
  await p.locator('[data-page="signin"]').waitFor();
  await p.locator('textarea[name="token"]').fill(TOKEN);
  await p.locator('[data-page="signin"] button[type="submit"]').click();
  await p.locator('[data-page="today"]').waitFor();
}

before(async () => {
  browser = await chromium.launch({ executablePath: EXE, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  context = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'es-CO', timezoneId: 'America/Bogota' });
  context.setDefaultTimeout(30_000);
  page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
});

after(async () => {
  await browser?.close();
});

describe('console', () => {
  test('the edge serves the console with gzip, and an API error has the {code, message} body', async () => {
    const res = await fetch(URL_, { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /<div id="app">/);
    const bad = await fetch(API + '/calls', { headers: { Authorization: 'Bearer nope' } });
    assert.equal(bad.status, 401);
    const body = await bad.json();
    assert.equal(typeof body.code, 'number');
    assert.equal(typeof body.message, 'string');
  });

  test('sign in: a bad token is refused with a message, a good one opens today\'s calls', async () => {
    await page.goto(URL_);
    await page.locator('[data-page="signin"]').waitFor();
    assert.equal(await page.locator('h1').textContent(), 'Iniciar sesión');
    await page.locator('textarea[name="token"]').fill('not-a-token');
    await page.locator('[data-page="signin"] button[type="submit"]').click();
    await page.locator('[data-testid="signin-error"]').waitFor();
    // A well-formed JWT the edge does not accept (signed with another secret).
    const [h, p] = TOKEN.split('.');
    await page.locator('textarea[name="token"]').fill(`${h}.${p}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`);
    await page.locator('[data-page="signin"] button[type="submit"]').click();
    await page.locator('[data-testid="signin-error"]', { hasText: 'rechazó' }).waitFor();
    await shot(page, 'signin');
    await page.locator('textarea[name="token"]').fill(TOKEN);
    await page.locator('[data-page="signin"] button[type="submit"]').click();
    await page.locator('[data-page="today"]').waitFor();
    await page.locator('[data-testid="live"][data-connected="true"]').waitFor({ timeout: LONG });
  });

  let conversationId = '';
  test('a call placed from the form goes live to completed without a reload, then shows its transcript', async () => {
    await page.evaluate(() => {
      window.__sameDocument = true;
    });
    await page.locator('a[data-nav="call"]').click();
    await page.locator('[data-page="new-call"]').waitFor();
    await page.locator('input[name="phoneNumber"]').fill('+57 300 555 0001');
    await page.locator('input[name="patientName"]').fill('Ana Prueba');
    await page.locator('button', { hasText: 'Añadir variable' }).click();
    await page.locator('input[name="var-name-0"]').fill('clinic_name');
    await page.locator('input[name="var-value-0"]').fill('Clínica Norte');
    // The call stays where it is until the clock runs again: its live state is seen for sure.
    await clock(0);
    // A double click submits once: the same Idempotency-Key, and the button is disabled.
    await page.locator('[data-testid="place-call"]').dblclick();
    await page.waitForURL(/#\/calls\/.+/, { timeout: LONG });
    conversationId = decodeURIComponent(page.url().split('#/calls/')[1]);
    const callPage = page.locator('[data-page="call"][data-conversation]');
    await callPage.waitFor();
    const badge = callPage.locator('.head [data-status]');
    const first = await badge.getAttribute('data-status');
    assert.ok(['queued', 'dialing', 'initiated', 'ringing', 'in_progress'].includes(first), `first status ${first}`);
    await callPage.locator('[data-testid="live"][data-connected="true"]').waitFor({ timeout: LONG });
    await clock(20);
    await callPage.locator('.head [data-status="completed"]').waitFor({ timeout: LONG });
    await callPage.locator('[data-testid="transcript"] li').first().waitFor({ timeout: LONG });
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was reloaded');
    const turns = await callPage.locator('[data-testid="transcript"] li').count();
    assert.ok(turns >= 2, `transcript turns: ${turns}`);
    await callPage.locator('[data-testid="analysis"] > dl').waitFor({ timeout: LONG });
    // Only one call was placed for the double click.
    const list = await api('GET', `/calls?startDate=${bogotaToday()}&endDate=${bogotaToday()}&limit=100`);
    assert.equal(list.data.filter((c) => c.phoneNumber === '+573005550001').length, 1);
    // The recording, once stored (the simulator's post_call_audio), plays from the call page.
    await until(async () => (await api('GET', `/conversation/${encodeURIComponent(conversationId)}`)).data.hasAudio,
      'the recording to be stored');
    await page.reload();
    const player = page.locator('[data-testid="audio-player"]');
    await player.waitFor({ timeout: LONG });
    const src = await player.getAttribute('src');
    assert.ok(src && src.startsWith('blob:'), `audio src ${src}`);  // fetched with the token
    await page.evaluate(() => { window.__sameDocument = true; });  // the next tests check for reloads from here
    await shot(page, 'call');
  });

  test('today\'s list shows a call placed elsewhere and follows it live to its final state', async () => {
    await page.locator('a[data-nav="calls"]').click();
    await page.locator('[data-page="today"]').waitFor();
    await page.locator('[data-testid="live"][data-connected="true"]').waitFor({ timeout: LONG });
    await page.locator(`tr[data-conversation="${conversationId}"] [data-status="completed"]`).waitFor();
    await clock(0);
    const placed = await api('POST', '/call', { phoneNumber: '3005550005', patientName: 'Luis Ocupado' }, { 'Idempotency-Key': `browser-busy-${Date.now()}` });
    const id = placed.data.conversationId;
    assert.ok(id);
    const row = page.locator(`tr[data-conversation="${id}"]`);
    await row.waitFor({ timeout: LONG });
    const live = await row.locator('[data-status]').getAttribute('data-status');
    assert.ok(['queued', 'dialing', 'initiated', 'ringing'].includes(live), `first status ${live}`);
    await clock(20);
    await page.locator(`tr[data-conversation="${id}"] [data-status="busy"]`).waitFor({ timeout: LONG });
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was reloaded');
    await shot(page, 'today');
  });

  test('the end-call button hangs a live call up', async () => {
    // The clock frozen: the call stays live (initiated) while the page hangs it up.
    await clock(0);
    const placed = await api('POST', '/call', { phoneNumber: '+57 300 555 0008', patientName: 'Larga' }, { 'Idempotency-Key': `browser-long-${Date.now()}` });
    const id = placed.data.conversationId;
    await page.evaluate((r) => (location.hash = r), `#/calls/${encodeURIComponent(id)}`);
    const cp = page.locator(`[data-page="call"][data-conversation="${id}"]`);
    await cp.locator('.head [data-status="initiated"]').waitFor({ timeout: LONG });
    const before = (await (await fetch(`${SIM}/__sim/counters`)).json()).hangup_requests || 0;
    await cp.locator('[data-testid="end-call"]').click();
    await cp.locator('[data-testid="end-call-confirm"]').click();
    await cp.locator('.head [data-status="ended_manually"]').waitFor({ timeout: LONG });
    await cp.locator('[data-testid="end-call"]').waitFor({ state: 'detached' });
    await clock(20);
    assert.equal((await api('GET', `/conversation/${encodeURIComponent(id)}`)).data.status, 'ended_manually');
    const counters = await (await fetch(`${SIM}/__sim/counters`)).json();
    assert.ok(counters.hangup_requests > before, 'the simulator got the hang-up');
  });

  test('the history filters by status', async () => {
    await page.locator('a[data-nav="history"]').click();
    await page.locator('[data-page="history"] [data-testid="calls"]').waitFor();
    await page.locator('select[name="status"]').selectOption('busy');
    await page.locator('[data-testid="history-filters"] button[type="submit"]').click();
    await page.waitForURL(/status=busy/);
    await page.locator('[data-page="history"] [data-testid="page-info"]', { hasText: '1 en total' }).waitFor();
    const statuses = await page.locator('[data-page="history"] tbody [data-status]').evaluateAll((els) => els.map((e) => e.dataset.status));
    assert.deepEqual(statuses, ['busy']);
    await page.locator('select[name="status"]').selectOption('completed');
    await page.locator('[data-testid="history-filters"] button[type="submit"]').click();
    await page.waitForURL(/status=completed/);
    await page.locator(`[data-page="history"] tr[data-conversation="${conversationId}"]`).waitFor();
    const done = await page.locator('[data-page="history"] tbody [data-status]').evaluateAll((els) => els.map((e) => e.dataset.status));
    assert.ok(done.length >= 1 && done.every((s) => s === 'completed'), JSON.stringify(done));
    await shot(page, 'history');
    // A row opens the call page.
    await page.locator(`[data-page="history"] tr[data-conversation="${conversationId}"] a`).first().click();
    await page.locator(`[data-page="call"][data-conversation="${conversationId}"]`).waitFor();
  });

  test('statistics: the chart renders and the totals match GET /api/elevenlabs/stats', async () => {
    const today = bogotaToday();
    await page.goto(`${URL_}#/stats?startDate=${today}&endDate=${today}`);
    await page.locator('[data-page="stats"] [data-testid="totals"]').waitFor();
    await page.locator('[data-testid="chart"] canvas').waitFor();
    assert.equal(await page.locator('[data-testid="chart"]').getAttribute('data-points'), '1');
    const s = (await api('GET', `/stats?startDate=${today}&endDate=${today}`)).data;
    assert.ok(s.total_calls >= 2);
    for (const k of ['total_calls', 'completed_calls', 'failed_calls']) {
      assert.equal(Number(await page.locator(`[data-testid="${k}"]`).textContent()), s[k], k);
    }
    assert.equal(Number(await page.locator('[data-testid="total_cost"]').getAttribute('data-value')), s.total_cost);
    const rate = ((s.completed_calls / (s.completed_calls + s.failed_calls)) * 100).toFixed(1).replace('.', ',');
    assert.equal((await page.locator('[data-testid="pickup"]').textContent()).trim(), `${rate} %`);
    await page.goto(`${URL_}#/stats`);
    await page.locator('[data-testid="chart"][data-points="14"] canvas').waitFor();
    await shot(page, 'stats');
  });

  test('campaign from a CSV: row errors in the preview, created, started, paused', async () => {
    await page.locator('a[data-nav="campaigns"]').click();
    await page.locator('[data-page="campaigns"]').waitFor();
    await page.locator('[data-testid="new-campaign"]').click();
    await page.locator('[data-page="new-campaign"]').waitFor();
    const name = `Prueba navegador ${Date.now()}`;
    await page.locator('input[name="name"]').fill(name);
    await page.locator('textarea[name="template"]').fill('{"saludo": "Hola {{patient_name}}", "hora": "{{hora}}"}');
    // Numbers ending 555 0006 do not answer: the recipients wait for their retry (an hour), so the
    // campaign is still running when it is paused.
    const csv = [
      'telefono;patient_name;hora',
      '+57 300 555 0006;Ana;08:00',
      '12345;Luis;09:00',
      '310 555 0006;Eva;10:00',
      '3205550006;;11:00',
      '',
    ].join('\n');
    await page.locator('[data-testid="csv-file"]').setInputFiles({ name: 'pacientes.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    const summary = page.locator('[data-testid="preview-summary"]');
    await summary.waitFor();
    assert.equal(await summary.getAttribute('data-rows'), '4');
    assert.equal(await summary.getAttribute('data-valid'), '2');
    assert.equal(await summary.getAttribute('data-invalid'), '2');
    const errs = await page.locator('[data-testid="row-errors"] tbody tr').evaluateAll((rows) => rows.map((r) => [r.dataset.line, r.children[1].textContent]));
    assert.deepEqual(errs, [['3', 'phoneNumber'], ['5', 'variables.patient_name']]);
    await shot(page, 'campaign-preview');
    await page.locator('[data-testid="create-campaign"]').click();
    const created = page.locator('[data-testid="created"]');
    await created.waitFor({ timeout: LONG });
    const campaignId = await created.getAttribute('data-campaign');
    assert.match(await created.textContent(), /2 destinatarios añadidos/);
    await page.locator('[data-testid="open-campaign"]').click();
    const cp = page.locator(`[data-page="campaign"][data-campaign="${campaignId}"]`);
    await cp.waitFor();
    await cp.locator('.head [data-state="draft"]').waitFor();
    await cp.locator('[data-counter="total"]', { hasText: '2' }).waitFor();
    await cp.locator('[data-testid="live"][data-connected="true"]').waitFor({ timeout: LONG });
    await cp.locator('button[data-action="start"]').click();
    await cp.locator('.head [data-state="running"]').waitFor({ timeout: LONG });
    // Live progress from the watch stream: the recipients leave pending.
    await until(async () => Number(await cp.locator('[data-counter="pending"]').textContent()) < 2, 'a recipient dialled');
    await cp.locator('button[data-action="pause"]').click();
    await cp.locator('.head [data-state="paused"]').waitFor({ timeout: LONG });
    await cp.locator('button[data-action="resume"]').waitFor();
    const c = await api('GET', `/campaigns/${campaignId}`);
    assert.equal(c.state, 'paused');
    await shot(page, 'campaign');
    await page.locator('a[data-nav="campaigns"]').click();
    await page.locator(`[data-page="campaigns"] [data-campaign="${campaignId}"] [data-state="paused"]`).waitFor();
    await shot(page, 'campaigns');
  });

  test('the language switch changes every string and is kept across a reload', async () => {
    await page.locator('[data-testid="lang"]').selectOption('en');
    await page.locator('a[data-nav="calls"]', { hasText: 'Today' }).waitFor();
    await page.locator('a[data-nav="calls"]').click();
    await page.locator('[data-page="today"] h1', { hasText: "Today's calls" }).waitFor();
    await page.reload();
    await page.locator('[data-page="today"] h1', { hasText: "Today's calls" }).waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
    await page.locator(`tr[data-conversation="${conversationId}"] [data-status="completed"]`, { hasText: 'Completed' }).waitFor();
    await shot(page, 'today-en');
    await page.locator('[data-testid="lang"]').selectOption('es');
    await page.locator('[data-page="today"] h1', { hasText: 'Llamadas de hoy' }).waitFor();
  });

  test('at phone width (375x812) the pages fit without horizontal scrolling', async () => {
    const phone = await browser.newContext({ viewport: { width: 375, height: 812 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'es-CO', timezoneId: 'America/Bogota' });
    phone.setDefaultTimeout(30_000);
    const p = await phone.newPage();
    await signIn(p);
    await p.locator(`tr[data-conversation="${conversationId}"]`).waitFor();
    for (const [route, ready, name] of [
      ['#/calls', '[data-page="today"] [data-testid="calls"]', 'phone-today'],
      [`#/calls/${encodeURIComponent(conversationId)}`, '[data-testid="transcript"]', 'phone-call'],
      ['#/stats', '[data-testid="chart"] canvas', 'phone-stats'],
      ['#/campaigns', '[data-page="campaigns"] [data-campaign]', 'phone-campaigns'],
    ]) {
      await p.evaluate((r) => (location.hash = r), route);
      await p.locator(ready).first().waitFor();
      const width = await p.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 375, `${route}: the page is ${width} px wide`);
      await shot(p, name);
    }
    await phone.close();
  });

  test('a 401 from the API returns to sign-in with a message', async () => {
    await page.evaluate(() => sessionStorage.setItem('outcall.token', 'x.eyJzdWIiOiJ4In0.y'));
    await page.evaluate(() => (location.hash = '#/history'));
    await page.locator('[data-page="signin"] [data-testid="signin-notice"]').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('outcall.token')), null);
  });

  test('no script error was logged', () => {
    const real = consoleErrors.filter((e) => !/401|Unauthorized|Failed to load resource/i.test(e));
    assert.deepEqual(real, []);
  });
});
