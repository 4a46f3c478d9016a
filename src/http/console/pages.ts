import { escapeXml } from './graph-svg.ts';

export type ConsolePage = 'overview' | 'sagas' | 'saga' | 'dead-letters';

export const CONSOLE_BASE = '/console';

const TITLES: Record<ConsolePage, string> = {
  overview: 'Overview',
  sagas: 'Sagas',
  saga: 'Saga',
  'dead-letters': 'Dead letters',
};

const NAV: [ConsolePage, string, string][] = [
  ['overview', 'Overview', `${CONSOLE_BASE}/`],
  ['sagas', 'Sagas', `${CONSOLE_BASE}/sagas`],
  ['dead-letters', 'Dead letters', `${CONSOLE_BASE}/dead-letters`],
];

/**
 * The HTML of a console page: a shell with no data in it (the script fetches everything with
 * the token when reads are protected), so a page can be served to anyone. Nothing here comes
 * from a request but the application id, which is escaped.
 */
export function renderPage(page: ConsolePage, applicationId: string): string {
  const nav = NAV.map(([id, label, href]) => {
    const active = id === page || (page === 'saga' && id === 'sagas');
    return `<a href="${href}"${active ? ' class="active" aria-current="page"' : ''}>${label}</a>`;
  }).join('');
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${TITLES[page]} · sagaflow console</title>`,
    `<link rel="icon" href="${CONSOLE_BASE}/assets/favicon.svg" type="image/svg+xml">`,
    `<link rel="stylesheet" href="${CONSOLE_BASE}/assets/console.css">`,
    `<script type="module" src="${CONSOLE_BASE}/assets/console.js"></script>`,
    '</head>',
    `<body data-page="${page}">`,
    '<header class="top">',
    `<a class="brand" href="${CONSOLE_BASE}/">sagaflow <span>console</span></a>`,
    `<nav>${nav}</nav>`,
    `<span class="app" title="application id">${escapeXml(applicationId)}</span>`,
    '<div class="auth" id="auth"></div>',
    '</header>',
    '<main id="main"><noscript>The console needs JavaScript.</noscript></main>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/**
 * Everything a console page may load: its own script, styles and images, and calls to its own
 * origin. No inline script or style, no other origin, no framing.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
