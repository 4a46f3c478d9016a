import type { BrowserContext, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SagaStats } from '../../../src/projection/repository.ts';
import type { Instance } from '../../../src/runtime/instance.ts';
import { CANCELLED_STATE, CANCEL_EVENT } from '../../../src/saga/cancel.ts';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { SagaWorker } from '../../../src/worker/client.ts';
import { registerCleanup } from '../../support/cleanup.ts';
import { mongoPersistency } from '../../support/mongo.ts';
import { uniqueName } from '../../support/names.ts';
import { codecFor, reservationConfig, startTestInstance, testKafka, uniqueFlow } from '../../support/sagaflow.ts';
import { services } from '../../support/services.ts';
import { waitFor } from '../../support/wait.ts';
import { launchBrowser, watchedPage } from './browser.ts';

const TOKEN = 'console-admin-token-0123456789abcdef';

let instance: Instance;
let context: BrowserContext;
const created: { confirmed: string[]; failed: string[]; held: string[] } = { confirmed: [], failed: [], held: [] };

async function json<T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const res = await fetch(`${instance.url}${path}`, init);
  return { status: res.status, body: (await res.json()) as T };
}

async function createSaga(metadata: Record<string, unknown>): Promise<string> {
  const { body } = await json<{ sagaId: string }>('/saga', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ associatedEntityId: uniqueName('customer'), metadata }),
  });
  return body.sagaId;
}

async function saga(sagaId: string): Promise<SagaDocument> {
  return (await json<SagaDocument>(`/saga/${encodeURIComponent(sagaId)}`)).body;
}

async function stats(): Promise<SagaStats> {
  return (await json<SagaStats>('/sagas/stats')).body;
}

/** The counts the overview draws, state by state. */
async function drawnCounts(page: Page): Promise<Record<string, number>> {
  return page.$$eval('[data-count-for]', (els) => Object.fromEntries(els.map((el) => [el.getAttribute('data-count-for') ?? '', Number(el.getAttribute('data-count'))])));
}

function expectedCounts(s: SagaStats, drawn: Record<string, number>): Record<string, number> {
  const byState = new Map(s.byState.map((b) => [b.currentState, b.count]));
  return Object.fromEntries(Object.keys(drawn).map((state) => [state, byState.get(state) ?? 0]));
}

/** Entering the token reloads the page: the payloads' read is let finish first, not cut. */
async function payloadsRead(page: Page): Promise<void> {
  await page.waitForSelector('#payload-status[data-found]', { timeout: 20_000 });
}

async function enterToken(page: Page): Promise<void> {
  await page.fill('#token-input', TOKEN);
  await page.click('#use-token');
  await page.waitForSelector('#forget-token');
}

