/* global document, history, URLSearchParams */
// Dead letters: browse the dead-letter topic, filter by code, re-drive or mark handled.
import { api, operator, setOperator, token } from './api.js';
import { formatNumber, formatTime, h, notice, panel, pill, replace } from './dom.js';

function status(letter) {
  if (!letter.handled) return pill('to handle', 'warn');
  const what = letter.handled.action === 'redriven' ? 're-driven' : 'handled';
  return h('div', {}, pill(what, 'ok'), h('div', { class: 'reason' }, `by ${letter.handled.by} · ${formatTime(letter.handled.at)}`), letter.handled.note ? h('div', { class: 'reason' }, letter.handled.note) : null);
}

export async function deadLettersPage(main, model) {
  main.append(h('h1', {}, 'Dead letters'), h('p', { class: 'muted' }, 'Records sagaflow could not apply, with the reason. Re-drive one to the events topic once what it needs is there, or mark it handled.'));
  if (!model.features.deadLetters) {
    main.append(notice('This instance has no access to the dead-letter topic.'));
    return;
  }
  const params = new URLSearchParams(document.location.search);
  const canAct = model.features.admin && Boolean(token());
  const codeSelect = h('select', { id: 'f-code', name: 'code' }, h('option', { value: '' }, 'all codes'));
  const handledSelect = h(
    'select',
    { id: 'f-handled', name: 'handled' },
    [['false', 'to handle'], ['', 'all'], ['true', 'handled or re-driven']].map(([v, t]) => h('option', { value: v, selected: v === (params.get('handled') ?? 'false') }, t)),
  );
  const by = h('input', { id: 'dl-by', value: operator(), placeholder: 'your name or e-mail', maxlength: 200 });
  const note = h('input', { id: 'dl-note', placeholder: 'note (optional, for handled)', maxlength: 2000, class: 'wide' });
  const out = h('div', { id: 'dl-result' });
  const summary = h('span', { class: 'hint', id: 'dl-count' });
  const table = h('div', { id: 'dl-table' });
  const pager = h('div', { class: 'pager' });
  const selected = new Set();
  const selectedCount = h('span', { class: 'muted', id: 'dl-selected' }, '0 selected');
  const act = async (kind, ids) => {
    if (ids.length === 0) return replace(out, notice('Select dead letters first.', 'error'));
    const who = by.value.trim();
    if (!who) return replace(out, notice('Say who you are (recorded with the marker).', 'error'));
    setOperator(who);
    const body = kind === 'redrive' ? { ids, by: who } : { ids, by: who, ...(note.value.trim() ? { note: note.value.trim() } : {}) };
    try {
      const res = await api(`/dead-letters/${kind === 'redrive' ? 'redrive' : 'handled'}`, { method: 'POST', body });
      const done = res.body.done.length;
      const skipped = res.body.skipped.map((s) => `${s.id}: ${s.reason}`);
      replace(out, notice(`${kind === 'redrive' ? 'Re-driven' : 'Marked handled'}: ${done}.${skipped.length > 0 ? ` Skipped: ${skipped.join('; ')}` : ''}`, skipped.length > 0 ? '' : 'ok'));
      selected.clear();
      await load(undefined);
    } catch (err) {
      replace(out, notice(`${err.code}: ${err.message}`, 'error'));
    }
  };
  main.append(
    panel(
      'Filter',
      null,
      h(
        'form',
        { class: 'filters', id: 'dl-filters', onsubmit: (e) => { e.preventDefault(); void load(undefined); } },
        h('label', { class: 'field' }, 'error code', codeSelect),
        h('label', { class: 'field' }, 'status', handledSelect),
        h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', id: 'dl-apply' }, 'Apply')),
      ),
    ),
    canAct
      ? panel(
          'Act on the selection',
          'operator actions, recorded in the <applicationId>-dead-letter-handled topic',
          h('div', { class: 'actions' }, selectedCount, h('label', { class: 'field' }, 'by', by), h('label', { class: 'field grow' }, 'note', note)),
          h(
            'div',
            { class: 'actions' },
            h('button', { type: 'button', class: 'primary', id: 'redrive-selected', onclick: () => act('redrive', [...selected]) }, 'Re-drive selected'),
            h('button', { type: 'button', id: 'handle-selected', onclick: () => act('handled', [...selected]) }, 'Mark selected handled'),
          ),
          out,
        )
      : notice(model.features.admin ? 'Enter the admin token at the top right to re-drive dead letters or mark them handled.' : 'Re-drive and mark handled are off: start sagaflow with SAGAFLOW_ADMIN_TOKEN.'),
    h('section', { class: 'panel' }, h('div', { class: 'panel-head' }, h('h2', {}, 'Dead letters'), summary), table, pager),
  );

  let firstCodes = true;
  // Loads can overlap (the reload after an action, then a new filter): only the latest is drawn.
  let latest = 0;
  const load = async (cursor) => {
    const mine = ++latest;
    const query = { limit: 50, cursor, code: codeSelect.value || params.get('code') || undefined, handled: handledSelect.value || undefined };
    if (firstCodes) params.delete('code');
    history.replaceState(null, '', `/console/dead-letters?${new URLSearchParams(Object.entries({ code: query.code ?? '', handled: handledSelect.value })).toString()}`);
    const { body } = await api('/dead-letters', { query });
    if (mine !== latest) return;
    const current = query.code ?? '';
    replace(
      codeSelect,
      h('option', { value: '' }, 'all codes'),
      body.codes.map((c) => h('option', { value: c.code, selected: c.code === current }, `${c.code} (${formatNumber(c.count)})`)),
      current && !body.codes.some((c) => c.code === current) ? h('option', { value: current, selected: true }, `${current} (0)`) : null,
    );
    firstCodes = false;
    summary.textContent = `${formatNumber(body.total)} shown of ${formatNumber(body.indexed)} held${body.evicted > 0 ? ` (${formatNumber(body.evicted)} older ones let go)` : ''}`;
    summary.dataset.total = String(body.total);
    const warning = body.complete ? null : notice('The dead-letter topic could not be read to its end in time: the newest may be missing. Refresh in a moment.');
    const checkbox = (id) => {
      const box = h('input', { type: 'checkbox', 'data-select': id, 'aria-label': `select ${id}`, checked: selected.has(id) });
      box.addEventListener('change', () => {
        if (box.checked) selected.add(id);
        else selected.delete(id);
        selectedCount.textContent = `${selected.size} selected`;
      });
      return box;
    };
    replace(
      table,
      warning,
      body.items.length === 0
        ? h('p', { class: 'muted' }, 'No dead letter matches.')
        : h(
            'table',
            { id: 'dead-letter-table' },
            h('thead', {}, h('tr', {}, canAct ? h('th', {}, '') : null, ['time', 'code and reason', 'saga (key)', 'source', 'payload', 'status', canAct ? '' : null].filter((t) => t !== null).map((t) => h('th', {}, t)))),
            h(
              'tbody',
              {},
              body.items.map((l) =>
                h(
                  'tr',
                  { 'data-dead-letter': l.id, 'data-code': l.code },
                  canAct ? h('td', {}, checkbox(l.id)) : null,
                  h('td', { class: 'when' }, formatTime(l.timestamp)),
                  h('td', {}, pill(l.code, 'bad'), h('div', { class: 'reason' }, l.reason)),
                  h('td', {}, l.key === null ? h('span', { class: 'muted' }, 'no key') : h('a', { class: 'mono', href: `/console/sagas/${encodeURIComponent(l.key)}` }, l.key)),
                  h('td', { class: 'mono small' }, `${l.source.topic ?? '?'}`, h('br'), `partition ${l.source.partition ?? '?'} · offset ${l.source.offset ?? '?'}`),
                  h('td', {}, l.payload.messageLabel ? h('div', { class: 'mono' }, l.payload.messageLabel) : h('div', { class: 'muted small' }, l.payload.format), h('pre', { class: 'preview' }, l.payload.preview)),
                  h('td', {}, status(l)),
                  canAct
                    ? h(
                        'td',
                        {},
                        h('button', { type: 'button', 'data-redrive': l.id, onclick: () => act('redrive', [l.id]) }, 'Re-drive'),
                        ' ',
                        l.handled ? null : h('button', { type: 'button', 'data-handle': l.id, onclick: () => act('handled', [l.id]) }, 'Handled'),
                      )
                    : null,
                ),
              ),
            ),
          ),
    );
    selectedCount.textContent = `${selected.size} selected`;
    replace(pager, h('button', { type: 'button', id: 'dl-next', disabled: !body.nextCursor, onclick: () => void load(body.nextCursor) }, 'Next page »'));
  };
  await load(undefined);
}
