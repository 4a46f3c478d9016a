/* global document */
// Saga detail: the machine with this saga's path, its timeline, metadata, raw document, and
// the operator actions (send an event, cancel) when an admin token is configured.
import { ApiError, api, operator, setOperator, svgDocument, token } from './api.js';
import { formatTime, h, jsonView, notice, panel, pill, replace } from './dom.js';
import { dueText, firedTimerText, pendingTimerText } from './timers.js';

/** The payload read back from the events topic, folded. */
function payloadOf(entry) {
  if (!('payload' in entry)) return null;
  return h('details', { class: 'payload', 'data-offset': entry.offset }, h('summary', {}, `payload · offset ${entry.offset}`), jsonView(entry.payload));
}

/** A pending timer's due time as it stands, kept current by refreshDueTimes. */
function dueSpan(iso) {
  return h('span', { class: 'due', 'data-due': iso }, dueText(iso));
}

/** Once a second: the page shows "due in 2 min" as a countdown, not as it was when drawn. */
function refreshDueTimes() {
  for (const el of document.querySelectorAll('[data-due]')) el.textContent = dueText(el.getAttribute('data-due'));
}

function timelineRow(entry) {
  if (entry.kind === 'timer') {
    const text = pendingTimerText(entry);
    return h(
      'tr',
      { class: 'tl-timer', 'data-kind': 'timer', 'data-timer': entry.timerKind },
      h('td', { class: 'when' }, formatTime(entry.at)),
      h('td', {}, pill(text.pill, 'pending')),
      h('td', {}, h('span', { class: 'mono' }, text.subject), ' · ', dueSpan(entry.at), h('div', { class: 'reason' }, text.detail)),
    );
  }
  const fired = firedTimerText(entry);
  if (entry.kind === 'state') {
    const who = entry.by ? h('div', { class: 'reason' }, `by ${entry.by}: ${entry.reason ?? ''}`) : entry.unexpected ? h('div', { class: 'reason' }, `unexpected in ${entry.unexpected.state}: ${entry.unexpected.reason}`) : null;
    return h(
      'tr',
      { class: ['tl-state', fired ? 'tl-fired' : ''], 'data-kind': 'state', 'data-step': entry.step, 'data-timer': entry.timer?.kind },
      h('td', { class: 'when' }, formatTime(entry.at)),
      h('td', {}, fired ? pill(fired.pill, 'timer') : entry.unexpected ? pill('unexpected', 'bad') : pill(entry.step === 0 ? 'created' : 'state', entry.step === 0 ? '' : 'ok')),
      h(
        'td',
        {},
        h('span', { class: 'mono' }, entry.event),
        ' → ',
        h('strong', { class: 'mono' }, entry.state),
        entry.businessStateId !== undefined ? h('span', { class: 'muted' }, `  business state ${entry.businessStateId}${entry.businessStateDescription ? ` · ${entry.businessStateDescription}` : ''}`) : null,
        entry.businessEventId !== undefined ? h('div', { class: 'reason' }, `business event ${entry.businessEventId}${entry.businessEventDescription ? ` · ${entry.businessEventDescription}` : ''}`) : null,
        entry.eventId ? h('div', { class: 'reason mono' }, `eventId ${entry.eventId}`) : null,
        fired ? h('div', { class: 'reason' }, fired.detail) : null,
        who,
        payloadOf(entry),
      ),
    );
  }
  if (entry.kind === 'command') {
    return h(
      'tr',
      { class: ['tl-command', fired ? 'tl-fired' : ''], 'data-kind': 'command', 'data-attempt': entry.attempt },
      h('td', { class: 'when' }, formatTime(entry.at)),
      h('td', {}, fired ? pill(fired.pill, 'timer') : pill(entry.commandKind === 'main' ? 'command' : 'side effect')),
      h(
        'td',
        {},
        h('span', { class: 'mono' }, entry.label),
        h('span', { class: 'muted' }, ` on ${entry.channel} from ${entry.state} · revision ${entry.revision} · attempt ${entry.attempt}${fired && entry.commandKind !== 'main' ? ' · side effect' : ''}`),
        fired ? h('div', { class: 'reason' }, fired.detail) : null,
      ),
    );
  }
  return h(
    'tr',
    { class: 'tl-ignored', 'data-kind': 'ignored' },
    h('td', { class: 'when' }, formatTime(entry.at)),
    h('td', {}, pill(`ignored: ${entry.outcome}`, 'warn')),
    h('td', {}, h('span', { class: 'mono' }, entry.event), h('span', { class: 'muted' }, ` in ${entry.state}`), h('div', { class: 'reason' }, entry.reason), entry.eventId ? h('div', { class: 'reason mono' }, `eventId ${entry.eventId}`) : null, payloadOf(entry)),
  );
}

function operatorField(id) {
  const field = h('input', { id, value: operator(), placeholder: 'your name or e-mail', required: true, maxlength: 200 });
  field.addEventListener('change', () => setOperator(field.value.trim()));
  return field;
}

