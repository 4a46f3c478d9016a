import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileDefinition } from '../../../src/definition/compile.ts';
import type { CompiledDefinition } from '../../../src/definition/compile.ts';
import { parseSagaConfig } from '../../../src/definition/parse.ts';
import { LAYOUT, OPERATOR_LANE, layoutMachine, rankStates } from '../../../src/http/console/graph.ts';
import type { GraphLayout, GraphNode } from '../../../src/http/console/graph.ts';
import { clip, escapeXml, formatCount, renderGraphSvg, wrap } from '../../../src/http/console/graph-svg.ts';
import { sagaPath } from '../../../src/http/console/saga-path.ts';
import { CANCELLED_STATE } from '../../../src/saga/cancel.ts';
import { transition } from '../../../src/saga/transition.ts';
import type { SagaDocument, SagaInput } from '../../../src/saga/types.ts';

async function example(name: string): Promise<CompiledDefinition> {
  const raw = JSON.parse(readFileSync(new URL(`../../../examples/${name}/saga.json`, import.meta.url), 'utf8')) as Record<string, unknown>;
  // The examples reference secrets by environment variable; the machine is all that is drawn here.
  const parsed = parseSagaConfig(raw, { env: new Proxy({}, { get: () => 'x' }), readFile: () => 'x' });
  if (!parsed.config) throw new Error(JSON.stringify(parsed.errors));
  return compileDefinition(parsed.config);
}

function overlaps(a: GraphNode, b: GraphNode): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

/** The points an edge's path data passes through (end points of its segments). */
function points(path: string): [number, number][] {
  const numbers = path.replace(/[MLCQ,]/g, ' ').trim().split(/\s+/).map(Number);
  const out: [number, number][] = [];
  for (let i = 0; i + 1 < numbers.length; i += 2) out.push([numbers[i] as number, numbers[i + 1] as number]);
  return out;
}

function checkLayout(layout: GraphLayout): void {
  for (const [i, a] of layout.nodes.entries()) {
    for (const b of layout.nodes.slice(i + 1)) expect(overlaps(a, b), `${a.id} overlaps ${b.id}`).toBe(false);
    const lane = layout.lanes.find((l) => l.key === a.lane);
    expect(lane, `${a.id} has a lane`).toBeDefined();
    if (lane) {
      expect(a.y).toBeGreaterThanOrEqual(lane.y);
      expect(a.y + a.height).toBeLessThanOrEqual(lane.y + lane.height);
    }
    expect(a.x + a.width).toBeLessThanOrEqual(layout.width);
  }
  // Edges never run through a state other than their own ends (checked at their corners and ends).
  for (const e of layout.edges) {
    for (const [x, y] of points(e.path)) {
      for (const n of layout.nodes) {
        if (n.id === e.from || n.id === e.to) continue;
        const inside = x > n.x + 1 && x < n.x + n.width - 1 && y > n.y + 1 && y < n.y + n.height - 1;
        expect(inside, `${e.from} -${e.event}-> ${e.to} passes through ${n.id} at ${x},${y}`).toBe(false);
      }
    }
  }
}

describe('rankStates', () => {
  it('puts every state right of the states that lead to it, going back only on cycles', () => {
    const successors = new Map([
      ['a', ['b', 'c']],
      ['b', ['d']],
      ['c', ['d', 'a']],
      ['d', []],
    ]);
    const { rank, forward } = rankStates(['a', 'b', 'c', 'd'], successors, 'a');
    expect(Object.fromEntries(rank)).toEqual({ a: 0, b: 1, c: 1, d: 2 });
    expect(forward.has('c\u0000a')).toBe(false);
    expect(forward.has('a\u0000c')).toBe(true);
  });

  it('ranks a state many paths end in after all of them, not beside the first', () => {
    const successors = new Map([
      ['start', ['end', 'middle']],
      ['middle', ['later']],
      ['later', ['end']],
      ['end', []],
    ]);
    const { rank } = rankStates(['start', 'middle', 'later', 'end'], successors, 'start');
    expect(rank.get('end')).toBe(3);
  });

  it('ranks states the initial state cannot reach from themselves', () => {
    const { rank } = rankStates(['a', 'orphan', 'b'], new Map([['a', ['b']], ['orphan', ['b']], ['b', []]]), 'a');
    expect(Object.fromEntries(rank)).toEqual({ a: 0, orphan: 0, b: 1 });
  });
});

