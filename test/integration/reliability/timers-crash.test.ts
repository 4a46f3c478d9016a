import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { SagaDocument } from '../../../src/saga/types.ts';
import { registerCleanup } from '../../support/cleanup.ts';
import { kafkaClient } from '../../support/kafka.ts';
import { uniqueName } from '../../support/names.ts';
import { uniqueFlow } from '../../support/sagaflow.ts';
import { services } from '../../support/services.ts';
import { chaosSeed, killLoop } from './support/chaos.ts';
import { SagaflowCluster, reservationSagaJson, runDirectory } from './support/cluster.ts';
import { readWholeTopic } from './support/topic-reader.ts';

const SAGAS = Number(process.env.RELIABILITY_TIMER_SAGAS ?? 300);
const PARTITIONS = 6;

// Nobody answers: every saga waits in its first state while its command is retried (3 sends,
// 2 s apart) and then times out (after 12 s) into reservationFailed, with instances SIGKILLed
// and restarted (some from an empty state directory) the whole time. Each due timer must fire
// exactly once: every saga times out once, and the sends services read (read_committed) are
// exactly those its document records, each attempt once.
describe('timers under SIGKILL', () => {
  it('hundreds of pending timers, instances killed and restarted: every timer fires once, none lost, none twice', { timeout: 420_000 }, async () => {
    const seed = chaosSeed();
    const flow = uniqueFlow('timers-crash');
    const dir = runDirectory(uniqueName('timers-crash'));
    const log = (line: string) => console.log(`[timers-crash seed=${seed}] ${line}`);
    log(`logs in ${dir}`);
    const brokers = services().kafkaBrokers;
    const sagaJson = reservationSagaJson({ brokers, events: flow.events, commands: flow.commands, applicationId: flow.applicationId });
    const states = (sagaJson.machineDefinition as { states: Record<string, unknown>[] }).states;
    const created = states.find((s) => s.id === 'reservationCreated') as Record<string, unknown>;
    created.timeout = { after: '12s', event: 'validationKO' };
    (created.outputCommand as Record<string, unknown>).retry = { maxAttempts: 3, initialDelay: '2s', multiplier: 1 };
    const cluster = new SagaflowCluster({ dir, sagaJson, partitions: PARTITIONS });
    registerCleanup(() => cluster.close());
    for (const name of ['a', 'b', 'c']) await cluster.start(name);
    await cluster.waitAllReady(120_000);

    const ids: string[] = [];
    let creating = true;
    const chaos = killLoop(cluster, { seed, minKills: 4, until: () => !creating, everyMs: [2_000, 5_000], downMs: [300, 2_500], freshRatio: 0.3, log });
    // Creations over ~15 s, through whichever instance answers.
    for (let i = 0; i < SAGAS; i++) {
      for (;;) {
        const member = cluster.running()[i % Math.max(1, cluster.running().length)];
        try {
          if (!member) throw new Error('no instance running');
          const res = await fetch(`${member.url}/saga`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ associatedEntityId: `e-${i}`, metadata: { i } }), signal: AbortSignal.timeout(5_000) });
          if (res.status !== 201) throw new Error(`status ${res.status}`);
          ids.push(((await res.json()) as { sagaId: string }).sagaId);
          break;
        } catch {
          await delay(200);
        }
      }
      if (i % 20 === 19) await delay(1_000);
    }
    log(`${ids.length} sagas created`);
    // Keep killing while the timers of the last sagas come due.
    await delay(10_000);
    creating = false;
    const disruption = await chaos;
    log(`chaos done: ${JSON.stringify(disruption)}`);
    await cluster.waitAllReady(180_000);

    // Every saga ends in reservationFailed, through exactly one timeout.
    const deadline = Date.now() + 180_000;
    const pending = new Set(ids);
    const finals = new Map<string, SagaDocument>();
    while (pending.size > 0 && Date.now() < deadline) {
      for (const id of [...pending]) {
        const member = cluster.running()[0];
        if (!member) break;
        const res = await fetch(`${member.url}/saga/${encodeURIComponent(id)}`).catch(() => undefined);
        if (res?.status !== 200) continue;
        const saga = (await res.json()) as SagaDocument;
        if (saga.isFinal) {
          finals.set(id, saga);
          pending.delete(id);
        }
      }
      if (pending.size > 0) await delay(500);
    }
    expect([...pending], 'sagas not final').toEqual([]);
    // What services saw, read_committed.
    const commands = await readWholeTopic(kafkaClient(), flow.commands);
    const sends = new Map<string, string[]>();
    for (const r of commands) {
      const key = r.key ?? '';
      const list = sends.get(key) ?? [];
      list.push(r.headers['sagaflow-attempt'] ?? '?');
      sends.set(key, list);
    }
    // Exactly once: every send the document records reached the services once, and nothing
    // else did. A retry due while its partition had no owner fires on recovery, and the next
    // one is counted from there; a timeout overdue by then may end the state first, so a saga
    // may get fewer than three sends (never a burst of overdue ones, never a fourth).
    const problems: string[] = [];
    const sendCounts = new Map<number, number>();
    for (const [id, saga] of finals) {
      const timeouts = saga.history.events.filter((e) => e.timer?.kind === 'timeout');
      if (saga.currentState !== 'reservationFailed' || timeouts.length !== 1) problems.push(`${id}: ${saga.currentState}, ${timeouts.length} timeouts`);
      const recorded = saga.commands.filter((c) => c.label === 'validateReservation').map((c) => String(c.attempt ?? 1));
      if (!['1', '1,2', '1,2,3'].includes(recorded.join(','))) problems.push(`${id}: attempts in the document ${recorded.join(',')}`);
      const got = [...(sends.get(id) ?? [])].sort().join(',');
      if (got !== recorded.join(',')) problems.push(`${id}: sends with attempts ${got}, the document has ${recorded.join(',')}`);
      sendCounts.set(recorded.length, (sendCounts.get(recorded.length) ?? 0) + 1);
    }
    log(`sagas by number of sends: ${JSON.stringify([...sendCounts].sort())}`);
    expect(problems.slice(0, 20), `${problems.length} problems`).toEqual([]);
    // Retries really happen under the kills: some sagas got all three sends. How many depends
    // on how long partitions stay ownerless on the machine (122 and 72 of 300 in two CI runs,
    // the rest ended by their timeout after one or two), so the bar is a tenth: it fails when
    // retries stop firing, not when a machine is slower.
    expect(sendCounts.get(3) ?? 0).toBeGreaterThan(SAGAS / 10);
    expect(disruption.kills).toBeGreaterThanOrEqual(4);
    expect(cluster.unexpectedExits).toEqual([]);
  });
});