/** Polls the saga until its revision passes `revision` (the action applied), up to 15 s. */
async function waitForChange(sagaId, revision) {
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    try {
      const { body } = await api(`/console/api/sagas/${encodeURIComponent(sagaId)}`);
      if (body.saga.revision > revision) return body;
    } catch {
      // keep polling until the deadline
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  return undefined;
}

function actions(model, view, out, rerender) {
  const { saga } = view;
  if (!model.features.admin) return panel('Operator actions', null, h('p', { class: 'muted' }, 'Off: start sagaflow with SAGAFLOW_ADMIN_TOKEN (or SAGAFLOW_ADMIN_TOKEN_FILE) to send events to sagas and cancel them from here.'));
  if (!token()) return panel('Operator actions', null, h('p', { class: 'muted' }, 'Enter the admin token at the top right to send events and cancel sagas.'));
  if (saga.isFinal) return panel('Operator actions', null, h('p', { class: 'muted' }, `This saga is in the final state ${saga.currentState}: it accepts no events and cannot be cancelled.`));
  const state = model.states.find((s) => s.id === saga.currentState);
  const accepted = state?.events ?? [];

  const label = h('select', { id: 'event-label' }, accepted.map((e) => h('option', { value: e.event }, `${e.event} → ${e.targetState}`)), h('option', { value: '' }, 'another label…'));
  const other = h('input', { id: 'event-other', placeholder: 'messageLabel', class: accepted.length > 0 ? 'hidden' : '' });
  label.addEventListener('change', () => other.classList.toggle('hidden', label.value !== ''));
  const payload = h('textarea', { id: 'event-payload', spellcheck: 'false' }, '{}');
  const eventId = h('input', { id: 'event-id', placeholder: 'optional: duplicate detection' });
  const send = async (e) => {
    e.preventDefault();
    let parsed;
    try {
      parsed = JSON.parse(payload.value || 'null');
    } catch (err) {
      replace(out, notice(`The payload is not JSON: ${err.message}`, 'error'));
      return;
    }
    const messageLabel = label.value || other.value.trim();
    if (!messageLabel) return replace(out, notice('Choose or type a label.', 'error'));
    const value = { messageLabel, messagePayload: parsed };
    if (eventId.value.trim()) value.eventId = eventId.value.trim();
    try {
      await api('/event', { method: 'POST', body: { key: saga.sagaId, value } });
      replace(out, notice(`Sent "${messageLabel}"; waiting for the saga to take it…`));
      const after = await waitForChange(saga.sagaId, saga.revision);
      replace(out, after ? notice(`"${messageLabel}" was taken: the saga is in ${after.saga.currentState} (revision ${after.saga.revision}).`, 'ok') : notice('Sent, but the saga did not change within 15 s.'));
      if (after) rerender(after);
    } catch (err) {
      replace(out, notice(`${err.code}: ${err.message}`, 'error'));
    }
  };

  const by = operatorField('cancel-by');
  const reason = h('input', { id: 'cancel-reason', placeholder: 'why (recorded in the history)', required: true, maxlength: 2000, class: 'wide' });
  const declaredCancel = state?.events.find((e) => e.event === model.cancel.event);
  const defaultTarget = declaredCancel ? declaredCancel.targetState : model.cancel.state;
  const target = h(
    'select',
    { id: 'cancel-target' },
    h('option', { value: '' }, `default: ${defaultTarget}${declaredCancel ? ' (its __cancel__ transition)' : model.cancel.declared ? '' : ' (built-in, final)'}`),
    model.states.filter((s) => s.id !== saga.currentState).map((s) => h('option', { value: s.id }, s.id)),
  );
  const cancel = async (e) => {
    e.preventDefault();
    if (!by.value.trim() || !reason.value.trim()) return replace(out, notice('Say who you are and why you cancel.', 'error'));
    setOperator(by.value.trim());
    const body = { by: by.value.trim(), reason: reason.value.trim() };
    if (target.value) body.targetState = target.value;
    try {
      const res = await api(`/saga/${encodeURIComponent(saga.sagaId)}/cancel`, { method: 'POST', body, query: { wait: 'true' } });
      if (res.status === 200) {
        replace(out, notice(`Cancelled: the saga is in ${res.body.saga.currentState}.`, 'ok'));
        const after = await waitForChange(saga.sagaId, saga.revision);
        if (after) rerender(after);
      } else replace(out, notice('The cancel was sent; the saga has not taken it yet.'));
    } catch (err) {
      replace(out, notice(`${err.code}: ${err.message}`, 'error'));
    }
  };
  return panel(
    'Operator actions',
    'recorded in the saga history',
    h(
      'div',
      { class: 'grid two' },
      h(
        'form',
        { id: 'send-event', onsubmit: send },
        h('h3', {}, 'Send an event'),
        h('label', { class: 'field' }, 'label', label, other),
        h('label', { class: 'field' }, 'payload (JSON, merged into the metadata)', payload),
        h('label', { class: 'field' }, 'eventId', eventId),
        h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', id: 'send-event-button' }, 'Send event')),
      ),
      h(
        'form',
        { id: 'cancel-saga', onsubmit: cancel },
        h('h3', {}, 'Cancel the saga'),
        h('label', { class: 'field' }, 'by', by),
        h('label', { class: 'field' }, 'reason', reason),
        h('label', { class: 'field' }, 'into', target),
        h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'danger', id: 'cancel-button' }, 'Cancel saga')),
      ),
    ),
  );
}

