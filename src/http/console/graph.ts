import type { CompiledDefinition, CompiledState } from '../../definition/compile.ts';
import { businessKey } from '../../definition/compile.ts';
import { describeJoin } from '../../definition/parallel.ts';
import { BUILT_IN_CANCELLED_STATE, CANCELLED_STATE } from '../../saga/cancel.ts';
import type { CommandKind } from '../../definition/types.ts';

/*
 * The state machine as a graph the console draws: one lane per business state (in the order
 * the definition lists them), states in columns by how far they are from the initial state,
 * transitions labelled with their events. Edges between neighbouring columns are curves
 * across the gap between them; longer ones and edges that go back run through the free strips
 * at the top and bottom of the lanes and the gaps between columns, so no edge ever crosses a
 * state. Pure and deterministic: the same definition always gives the same picture.
 */

export interface GraphCommand {
  label: string;
  channel: string;
  kind: CommandKind;
  /** Sends in all, the first included, when the command has a `retry`. */
  maxAttempts?: number;
}

export interface GraphNode {
  id: string;
  description?: string;
  isFinal: boolean;
  initial: boolean;
  /** The built-in `__cancelled__` state (not declared in the definition). */
  builtIn: boolean;
  lane: string;
  commands: GraphCommand[];
  /** The state's `timeout`: `after` as saga.json writes it, and the event it delivers. */
  timeout?: { after: string; event: string };
  rank: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface GraphLane {
  key: string;
  title: string;
  y: number;
  height: number;
}

export interface GraphEdge {
  from: string;
  to: string;
  event: string;
  /** forward: to a later column; back: to the same or an earlier one; self: a loop. */
  kind: 'forward' | 'back' | 'self';
  /** SVG path data. */
  path: string;
  /** Where the label starts (text-anchor start), just after the edge leaves its state. */
  labelX: number;
  labelY: number;
}

export interface GraphLayout {
  width: number;
  height: number;
  lanes: GraphLane[];
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** Where the creation arrow starts, pointing at the initial state. */
  start: { x: number; y: number; event: string };
}

export const LAYOUT = {
  margin: 16,
  laneTitleWidth: 150,
  nodeWidth: 212,
  columnGap: 132,
  nodeGap: 22,
  lanePadding: 26,
  headerHeight: 32,
  commandHeight: 16,
  /** Vertical distance between the exits of one state, room for one label each. */
  exitSpacing: 17,
} as const;

/** Lane of states without a business state, and of the built-in cancelled state. */
export const NO_BUSINESS_LANE = 'none';
export const OPERATOR_LANE = 'operator';

function laneOf(businessStateId: string | number | undefined): string {
  return businessStateId === undefined ? NO_BUSINESS_LANE : `b:${businessKey(businessStateId)}`;
}

const edgeKey = (from: string, to: string) => `${from}\u0000${to}`;

/**
 * Columns. An edge on no cycle always leads forward. An edge on a cycle leads forward when it
 * goes further from the initial state (breadth-first distance), or to a state as far when that
 * closes no cycle among the forward edges; the others go back. Ranks are the longest path over
 * the forward edges, so a state sits right of every state that leads to it, and a state that
 * many paths end in (a failure, a cancellation) sits at the right, not next to the first one.
 * States the initial state cannot reach are ranked from themselves.
 */
export function rankStates(order: readonly string[], successors: ReadonlyMap<string, readonly string[]>, initial: string): { rank: Map<string, number>; forward: Set<string> } {
  const distance = new Map<string, number>();
  const queue: string[] = [];
  const seed = (id: string, d: number) => {
    if (distance.has(id)) return;
    distance.set(id, d);
    queue.push(id);
  };
  for (const root of [initial, ...order]) {
    if (!successors.has(root)) continue;
    seed(root, 0);
    while (queue.length > 0) {
      const id = queue.shift() as string;
      for (const next of successors.get(id) ?? []) seed(next, (distance.get(id) ?? 0) + 1);
    }
  }
  const reaches = (graph: ReadonlyMap<string, readonly string[]>, from: string, to: string): boolean => {
    const seen = new Set<string>([from]);
    const stack = [from];
    while (stack.length > 0) {
      const id = stack.pop() as string;
      if (id === to) return true;
      for (const n of graph.get(id) ?? []) {
        if (seen.has(n)) continue;
        seen.add(n);
        stack.push(n);
      }
    }
    return false;
  };
  const forward = new Set<string>();
  const forwardNext = new Map<string, string[]>();
  const add = (from: string, to: string) => {
    forward.add(edgeKey(from, to));
    forwardNext.set(from, [...(forwardNext.get(from) ?? []), to]);
  };
  const sameDistance: [string, string][] = [];
  for (const id of order) {
    for (const to of successors.get(id) ?? []) {
      if (to === id || forward.has(edgeKey(id, to))) continue;
      const d = distance.get(id) ?? 0;
      const dt = distance.get(to) ?? 0;
      if (!reaches(successors, to, id) || dt > d) add(id, to);
      else if (dt === d) sameDistance.push([id, to]);
    }
  }
  for (const [id, to] of sameDistance) if (!reaches(forwardNext, to, id)) add(id, to);
  // Longest path over the forward edges (a DAG), in an order where every edge points ahead.
  const indegree = new Map(order.map((id) => [id, 0]));
  for (const targets of forwardNext.values()) for (const t of targets) indegree.set(t, (indegree.get(t) ?? 0) + 1);
  const rank = new Map(order.map((id) => [id, 0]));
  const ready = order.filter((id) => indegree.get(id) === 0);
  while (ready.length > 0) {
    const id = ready.shift() as string;
    for (const t of forwardNext.get(id) ?? []) {
      rank.set(t, Math.max(rank.get(t) ?? 0, (rank.get(id) ?? 0) + 1));
      indegree.set(t, (indegree.get(t) ?? 0) - 1);
      if (indegree.get(t) === 0) ready.push(t);
    }
  }
  return { rank, forward };
}

/** A polyline with rounded corners, as SVG path data. */
function rounded(points: readonly [number, number][], radius = 7): string {
  const first = points[0] as [number, number];
  let d = `M ${first[0]} ${first[1]}`;
  for (let i = 1; i < points.length - 1; i += 1) {
    const [px, py] = points[i - 1] as [number, number];
    const [x, y] = points[i] as [number, number];
    const [nx, ny] = points[i + 1] as [number, number];
    const inLen = Math.hypot(x - px, y - py);
    const outLen = Math.hypot(nx - x, ny - y);
    const r = Math.min(radius, inLen / 2, outLen / 2);
    if (r <= 0.5) {
      d += ` L ${x} ${y}`;
      continue;
    }
    const ax = x - ((x - px) / inLen) * r;
    const ay = y - ((y - py) / inLen) * r;
    const bx = x + ((nx - x) / outLen) * r;
    const by = y + ((ny - y) / outLen) * r;
    d += ` L ${round(ax)} ${round(ay)} Q ${x} ${y} ${round(bx)} ${round(by)}`;
  }
  const last = points[points.length - 1] as [number, number];
  return `${d} L ${last[0]} ${last[1]}`;
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

/** Hands out evenly spaced positions inside a band, one per caller, wrapping when it is full. */
class Slots {
  private readonly used = new Map<string, number>();
  take(key: string, start: number, step: number, count: number): number {
    const n = this.used.get(key) ?? 0;
    this.used.set(key, n + 1);
    return start + (n % count) * step;
  }
}

/** Label of the edge a state's onUnexpected draws: any event the state has no transition for. */
export const UNEXPECTED_EDGE = '(unexpected)';

/**
 * Lays out the machine of a compiled definition. The built-in `__cancelled__` state is drawn in
 * an operator lane when the definition does not declare a state of that name: any running saga
 * can be cancelled into it, so no edge leads there until a saga's path does.
 */
export function layoutMachine(def: CompiledDefinition): GraphLayout {
  const states = [...def.states.values()];
  const builtIn = !def.states.has(CANCELLED_STATE);
  const all = builtIn ? [...states, BUILT_IN_CANCELLED_STATE] : states;
  const order = all.map((s) => s.id);
  // A parallel state's join is an edge like a transition, labelled with what it waits for;
  // a state with onUnexpected has a catch-all edge (choreography).
  const exitsOf = (s: CompiledState) => [
    ...s.outgoingTransitions.map((t) => ({ to: t.targetState, event: t.when === undefined ? t.inputEvent : `${t.inputEvent} [when]` })),
    ...(s.parallel ? [{ to: s.parallel.targetState, event: describeJoin(s.parallel.join, s.parallel.branches.length) }] : []),
    ...(s.onUnexpected === undefined ? [] : [{ to: s.onUnexpected, event: UNEXPECTED_EDGE }]),
  ];
  const successors = new Map(all.map((s) => [s.id, exitsOf(s).map((t) => t.to).filter((t) => def.states.has(t))]));
  const { rank, forward } = rankStates(order, successors, def.initialState);
  const maxDeclared = Math.max(0, ...states.map((s) => rank.get(s.id) ?? 0));
  if (builtIn) rank.set(CANCELLED_STATE, maxDeclared);

  const transitions = all.flatMap((s) => exitsOf(s).filter((t) => def.states.has(t.to)).map((t) => ({ from: s.id, to: t.to, event: t.event })));
  const outs = new Map<string, number>();
  const ins = new Map<string, number>();
  for (const t of transitions) {
    if (t.from === t.to) continue;
    outs.set(t.from, (outs.get(t.from) ?? 0) + 1);
    ins.set(t.to, (ins.get(t.to) ?? 0) + 1);
  }

  // Lanes: business states in the definition's order, then states without one, then the operator lane.
  const titles = new Map<string, string>([
    [NO_BUSINESS_LANE, 'no business state'],
    [OPERATOR_LANE, 'operator'],
  ]);
  for (const entry of def.machineDefinition.businessStates ?? []) {
    titles.set(laneOf(entry.id), entry.description === undefined ? String(entry.id) : `${String(entry.id)} · ${entry.description}`);
  }
  const nodes: GraphNode[] = all.map((s) => {
    const isBuiltIn = builtIn && s.id === CANCELLED_STATE;
    const lines = Math.max(s.commands.length, 1) + (s.timeout ? 1 : 0);
    const commandsHeight = LAYOUT.headerHeight + lines * LAYOUT.commandHeight + 8;
    const node: GraphNode = {
      id: s.id,
      isFinal: s.isFinal,
      initial: s.id === def.initialState,
      builtIn: isBuiltIn,
      lane: isBuiltIn ? OPERATOR_LANE : laneOf(s.businessStateId),
      commands: s.commands.map((c) => ({ label: c.label, channel: c.channel, kind: c.kind, ...(c.retry ? { maxAttempts: c.retry.maxAttempts } : {}) })),
      rank: rank.get(s.id) ?? 0,
      x: 0,
      y: 0,
      width: LAYOUT.nodeWidth,
      height: Math.max(commandsHeight, ((outs.get(s.id) ?? 0) + 1) * LAYOUT.exitSpacing, ((ins.get(s.id) ?? 0) + 1) * 10),
    };
    if (s.description !== undefined) node.description = s.description;
    if (s.timeout) node.timeout = { after: typeof s.timeout.after === 'number' ? `${s.timeout.after} ms` : s.timeout.after, event: s.timeout.event };
    return node;
  });
  const declaredOrder = (def.machineDefinition.businessStates ?? []).map((b) => laneOf(b.id));
  const laneOrder = (key: string) => (key === OPERATOR_LANE ? 1e6 + 1 : key === NO_BUSINESS_LANE ? 1e6 : declaredOrder.indexOf(key));
  const laneKeys = [...new Set(nodes.map((n) => n.lane))].sort((a, b) => laneOrder(a) - laneOrder(b));

  // Cells (lane, rank) stack their nodes; a lane is as tall as its fullest cell.
  const cells = new Map<string, GraphNode[]>();
  for (const node of nodes) {
    const key = `${node.lane}\u0000${node.rank}`;
    cells.set(key, [...(cells.get(key) ?? []), node]);
  }
  const stackHeight = (members: GraphNode[]) => members.reduce((h, n) => h + n.height, 0) + LAYOUT.nodeGap * (members.length - 1);
  const lanes: GraphLane[] = [];
  let y = LAYOUT.margin;
  for (const key of laneKeys) {
    let tallest = 0;
    for (const [cellKey, members] of cells) if (cellKey.startsWith(`${key}\u0000`)) tallest = Math.max(tallest, stackHeight(members));
    const height = Math.max(tallest + LAYOUT.lanePadding * 2, 84);
    lanes.push({ key, title: titles.get(key) ?? key.slice(2), y, height });
    y += height;
  }
  const bottom = y;
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const predecessors = new Map<string, string[]>();
  for (const t of transitions) predecessors.set(t.to, [...(predecessors.get(t.to) ?? []), t.from]);
  const columnX = (r: number) => LAYOUT.margin + LAYOUT.laneTitleWidth + LAYOUT.columnGap / 2 + r * (LAYOUT.nodeWidth + LAYOUT.columnGap);
  const maxRank = Math.max(...nodes.map((n) => n.rank));
  // Column by column, so a cell orders its nodes by where their predecessors are (fewer
  // crossings), then by the definition's order.
  for (let r = 0; r <= maxRank; r += 1) {
    for (const lane of lanes) {
      const members = cells.get(`${lane.key}\u0000${r}`);
      if (!members) continue;
      const weight = (n: GraphNode) => {
        const placed = (predecessors.get(n.id) ?? []).map((p) => byId.get(p)).filter((p): p is GraphNode => p !== undefined && p.rank < r);
        return placed.length === 0 ? Number.POSITIVE_INFINITY : placed.reduce((sum, p) => sum + p.y + p.height / 2, 0) / placed.length;
      };
      const weights = new Map(members.map((n) => [n.id, weight(n)]));
      members.sort((a, b) => (weights.get(a.id) ?? 0) - (weights.get(b.id) ?? 0) || order.indexOf(a.id) - order.indexOf(b.id));
      let top = lane.y + (lane.height - stackHeight(members)) / 2;
      for (const node of members) {
        node.x = columnX(r);
        node.y = top;
        top += node.height + LAYOUT.nodeGap;
      }
    }
  }

  const centre = (n: GraphNode) => n.y + n.height / 2;
  const laneIndex = new Map(lanes.map((l, i) => [l.key, i]));
  const laneByKey = new Map(lanes.map((l) => [l.key, l]));
  const pending = transitions.map((t) => {
    const from = byId.get(t.from) as GraphNode;
    const to = byId.get(t.to) as GraphNode;
    const kind: GraphEdge['kind'] = from === to ? 'self' : forward.has(edgeKey(t.from, t.to)) ? 'forward' : 'back';
    return { ...t, fromNode: from, toNode: to, kind };
  });
  // Exits spread down the right side in the order of where they head; entries down the left.
  const exits = new Map<string, typeof pending>();
  const entries = new Map<string, typeof pending>();
  for (const e of pending) {
    if (e.kind === 'self') continue;
    exits.set(e.from, [...(exits.get(e.from) ?? []), e]);
    entries.set(e.to, [...(entries.get(e.to) ?? []), e]);
  }
  for (const list of exits.values()) list.sort((a, b) => centre(a.toNode) - centre(b.toNode) || a.toNode.x - b.toNode.x);
  for (const list of entries.values()) list.sort((a, b) => centre(a.fromNode) - centre(b.fromNode) || a.fromNode.x - b.fromNode.x);
  const along = (n: GraphNode, count: number, index: number) => round(n.y + (n.height * (index + 1)) / (count + 1));

  const corridors = new Slots();
  const gaps = new Slots();
  const edges: GraphEdge[] = pending.map((e): GraphEdge => {
    const { fromNode: a, toNode: b } = e;
    const base = { from: e.from, to: e.to, event: e.event, kind: e.kind };
    if (e.kind === 'self') {
      // On the left of the top side: the count badge sits on the right.
      const x1 = a.x + 40;
      const x2 = a.x + 84;
      return { ...base, path: `M ${x1} ${a.y} C ${x1} ${a.y - 30}, ${x2} ${a.y - 30}, ${x2} ${a.y}`, labelX: x2 + 4, labelY: a.y - 14 };
    }
    const exitList = exits.get(e.from) ?? [];
    const entryList = entries.get(e.to) ?? [];
    const x1 = a.x + a.width;
    const y1 = along(a, exitList.length, exitList.indexOf(e));
    const x2 = b.x;
    const y2 = along(b, entryList.length, entryList.indexOf(e));
    const label = { labelX: x1 + 6, labelY: y1 - 4 };
    if (e.kind === 'forward' && b.rank === a.rank + 1) {
      const bend = (x2 - x1) / 2;
      return { ...base, path: `M ${x1} ${y1} C ${x1 + bend} ${y1}, ${x2 - bend} ${y2}, ${x2} ${y2}`, ...label };
    }
    // Through the gap right of the source, along a free strip of the target's lane, down the gap left of the target.
    const below = (laneIndex.get(b.lane) ?? 0) > (laneIndex.get(a.lane) ?? 0);
    const sameLane = a.lane === b.lane;
    const lane = laneByKey.get(b.lane) as GraphLane;
    const top = sameLane ? e.kind === 'forward' : below;
    const stripKey = `${b.lane}:${top ? 'top' : 'bottom'}`;
    const stripStart = top ? lane.y + 5 : lane.y + lane.height - LAYOUT.lanePadding + 5;
    const yc = corridors.take(stripKey, stripStart, 4, 5);
    const gapSlots = Math.floor((LAYOUT.columnGap * 0.4) / 6);
    const xe = gaps.take(`gap:${a.rank + 1}`, a.x + a.width + LAYOUT.columnGap * 0.55, 6, gapSlots);
    const xn = gaps.take(`gap:${b.rank}`, b.x - LAYOUT.columnGap * 0.45 + 3, 6, gapSlots);
    return {
      ...base,
      path: rounded([
        [x1, y1],
        [xe, y1],
        [xe, yc],
        [xn, yc],
        [xn, y2],
        [x2, y2],
      ]),
      ...label,
    };
  });

  const initial = byId.get(def.initialState);
  return {
    width: LAYOUT.margin + LAYOUT.laneTitleWidth + (maxRank + 1) * (LAYOUT.nodeWidth + LAYOUT.columnGap) + LAYOUT.margin,
    height: bottom + LAYOUT.margin,
    lanes,
    nodes,
    edges,
    start: { x: (initial?.x ?? 0) - 52, y: initial ? centre(initial) : 0, event: [def.creationEvent, ...def.startOn].join(' | ') },
  };
}