describe('layoutMachine', () => {
  it.each(['reservation', 'order', 'car-dealer', 'payment'])('lays out %s with no overlapping states and no edge through a state', async (name) => {
    const def = await example(name);
    const layout = layoutMachine(def);
    checkLayout(layout);
    expect(layout.nodes.map((n) => n.id).sort()).toEqual([...def.states.keys(), CANCELLED_STATE].sort());
    const transitions = [...def.states.values()].flatMap((s) => s.outgoingTransitions.map((t) => `${s.id} ${t.inputEvent} ${t.targetState}`));
    expect(layout.edges.map((e) => `${e.from} ${e.event} ${e.to}`).sort()).toEqual(transitions.sort());
  });

  it('gives each business state a lane in the order the definition lists them, the built-in cancelled state its own', async () => {
    const layout = layoutMachine((await example('reservation')));
    expect(layout.lanes.map((l) => l.title)).toEqual(['0 · The reservation is in progress', '1 · The reservation is confirmed', '2 · The reservation can not be confirmed', 'operator']);
    const cancelled = layout.nodes.find((n) => n.id === CANCELLED_STATE);
    expect(cancelled).toMatchObject({ builtIn: true, isFinal: true, lane: OPERATOR_LANE });
    const byId = new Map(layout.nodes.map((n) => [n.id, n]));
    expect(byId.get('reservationCreated')?.rank).toBe(0);
    expect(byId.get('reservationValidated')?.rank).toBe(1);
    expect(byId.get('reservationConfirmed')?.rank).toBe(2);
    expect(byId.get('reservationFailed')?.rank).toBe(2);
    expect(byId.get('reservationCreated')?.initial).toBe(true);
  });

  it('draws a choreography: the startOn events at the start, routed transitions marked [when], one (unexpected) edge per onUnexpected', async () => {
    const layout = layoutMachine(await example('marketplace-order'));
    expect(layout.start.event).toBe('__created__ | orderPlaced');
    const edges = layout.edges.map((e) => `${e.from} ${e.event} ${e.to}`);
    expect(edges).toContain('awaitingPayment paymentAuthorized [when] fraudReview');
    expect(edges).toContain('awaitingPayment paymentAuthorized awaitingStock');
    expect(edges.filter((e) => e.endsWith(' (unexpected) unexpectedTransition')).sort()).toEqual(
      ['awaitingPayment', 'awaitingShipment', 'awaitingStock', 'fraudReview', 'inTransit'].map((from) => `${from} (unexpected) unexpectedTransition`),
    );
  });

  it("draws a state's timeout and how many times a command is sent, with room for the extra line", async () => {
    const layout = layoutMachine(await example('payment'));
    const byId = new Map(layout.nodes.map((n) => [n.id, n]));
    const requested = byId.get('paymentRequested');
    expect(requested).toMatchObject({ timeout: { after: '2m', event: 'paymentTimedOut' }, commands: [{ label: 'chargeCard', channel: 'payments', kind: 'main', maxAttempts: 3 }] });
    expect(byId.get('awaitingShipment')?.commands).toEqual([
      { label: 'shipOrder', channel: 'payments', kind: 'main' },
      { label: 'notifyCustomer', channel: 'payments', kind: 'sideEffect', maxAttempts: 2 },
    ]);
    expect(byId.get('orderShipped')?.timeout).toBeUndefined();
    // Two lines of commands plus the timeout's.
    expect(byId.get('awaitingShipment')?.height).toBeGreaterThanOrEqual(LAYOUT.headerHeight + 3 * LAYOUT.commandHeight);
    const svg = renderGraphSvg(layout);
    expect(svg).toContain('▸ chargeCard ↻3');
    expect(svg).toContain('sent up to 3 times while the saga stays');
    expect(svg).toContain('<text class="command timer"');
    expect(svg).toContain('timeout 2m → paymentTimedOut');
    expect(svg).toContain('timeout 8h → shipmentLate');
    expect(svg.match(/class="command timer"/g)).toHaveLength(2);
  });

  it('marks edges back to an earlier column and loops, and is deterministic', async () => {
    const def = (await example('car-dealer'));
    const layout = layoutMachine(def);
    const kind = (from: string, event: string) => layout.edges.find((e) => e.from === from && e.event === event)?.kind;
    expect(kind('quoteSent', 'quoteNegotiated')).toBe('back');
    expect(kind('deliveryScheduled', 'deliveryMissed')).toBe('self');
    expect(kind('requestReceived', 'carAvailable')).toBe('forward');
    expect(JSON.stringify(layoutMachine(def))).toBe(JSON.stringify(layout));
  });

  it("draws a parallel state's join as an edge to onJoin's target, and its branch commands", async () => {
    const layout = layoutMachine(await example('user-provisioning'));
    checkLayout(layout);
    expect(layout.edges.filter((e) => e.from === 'provisioning').map((e) => `${e.event} ${e.to}`).sort()).toEqual(['join all 3 provisioned', 'provisioningTimedOut awaitingHelpdesk']);
    const provisioning = layout.nodes.find((n) => n.id === 'provisioning');
    expect(provisioning?.commands.map((c) => `${c.kind} ${c.label}`)).toEqual(['branch addToGroups', 'branch provisionMailbox', 'branch createHomeFolder']);
    expect((layout.nodes.find((n) => n.id === 'provisioned')?.rank ?? 0) > (provisioning?.rank ?? 0)).toBe(true);
    const svg = renderGraphSvg(layout);
    expect(svg).toContain('∥ addToGroups ↻3');
    expect(svg).toContain('parallel branch command provisionMailbox on channel mail');
    expect(svg.match(/<text class="command branch"/g)).toHaveLength(3);
  });

  it('keeps room on a state for each of its exits', async () => {
    const layout = layoutMachine((await example('car-dealer')));
    for (const n of layout.nodes) {
      const exits = layout.edges.filter((e) => e.from === n.id && e.kind !== 'self').length;
      expect(n.height).toBeGreaterThanOrEqual((exits + 1) * LAYOUT.exitSpacing);
    }
  });
});