export async function sagaPage(main, model) {
  const sagaId = decodeURIComponent(document.location.pathname.replace(/^\/console\/sagas\//, ''));
  let view;
  try {
    view = (await api(`/console/api/sagas/${encodeURIComponent(sagaId)}`)).body;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      main.append(h('h1', {}, sagaId), notice(`No saga "${sagaId}".`, 'error'));
      return;
    }
    throw err;
  }
  // Outlives a redraw, so what an action did stays in view after the saga changed.
  const out = h('div', { id: 'action-result' });
  const render = async (v) => {
    const { saga } = v;
    const timelineBody = h('tbody', {}, v.timeline.map(timelineRow));
    const payloadStatus = h(
      'p',
      { class: 'muted small', id: 'payload-status' },
      model.features.eventPayloads ? 'Reading the payloads back from the events topic…' : 'The saga document keeps the merged metadata, not each payload.',
    );
    const graphBox = h('div', { class: 'graph-scroll', id: 'saga-graph' });
    replace(
      main,
      h(
        'div',
        { class: 'saga-head' },
        h('h1', { class: 'mono', id: 'saga-id' }, saga.sagaId),
        h(
          'div',
          { class: 'actions' },
          pill(saga.currentState, saga.isFinal ? 'muted' : 'ok'),
          saga.isFinal ? pill('final', 'muted') : pill('running', 'ok'),
          saga.businessStateId !== undefined ? pill(`business state ${saga.businessStateId}${saga.businessStateDescription ? ` · ${saga.businessStateDescription}` : ''}`) : null,
          pill(`revision ${saga.revision}`, 'muted'),
          saga.timers?.length ? h('span', { class: 'pill pending', id: 'timers-pending' }, `${saga.timers.length} timer${saga.timers.length === 1 ? '' : 's'} pending · next `, dueSpan(saga.timers[0].dueAt)) : null,
          v.servedBy === 'projection' ? pill('from the projection: may lag', 'warn') : null,
          v.servedBy === 'restoring' ? pill('from a store being restored: may lag', 'warn') : null,
          v.servedBy === 'unconfirmed' ? pill('from a store whose ownership is unconfirmed: may lag', 'warn') : null,
          h('a', { href: `/saga/${encodeURIComponent(saga.sagaId)}`, id: 'raw-link', target: '_blank', rel: 'noopener' }, 'raw document'),
          h('button', { type: 'button', id: 'refresh', onclick: async () => render((await api(`/console/api/sagas/${encodeURIComponent(sagaId)}`)).body) }, 'Refresh'),
        ),
        h('p', { class: 'muted' }, `associated entity ${saga.associatedEntityId} · created ${formatTime(saga.createdAt)} · updated ${formatTime(saga.updatedAt)}`),
      ),
      out,
      h('section', { class: 'panel' }, h('div', { class: 'panel-head' }, h('h2', {}, 'Path'), h('span', { class: 'hint' }, 'the states this saga went through, the steps numbered')), graphBox),
      h(
        'div',
        { class: 'grid two' },
        panel(
          'Timeline',
          'states, commands and ignored events, oldest first; then the timers the saga waits on',
          h('table', { id: 'timeline', class: 'timeline' }, timelineBody),
          payloadStatus,
        ),
        h('div', {}, panel('Metadata', null, jsonView(saga.metadata, { id: 'metadata' })), panel('Raw document', `as GET /saga/${saga.sagaId} serves it`, h('details', {}, h('summary', {}, 'show'), jsonView(saga, { id: 'raw-document' })))),
      ),
      actions(model, v, out, (after) => void render(after)),
    );
    replace(graphBox, await svgDocument(`/console/api/sagas/${encodeURIComponent(sagaId)}/graph.svg`));
    if (!model.features.eventPayloads) return;
    try {
      const { body } = await api(`/console/api/sagas/${encodeURIComponent(sagaId)}/events`);
      replace(timelineBody, body.timeline.map(timelineRow));
      const found = body.timeline.filter((e) => 'payload' in e).length;
      payloadStatus.textContent =
        `Payloads of ${found} event${found === 1 ? '' : 's'} read back from the events topic${body.complete ? '' : ' (in part: the scan stopped at its limit)'}.` +
        (body.unmatched.length > 0 ? ` ${body.unmatched.length} more event${body.unmatched.length === 1 ? '' : 's'} for this saga were not applied (see Dead letters).` : '') +
        (found < body.timeline.filter((e) => e.kind === 'state' || e.kind === 'ignored').length ? ' Older events may be past the topic’s retention.' : '');
      payloadStatus.dataset.found = String(found);
    } catch (err) {
      payloadStatus.textContent = `The payloads cannot be read now: ${err.message}`;
    }
  };
  await render(view);
  setInterval(refreshDueTimes, 1000);
}
