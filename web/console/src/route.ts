// Hash routes: the edge serves files only, so every page lives after '#'.
export interface Route {
  name: string;
  id?: string;
  query: URLSearchParams;
}

export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, '') || '/calls';
  const [path, qs = ''] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const query = new URLSearchParams(qs);
  const [a, b] = parts;
  if (!a || a === 'signin') return { name: 'calls', query };
  if (a === 'calls' && b) return { name: 'callDetail', id: b, query };
  if (a === 'campaigns' && b === 'new') return { name: 'campaignNew', query };
  if (a === 'campaigns' && b) return { name: 'campaignDetail', id: b, query };
  return { name: a, query };
}

export function href(path: string, params: Record<string, string | undefined> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  const s = q.toString();
  return `#${path}${s ? `?${s}` : ''}`;
}