const reservationDef = await example('reservation');

describe('renderGraphSvg', () => {
  const def = reservationDef;
  const layout = layoutMachine(def);

  it('draws counts per state (0 for a state with no saga) with links to the list of its sagas', () => {
    const svg = renderGraphSvg(layout, { counts: new Map([['reservationCreated', 3], ['reservationConfirmed', 1234567]]), stateHref: (s) => `/console/sagas?currentState=${s}` });
    expect(svg).toContain('data-count-for="reservationCreated" data-count="3">3</text>');
    expect(svg).toContain('data-count-for="reservationConfirmed" data-count="1234567">1.2M</text>');
    expect(svg).toContain('data-count-for="reservationFailed" data-count="0">0</text>');
    expect(svg).toContain('href="/console/sagas?currentState=reservationValidated"');
    expect(svg).toContain('validateReservation');
    expect(svg.match(/class="edge /g)).toHaveLength(4);
  });

  it("highlights a saga's path: visited states, the current one, taken edges numbered by step", () => {
    const inputs: SagaInput[] = [
      { kind: 'create', sagaId: 's', associatedEntityId: 'e', metadata: {}, timestamp: '2026-01-01T00:00:00.000Z' },
      { kind: 'event', sagaId: 's', label: 'validationOK', payload: {}, timestamp: '2026-01-01T00:00:01.000Z' },
      { kind: 'cancel', sagaId: 's', by: 'alice', reason: 'why', timestamp: '2026-01-01T00:00:02.000Z' },
    ];
    let saga: SagaDocument | undefined;
    for (const input of inputs) saga = transition(def, saga, input).saga;
    const path = sagaPath(saga as SagaDocument);
    expect(path.steps.map((s) => [s.step, s.from, s.event, s.to])).toEqual([
      [1, 'reservationCreated', 'validationOK', 'reservationValidated'],
      [2, 'reservationValidated', '__cancel__', CANCELLED_STATE],
    ]);
    const svg = renderGraphSvg(layout, { path });
    expect(svg).toContain('class="machine with-path"');
    expect(svg).toMatch(/class="edge forward taken" data-from="reservationCreated" data-event="validationOK" data-to="reservationValidated" data-steps="1"/);
    // The cancel has no edge in the definition: drawn for this saga only.
    expect(svg).toMatch(/class="edge adhoc taken" data-from="reservationValidated" data-event="__cancel__" data-to="__cancelled__" data-steps="2"/);
    expect(svg).toMatch(/class="node initial visited" data-state="reservationCreated" data-visits="0"/);
    expect(svg).toMatch(/class="node final builtin visited current" data-state="__cancelled__"/);
    expect(svg).not.toContain('data-count-for');
  });

  it('escapes every text taken from the definition', () => {
    expect(escapeXml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    const hostile = { ...layout, lanes: [{ key: 'b:1', title: '<script>alert(1)</script>', y: 0, height: 100 }] };
    expect(renderGraphSvg(hostile)).not.toContain('<script>');
  });

  it('clips, wraps and formats for the room it has', () => {
    expect(clip('abcdef', 4)).toBe('abc…');
    expect(clip('abc', 4)).toBe('abc');
    expect(wrap('0 · The reservation is in progress', 20, 3)).toEqual(['0 · The reservation', 'is in progress']);
    expect(wrap('one two three four five six', 9, 2)).toEqual(['one two', 'three fo…']);
    expect(formatCount(999)).toBe('999');
    expect(formatCount(12345)).toBe('12,345');
    expect(formatCount(250_000)).toBe('250k');
    expect(formatCount(12_000_000)).toBe('12M');
  });
});
