import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { FunctionComponent } from 'preact';
import { claims, setUnauthorizedHandler, token } from './api';
import { getLang, setLang, t, useLangInit, type Lang } from './i18n';
import { parseRoute, type Route } from './route';
import { SignIn } from './pages/SignIn';
import { Today } from './pages/Today';
import { NewCall } from './pages/NewCall';
import { CallPage } from './pages/CallPage';
import { History } from './pages/History';
import { Campaigns } from './pages/Campaigns';
import { CampaignPage } from './pages/CampaignPage';
import { Reviews } from './pages/Reviews';
import './styles.css';

useLangInit();

// The chart (uPlot) and the CSV reader (papaparse) load with the pages that use them.
function lazy<P>(load: () => Promise<FunctionComponent<P>>): FunctionComponent<P> {
  let loaded: FunctionComponent<P> | null = null;
  return (props: P) => {
    const [C, setC] = useState<FunctionComponent<P> | null>(() => loaded);
    const [failed, setFailed] = useState('');
    useEffect(() => {
      if (!C) load().then((c) => { loaded = c; setC(() => c); }).catch((e) => setFailed(String(e?.message || e)));
    }, []);
    if (failed) return <p class="error" role="alert">{t('common.error', { message: failed })}</p>;
    return C ? <C {...(props as any)} /> : <p class="muted">{t('common.loading')}</p>;
  };
}
const Stats = lazy(() => import('./pages/Stats').then((m) => m.Stats));
const NewCampaign = lazy(() => import('./pages/NewCampaign').then((m) => m.NewCampaign));

function App() {
  const [route, setRoute] = useState<Route>(parseRoute(location.hash));
  const [lang, setLangState] = useState<Lang>(getLang());
  const [signedIn, setSignedIn] = useState<boolean>(!!token.get());
  const [notice, setNotice] = useState<string>('');

  useEffect(() => {
    const onHash = () => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', onHash);
    setUnauthorizedHandler((message) => {
      token.clear();
      setNotice(message || '401');
      setSignedIn(false);
    });
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  useEffect(() => {
    document.title = t('app.title');
  }, [lang]);

  const changeLang = (l: Lang) => {
    setLang(l);
    setLangState(l);
  };

  const langSelect = (
    <label class="lang">
      <span class="sr-only">{t('nav.language')}</span>
      <select
        data-testid="lang"
        aria-label={t('nav.language')}
        value={lang}
        onChange={(e) => changeLang((e.target as HTMLSelectElement).value as Lang)}
      >
        <option value="es">{t('lang.es')}</option>
        <option value="en">{t('lang.en')}</option>
      </select>
    </label>
  );

  if (!signedIn) {
    return (
      <div class="app" key={lang}>
        <header class="top">
          <span class="brand">outcall</span>
          {langSelect}
        </header>
        <main id="main">
          <SignIn
            notice={notice}
            onSignedIn={() => {
              setNotice('');
              setSignedIn(true);
              if (!location.hash || location.hash === '#/' || location.hash.startsWith('#/signin')) location.hash = '#/calls';
            }}
          />
        </main>
      </div>
    );
  }

  const sub = String(claims(token.get())?.sub ?? '');
  const nav: [string, string, string][] = [
    ['calls', '#/calls', t('nav.today')],
    ['call', '#/call', t('nav.newCall')],
    ['history', '#/history', t('nav.history')],
    ['stats', '#/stats', t('nav.stats')],
    ['campaigns', '#/campaigns', t('nav.campaigns')],
    ['reviews', '#/reviews', t('nav.reviews')],
  ];
  const section = route.name === 'callDetail' ? 'calls' : route.name.startsWith('campaign') ? 'campaigns' : route.name;

  return (
    <div class="app" key={lang}>
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>
        {t('app.skip')}
      </a>
      <header class="top">
        <span class="brand">outcall</span>
        <nav aria-label="main">
          {nav.map(([id, href, label]) => (
            <a href={href} data-nav={id} class={section === id ? 'active' : ''} aria-current={section === id ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <div class="who">
          {langSelect}
          <span class="sub" title={sub}>{sub}</span>
          <button
            class="link"
            data-testid="signout"
            onClick={() => {
              token.clear();
              setSignedIn(false);
            }}
          >
            {t('nav.signOut')}
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Page route={route} />
      </main>
    </div>
  );
}

function Page({ route }: { route: Route }) {
  switch (route.name) {
    case 'calls':
      return <Today />;
    case 'callDetail':
      return <CallPage id={route.id!} key={route.id} />;
    case 'call':
      return <NewCall />;
    case 'history':
      return <History query={route.query} />;
    case 'stats':
      return <Stats query={route.query} />;
    case 'campaigns':
      return <Campaigns />;
    case 'campaignNew':
      return <NewCampaign />;
    case 'campaignDetail':
      return <CampaignPage id={route.id!} key={route.id} />;
    case 'reviews':
      return <Reviews />;
    default:
      return <h1>{t('notfound.title')}</h1>;
  }
}

render(<App />, document.getElementById('app')!);