beforeAll(async () => {
  context = await launchBrowser();
  const flow = uniqueFlow('console');
  const { persistency } = await mongoPersistency('console');
  // Timers a held saga waits on for the whole test: a retry of its command in 5 min, a timeout in 10 min (on a transition it has).
  const config = reservationConfig(flow, 'json', persistency, (raw) => {
    const first = raw.machineDefinition.states.find((st) => st.id === 'reservationCreated');
    if (!first) throw new Error('examples/reservation has no reservationCreated');
    first.timeout = { after: '10m', event: 'validationKO' };
    first.outputCommand = { ...(first.outputCommand as Record<string, unknown>), retry: { maxAttempts: 2, initialDelay: '5m' } };
  });
  instance = await startTestInstance(config, { partitions: 2, env: { SAGAFLOW_ADMIN_TOKEN: TOKEN } });
  await waitFor(async () => (await fetch(`${instance.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });
  // Workers that answer like the tutorial's services, except for sagas with {hold: true}, which
  // stay in reservationCreated until an operator acts on them.
  const worker = new SagaWorker({ brokers: services().kafkaBrokers, codec: await codecFor(config), commandsTopic: flow.commands, eventsTopic: flow.events, groupId: uniqueName('workers') });
  worker
    .onCommand('validateReservation', async ({ sagaId, payload }) => {
      const p = payload as { hold?: boolean; fail?: string };
      if (p.hold) return;
      await worker.emit(p.fail === 'validation' ? 'validationKO' : 'validationOK', sagaId, { validatedBy: 'test' });
    })
    .onCommand('checkReservation', async ({ sagaId }) => {
      await worker.emit('checkOK', sagaId, { checkedBy: 'test' });
    });
  await worker.start();
  registerCleanup(() => worker.stop());

  for (let i = 0; i < 27; i += 1) created.confirmed.push(await createSaga({ seats: i + 1 }));
  for (let i = 0; i < 3; i += 1) created.failed.push(await createSaga({ fail: 'validation' }));
  for (let i = 0; i < 2; i += 1) created.held.push(await createSaga({ hold: true }));
  const producer = testKafka().producer();
  await producer.connect();
  // An event whose saga does not exist yet: dead-lettered, re-driven from the console later.
  await producer.send({ topic: flow.events, messages: [{ key: 'late-saga', value: JSON.stringify({ messageLabel: 'validationOK', messagePayload: { seats: 3 } }) }] });
  await producer.disconnect();
  const total = created.confirmed.length + created.failed.length + created.held.length;
  await waitFor(async () => {
    const s = await stats();
    const settled = s.byState.filter((b) => b.isFinal).reduce((n, b) => n + b.count, 0);
    return s.total === total && settled === created.confirmed.length + created.failed.length;
  }, { timeoutMs: 90_000, description: 'every saga projected in its final or held state' });
}, 900_000);

describe('the console in a real browser', () => {
  it('serves the overview with no console errors: the machine with counts equal to GET /sagas/stats, refreshed live', async () => {
    const { page, problems } = await watchedPage(context);
    await page.goto(`${instance.url}/console/`);
    await page.waitForSelector('#machine svg [data-count-for]');
    await page.waitForSelector('#instances tbody tr');
    const before = await stats();
    const drawn = await drawnCounts(page);
    expect(Object.keys(drawn).sort()).toEqual(['__cancelled__', 'reservationConfirmed', 'reservationCreated', 'reservationFailed', 'reservationValidated']);
    expect(drawn).toEqual(expectedCounts(before, drawn));
    expect(drawn.reservationConfirmed).toBe(created.confirmed.length);
    expect(await page.textContent('#total-sagas')).toBe(String(before.total));
    // The machine: every transition drawn with its event.
    const edges = await page.$$eval('#machine .edge', (els) => els.map((el) => `${el.getAttribute('data-from')} -${el.getAttribute('data-event')}-> ${el.getAttribute('data-to')}`).sort());
    expect(edges).toEqual([
      'reservationCreated -validationKO-> reservationFailed',
      'reservationCreated -validationOK-> reservationValidated',
      'reservationValidated -checkKO-> reservationFailed',
      'reservationValidated -checkOK-> reservationConfirmed',
    ]);
    expect(await page.textContent('#partitions tbody')).toContain('ready');

    // Live: a new saga shows up in the drawn counts without reloading the page.
    const updatesBefore = Number(await page.getAttribute('body', 'data-live-updates'));
    const extra = await createSaga({ seats: 99 });
    created.confirmed.push(extra);
    await waitFor(async () => (await stats()).byState.find((b) => b.currentState === 'reservationConfirmed')?.count === created.confirmed.length, { timeoutMs: 30_000 });
    const after = await stats();
    await waitFor(async () => (await page.getAttribute('[data-count-for="reservationConfirmed"]', 'data-count')) === String(created.confirmed.length), {
      timeoutMs: 30_000,
      description: 'the live feed to redraw the count',
    });
    expect(Number(await page.getAttribute('body', 'data-live-updates'))).toBeGreaterThan(updatesBefore);
    const live = await drawnCounts(page);
    expect(live).toEqual(expectedCounts(after, live));
    expect(problems.errors).toEqual([]);
    await page.close();
  });

  it('lists sagas with filters, sort and keyset pages, and finds one by sagaId', async () => {
    const { page, problems } = await watchedPage(context);
    await page.goto(`${instance.url}/console/sagas?currentState=reservationConfirmed&sort=sagaId&order=asc&limit=25`);
    await page.waitForSelector('#saga-table tbody tr');
    expect(await page.getAttribute('#match-count', 'data-total')).toBe(String(created.confirmed.length));
    const first = await page.$$eval('#saga-table tbody tr', (rows) => rows.map((r) => r.getAttribute('data-saga') ?? ''));
    expect(first).toHaveLength(25);
    await page.click('#next-page');
    await waitFor(async () => (await page.locator('#saga-table tbody tr').count()) < 25, { timeoutMs: 10_000 });
    const second = await page.$$eval('#saga-table tbody tr', (rows) => rows.map((r) => r.getAttribute('data-saga') ?? ''));
    expect([...first, ...second]).toEqual([...created.confirmed].sort());
    expect(await page.isDisabled('#next-page')).toBe(true);

    // Final or not, with the URL carrying the filters.
    await page.selectOption('#f-currentState', '');
    await page.selectOption('#f-isFinal', 'false');
    await page.click('#apply');
    await waitFor(async () => (await page.getAttribute('#match-count', 'data-total')) === String(created.held.length), { timeoutMs: 10_000 });
    const running = await page.$$eval('#saga-table tbody tr', (rows) => rows.map((r) => r.getAttribute('data-saga') ?? ''));
    expect(running.sort()).toEqual([...created.held].sort());
    expect(page.url()).toContain('isFinal=false');

    await page.fill('#lookup-id', created.failed[0] as string);
    await page.click('#lookup-open');
    await page.waitForURL(`**/console/sagas/${created.failed[0]}`);
    await page.waitForSelector('#saga-graph svg');
    expect(problems.errors).toEqual([]);
    await page.close();
  });

  it('draws the latest filter when an earlier, slower list load finishes after it', async () => {
    const { page, problems } = await watchedPage(context);
    await page.goto(`${instance.url}/console/sagas?limit=25`);
    await page.waitForSelector('#saga-table tbody tr');
    // The list load for the confirmed sagas answers late, after the next filter's load is drawn.
    await page.route((url) => url.pathname === '/sagas' && url.searchParams.get('currentState') === 'reservationConfirmed', async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await route.continue();
    });
    await page.selectOption('#f-currentState', 'reservationConfirmed');
    await page.click('#apply');
    await page.selectOption('#f-currentState', '');
    await page.selectOption('#f-isFinal', 'false');
    await page.click('#apply');
    await waitFor(async () => (await page.getAttribute('#match-count', 'data-total')) === String(created.held.length), { timeoutMs: 10_000 });
    await page.waitForTimeout(2_500);
    expect(await page.getAttribute('#match-count', 'data-total')).toBe(String(created.held.length));
    const rows = await page.$$eval('#saga-table tbody tr', (trs) => trs.map((r) => r.getAttribute('data-saga') ?? ''));
    expect(rows.sort()).toEqual([...created.held].sort());
    expect(problems.errors).toEqual([]);
    await page.close();
  });

  it("shows a saga's path on the machine equal to its history, its timeline and metadata", async () => {
    const sagaId = created.confirmed[0] as string;
    const doc = await saga(sagaId);
    const { page, problems } = await watchedPage(context);
    await page.goto(`${instance.url}/console/sagas/${sagaId}`);
    await page.waitForSelector('#saga-graph svg .edge.taken');
    const taken = await page.$$eval('#saga-graph .edge.taken', (els) =>
      els.flatMap((el) => (el.getAttribute('data-steps') ?? '').split(' ').map((step: string) => ({ step: Number(step), from: el.getAttribute('data-from'), event: el.getAttribute('data-event'), to: el.getAttribute('data-to') }))),
    );
    const history = doc.history.states.slice(1).map((s, i) => ({ step: i + 1, from: doc.history.states[i]?.state, event: doc.history.events[i + 1]?.event, to: s.state }));
    expect(taken.sort((a, b) => a.step - b.step)).toEqual(history);
    expect(history.map((h) => h.event)).toEqual(['validationOK', 'checkOK']);
    const visited = await page.$$eval('#saga-graph .node.visited', (els) => els.map((el) => el.getAttribute('data-state')).sort());
    expect(visited).toEqual([...new Set(doc.history.states.map((s) => s.state))].sort());
    expect(await page.getAttribute('#saga-graph .node.current', 'data-state')).toBe(doc.currentState);

    const kinds = await page.$$eval('#timeline tr', (rows) => rows.map((r) => r.getAttribute('data-kind')));
    expect(kinds.filter((k) => k === 'state')).toHaveLength(doc.history.states.length);
    expect(kinds.filter((k) => k === 'command')).toHaveLength(doc.commands.length);
    expect(await page.textContent('#timeline')).toContain('revision 1 · attempt 1');
    // Each event's payload, read back from the events topic.
    await waitFor(async () => (await page.getAttribute('#payload-status', 'data-found')) === String(doc.history.events.length), { timeoutMs: 20_000, description: 'payloads read back' });
    const payloads = await page.$$eval('#timeline details.payload pre', (els) => els.map((el) => JSON.parse(el.textContent ?? 'null') as unknown));
    expect(payloads).toEqual([{ associatedEntityId: expect.any(String), metadata: { seats: 1 } }, { validatedBy: 'test' }, { checkedBy: 'test' }]);
    expect(JSON.parse((await page.textContent('#metadata')) ?? 'null')).toEqual(doc.metadata);
    expect(await page.getAttribute('#raw-link', 'href')).toBe(`/saga/${sagaId}`);
    expect(problems.errors).toEqual([]);
    await page.close();
  });

  it('shows the timers a saga waits on after its history: kind, due time, countdown, event or command, attempt', async () => {
    const sagaId = created.held[0] as string;
    const doc = await saga(sagaId);
    expect(doc.timers?.map((t) => t.kind)).toEqual(['retry', 'timeout']);
    const { page, problems } = await watchedPage(context);
    await page.goto(`${instance.url}/console/sagas/${sagaId}`);
    await page.waitForSelector('#timeline tr[data-kind="timer"]');
    const rows = await page.$$eval('#timeline tr', (trs) => trs.map((tr) => ({ kind: tr.getAttribute('data-kind'), timer: tr.getAttribute('data-timer'), due: tr.querySelector('[data-due]')?.getAttribute('data-due') ?? null, text: tr.textContent ?? '' })));
    // Pending ones come last, soonest first, with the due times of the document.
    const pending = rows.filter((r) => r.kind === 'timer');
    expect(rows.slice(-2)).toEqual(pending);
    expect(pending.map((r) => [r.timer, r.due])).toEqual(doc.timers?.map((t) => [t.kind, t.dueAt]));
    expect(pending[0]?.text).toContain('retry pending');
    expect(pending[0]?.text).toContain('validateReservation');
    expect(pending[0]?.text).toContain('attempt 2');
    expect(pending[0]?.text).toMatch(/due in [1-5] min/);
    expect(pending[1]?.text).toContain('timeout pending');
    expect(pending[1]?.text).toContain('validationKO');
    expect(pending[1]?.text).toMatch(/due in ([6-9]|10) min/);
    expect(pending[1]?.text).toContain('delivered if the saga is still in reservationCreated');
    expect(await page.textContent('#timers-pending')).toMatch(/^2 timers pending · next due in [1-5] min$/);
    expect(problems.errors).toEqual([]);
    await page.close();
  });

  it('cancels a saga from its page with the admin token: recorded with who and why, drawn on the path', async () => {
    const sagaId = created.held[0] as string;
    const { page, problems } = await watchedPage(context);
    await page.goto(`${instance.url}/console/sagas/${sagaId}`);
    await page.waitForSelector('#saga-graph svg');
    expect(await page.textContent('main')).toContain('Enter the admin token');
    await payloadsRead(page);
    await enterToken(page);
    await page.waitForSelector('#cancel-saga');
    await page.fill('#cancel-by', 'alice@example.com');
    await page.fill('#cancel-reason', 'customer called to cancel');
    await page.click('#cancel-button');
    await page.waitForSelector('#saga-graph .edge.adhoc.taken', { timeout: 30_000 });
    const doc = await saga(sagaId);
    expect(doc.currentState).toBe(CANCELLED_STATE);
    expect(doc.isFinal).toBe(true);
    expect(doc.history.events.at(-1)).toMatchObject({ event: CANCEL_EVENT, by: 'alice@example.com', reason: 'customer called to cancel' });
    expect(await page.getAttribute('#saga-graph .edge.adhoc.taken', 'data-to')).toBe(CANCELLED_STATE);
    expect(await page.textContent('#timeline')).toContain('by alice@example.com: customer called to cancel');
    // The token is never part of the page.
    expect(await page.content()).not.toContain(TOKEN);
    expect(problems.errors).toEqual([]);
    await page.close();
  });

  it('sends an event to a saga from its page', async () => {
    const sagaId = created.held[1] as string;
    const { page, problems } = await watchedPage(context);
    await page.goto(`${instance.url}/console/sagas/${sagaId}`);
    // The token is kept per tab (sessionStorage): a new tab asks for it again.
    await page.waitForSelector('#token-input');
    await payloadsRead(page);
    await enterToken(page);
    await page.waitForSelector('#send-event');
    await page.selectOption('#event-label', 'validationKO');
    await page.fill('#event-payload', '{"rejectedBy": "operator"}');
    await page.click('#send-event-button');
    await page.waitForSelector('#action-result .notice.ok', { timeout: 30_000 });
    // Accepted (202) means produced: the saga moves once its partition processed the event.
    const doc = await waitFor(async () => {
      const d = await saga(sagaId);
      return d.currentState === 'reservationFailed' ? d : undefined;
    }, { timeoutMs: 30_000, description: `${sagaId} moved by the sent event` });
    expect(doc.metadata).toMatchObject({ hold: true, rejectedBy: 'operator' });
    expect(problems.errors).toEqual([]);
    await page.close();
  });

  it('browses dead letters, filters by code, and re-drives one to the events topic', async () => {
    const { page, problems } = await watchedPage(context);
    await page.goto(`${instance.url}/console/dead-letters`);
    await page.waitForSelector('#dead-letter-table tbody tr');
    expect(await page.textContent('#dead-letter-table')).toContain('SAGAFLOW_UNKNOWN_SAGA');
    await page.selectOption('#f-code', 'SAGAFLOW_UNKNOWN_SAGA');
    await page.click('#dl-apply');
    await waitFor(async () => (await page.getAttribute('#dl-count', 'data-total')) === '1', { timeoutMs: 10_000 });
    const row = await page.$eval('#dead-letter-table tbody tr', (tr) => ({ id: tr.getAttribute('data-dead-letter'), text: tr.textContent }));
    expect(row.text).toContain('late-saga');
    expect(row.text).toContain('validationOK');

    // The saga it was for now exists; the operator re-drives the event.
    const producer = testKafka().producer();
    await producer.connect();
    await producer.send({
      topic: instance.topics.events,
      messages: [{ key: 'late-saga', value: JSON.stringify({ messageLabel: '__created__', messagePayload: { associatedEntityId: 'c-late', metadata: { hold: true } } }) }],
    });
    await producer.disconnect();
    await waitFor(async () => (await fetch(`${instance.url}/saga/late-saga`)).status === 200, { timeoutMs: 30_000 });
    await enterToken(page);
    await page.waitForSelector(`[data-redrive="${row.id}"]`);
    await page.fill('#dl-by', 'bob');
    await page.click(`[data-redrive="${row.id}"]`);
    await page.waitForSelector('#dl-result .notice.ok');
    expect(await page.textContent('#dl-result')).toContain('Re-driven: 1');
    // The re-driven validationOK moves it on, and the check service then confirms it.
    const advanced = await waitFor(async () => {
      const doc = await saga('late-saga');
      return doc.currentState === 'reservationConfirmed' ? doc : undefined;
    }, { timeoutMs: 30_000, description: 'late-saga moved by the re-driven event' });
    expect(advanced.history.events.map((e) => e.event)).toEqual(['__created__', 'validationOK', 'checkOK']);
    expect(advanced.metadata).toMatchObject({ seats: 3 });
    await page.selectOption('#f-handled', 'true');
    await page.click('#dl-apply');
    // The list after the re-drive and the filtered one load in turn (each reads what the topics gained): the row shown last counts.
    const status = await waitFor(async () => {
      const text = await page.textContent(`[data-dead-letter="${row.id}"]`, { timeout: 1_000 }).catch(() => null);
      return text?.includes('re-driven') ? text : undefined;
    }, { timeoutMs: 15_000, description: 'the re-driven dead letter listed as such' });
    expect(status).toContain('by bob');
    expect(problems.errors).toEqual([]);
    await page.close();
  });
});

describe('the console with SAGAFLOW_PROTECT_READS', () => {
  let guarded: Instance;

  beforeAll(async () => {
    const flow = uniqueFlow('console-guarded');
    const { persistency } = await mongoPersistency('console_guarded');
    guarded = await startTestInstance(reservationConfig(flow, 'json', persistency), { partitions: 1, env: { SAGAFLOW_ADMIN_TOKEN: TOKEN, SAGAFLOW_PROTECT_READS: 'true' } });
    await waitFor(async () => (await fetch(`${guarded.url}/-/ready`)).status === 200, { timeoutMs: 60_000 });
  }, 300_000);

  it('shows no data until the token is entered, then the live overview, and never renders the token', async () => {
    const { page, problems } = await watchedPage(context);
    await page.goto(`${guarded.url}/console/`);
    await page.waitForSelector('.notice.error');
    expect(await page.textContent('main')).toContain('SAGAFLOW_PROTECT_READS');
    expect(await page.locator('[data-count-for]').count()).toBe(0);
    expect((await fetch(`${guarded.url}/sagas/stats`)).status).toBe(401);

    await enterToken(page);
    await page.waitForSelector('#machine svg [data-count-for]');
    const sagaId = (await (await fetch(`${guarded.url}/saga`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ associatedEntityId: 'x', metadata: {} }) })).json() as { sagaId: string }).sagaId;
    // The live feed, read with the token in its Authorization header, brings the new saga in.
    await waitFor(async () => (await page.getAttribute('[data-count-for="reservationCreated"]', 'data-count')) === '1', { timeoutMs: 30_000, description: 'the live count' });
    await page.goto(`${guarded.url}/console/sagas/${sagaId}`);
    await page.waitForSelector('#saga-graph .node.current');
    expect(await page.content()).not.toContain(TOKEN);
    expect(problems.errors).toEqual([]);
    await page.close();
  });
});
