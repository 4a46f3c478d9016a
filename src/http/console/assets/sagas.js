/* global document, history, URLSearchParams, FormData */
// Saga list: filters (kept in the page's URL), sort, keyset pages, and lookup by sagaId.
import { ApiError, api } from './api.js';
import { formatNumber, formatTime, h, notice, panel, pill, replace } from './dom.js';

const FILTERS = ['currentState', 'businessStateId', 'associatedEntityId', 'isFinal', 'createdFrom', 'createdTo', 'updatedFrom', 'updatedTo'];

/** datetime-local value (browser time) <-> ISO-8601 instant. */
function toIso(local) {
  if (!local) return '';
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

function toLocal(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function select(name, label, options, value) {
  return h(
    'label',
    { class: 'field' },
    label,
    h('select', { name, id: `f-${name}` }, options.map(([v, text]) => h('option', { value: v, selected: v === value }, text))),
  );
}

function input(name, label, value, type = 'text', placeholder = '') {
  return h('label', { class: 'field' }, label, h('input', { name, id: `f-${name}`, type, value, placeholder }));
}

export async function sagasPage(main, model) {
  const params = new URLSearchParams(document.location.search);
  const get = (k) => params.get(k) ?? '';
  const lookupInput = h('input', { id: 'lookup-id', placeholder: 'sagaId', 'aria-label': 'sagaId', class: 'wide' });
  const lookupResult = h('div', {});
  const open = async (event) => {
    event.preventDefault();
    const id = lookupInput.value.trim();
    if (!id) return;
    try {
      await api(`/saga/${encodeURIComponent(id)}`);
      document.location.href = `/console/sagas/${encodeURIComponent(id)}`;
    } catch (err) {
      replace(lookupResult, notice(err instanceof ApiError && err.status === 404 ? `No saga "${id}".` : `${err.code ?? ''} ${err.message}`, 'error'));
    }
  };
  const stateOptions = [['', 'any state'], ...model.states.map((s) => [s.id, s.id]), [model.cancel.state, `${model.cancel.state}${model.cancel.declared ? '' : ' (built-in)'}`]];
  const businessOptions = [['', 'any business state'], ...model.businessStates.map((b) => [String(b.id), `${b.id}${b.description ? ` · ${b.description}` : ''}`])];
  const form = h(
    'form',
    { class: 'filters', id: 'filters' },
    select('currentState', 'state', stateOptions, get('currentState')),
    select('businessStateId', 'business state', businessOptions, get('businessStateId')),
    input('associatedEntityId', 'associated entity id', get('associatedEntityId')),
    select('isFinal', 'final', [['', 'final or not'], ['false', 'running'], ['true', 'final']], get('isFinal')),
    input('createdFrom', 'created from', toLocal(get('createdFrom')), 'datetime-local'),
    input('createdTo', 'created before', toLocal(get('createdTo')), 'datetime-local'),
    input('updatedFrom', 'updated from', toLocal(get('updatedFrom')), 'datetime-local'),
    input('updatedTo', 'updated before', toLocal(get('updatedTo')), 'datetime-local'),
    select('sort', 'sort by', [['createdAt', 'created'], ['updatedAt', 'updated'], ['sagaId', 'sagaId']], get('sort') || 'createdAt'),
    select('order', 'order', [['desc', 'newest first'], ['asc', 'oldest first']], get('order') || 'desc'),
    select('limit', 'page size', [['25', '25'], ['50', '50'], ['100', '100']], get('limit') || '25'),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', id: 'apply' }, 'Apply'), h('button', { type: 'button', id: 'reset', onclick: () => (document.location.href = '/console/sagas') }, 'Reset')),
  );
  const summary = h('span', { class: 'hint', id: 'match-count' });
  const results = h('div', { id: 'results' });
  const pager = h('div', { class: 'pager' });
  main.append(
    h('h1', {}, 'Sagas'),
    panel('Find a saga', 'by its sagaId', h('form', { class: 'actions', onsubmit: open }, lookupInput, h('button', { type: 'submit', id: 'lookup-open' }, 'Open')), lookupResult),
  );
  if (!model.features.projection) {
    main.append(notice('Listing and filtering sagas needs mongo persistency (persistencyManagement type "mongo"); lookup by sagaId works without it.'));
    return;
  }
  main.append(panel('Filter', null, form), h('section', { class: 'panel' }, h('div', { class: 'panel-head' }, h('h2', {}, 'Results'), summary), results, pager));

  const query = () => {
    const data = new FormData(form);
    const q = {};
    for (const name of [...FILTERS, 'sort', 'order', 'limit']) {
      let v = String(data.get(name) ?? '');
      if (name.endsWith('From') || name.endsWith('To')) v = toIso(v);
      if (v) q[name] = v;
    }
    return q;
  };
  const cursors = [];
  // Loads can overlap (a slow filter, then another one; a page click during a load): only the latest is drawn.
  let latest = 0;
  const load = async (cursor) => {
    const mine = ++latest;
    const q = query();
    history.replaceState(null, '', `/console/sagas?${new URLSearchParams(q).toString()}`);
    const filters = Object.fromEntries(Object.entries(q).filter(([k]) => FILTERS.includes(k)));
    const [page, stats] = await Promise.all([api('/sagas', { query: { ...q, cursor } }), api('/sagas/stats', { query: filters })]);
    if (mine !== latest) return;
    summary.textContent = `${formatNumber(stats.body.total)} sagas match`;
    summary.dataset.total = String(stats.body.total);
    const items = page.body.items;
    replace(
      results,
      items.length === 0
        ? h('p', { class: 'muted' }, 'No saga matches these filters.')
        : h(
            'table',
            { id: 'saga-table' },
            h('thead', {}, h('tr', {}, ['sagaId', 'state', 'business state', 'associated entity', 'revision', 'created', 'updated'].map((t) => h('th', { class: t === 'revision' ? 'num' : '' }, t)))),
            h(
              'tbody',
              {},
              items.map((s) =>
                h(
                  'tr',
                  { 'data-saga': s.sagaId },
                  h('td', {}, h('a', { href: `/console/sagas/${encodeURIComponent(s.sagaId)}`, class: 'mono' }, s.sagaId)),
                  h('td', {}, h('span', { class: 'mono' }, s.currentState), ' ', s.isFinal ? pill('final', 'muted') : pill('running', 'ok')),
                  h('td', {}, s.businessStateId === undefined ? '' : `${s.businessStateId}${s.businessStateDescription ? ` · ${s.businessStateDescription}` : ''}`),
                  h('td', { class: 'mono' }, s.associatedEntityId),
                  h('td', { class: 'num' }, String(s.revision)),
                  h('td', {}, formatTime(s.createdAt)),
                  h('td', {}, formatTime(s.updatedAt)),
                ),
              ),
            ),
          ),
    );
    replace(
      pager,
      h('button', { type: 'button', id: 'first-page', disabled: cursors.length === 0, onclick: () => { cursors.length = 0; reload(undefined); } }, '« First page'),
      h('span', { class: 'muted' }, `page ${cursors.length + 1}`),
      h('button', {
        type: 'button',
        id: 'next-page',
        disabled: !page.body.nextCursor,
        onclick: () => {
          cursors.push(cursor ?? '');
          reload(page.body.nextCursor);
        },
      }, 'Next page »'),
    );
  };
  const reload = (cursor) => void load(cursor).catch((err) => replace(results, notice(`${err.code}: ${err.message}`, 'error')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    cursors.length = 0;
    reload(undefined);
  });
  await load(undefined);
}
