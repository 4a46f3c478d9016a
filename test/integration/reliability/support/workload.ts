import type { Producer } from 'kafkajs';
import type { KafkaProtocol } from '../../../../src/definition/types.ts';
import { createProcessorCodec } from '../../../../src/kafka/codec-factory.ts';
import type { ProcessorCodec } from '../../../../src/kafka/codec.ts';
import { SagaWorker } from '../../../../src/worker/client.ts';
import { seededRandom } from '../../../../src/cli/prng.ts';

/** How the workers answer a saga: 'hold' never answers (the saga waits in its first state). */
export type FailMode = 'none' | 'validation' | 'check' | 'hold';

/** One saga of the generated workload and everything the orchestrator must do for it. */
export interface PlannedSaga {
  sagaId: string;
  fail: FailMode;
  finalState: 'reservationConfirmed' | 'reservationFailed';
  /** Revision of the final document: one per change (creation, then one per applied event). */
  revision: number;
  /** Labels of history.events, in order. */
  events: string[];
  /** Commands the orchestrator must send, each exactly once: label and the revision that sent it. */
  commands: { label: string; revision: number }[];
}

/** The reservation flow's outcome for each way the workers answer. */
export function planSaga(sagaId: string, fail: FailMode): PlannedSaga {
  const validate = { label: 'validateReservation', revision: 1 };
  const check = { label: 'checkReservation', revision: 2 };
  if (fail === 'validation') {
    return { sagaId, fail, finalState: 'reservationFailed', revision: 2, events: ['__created__', 'validationKO'], commands: [validate] };
  }
  return {
    sagaId,
    fail,
    finalState: fail === 'check' ? 'reservationFailed' : 'reservationConfirmed',
    revision: 3,
    events: ['__created__', 'validationOK', fail === 'check' ? 'checkKO' : 'checkOK'],
    commands: [validate, check],
  };
}

/**
 * `count` sagas with ids `<prefix>-<n>`; one in ten fails its validation and one in ten its
 * check, decided by `seed` so a run can be replayed.
 */
export function planWorkload(prefix: string, count: number, seed: number, from = 0): PlannedSaga[] {
  const random = seededRandom(seed + from);
  return Array.from({ length: count }, (_, i) => {
    const r = random();
    const fail: FailMode = r < 0.1 ? 'validation' : r < 0.2 ? 'check' : 'none';
    return planSaga(`${prefix}-${from + i}`, fail);
  });
}

/** A JSON codec for a topic set (what the workers and producers of the tests speak). */
export async function jsonCodec(brokers: string[]): Promise<ProcessorCodec> {
  const channel: KafkaProtocol = { id: 'test', type: 'kafka', configurations: { brokers } };
  return createProcessorCodec(channel, { events: '', changelog: '', deadLetter: '', commands: [] });
}

/** The codec of a channel speaking Avro through the given registry. */
export async function avroCodec(brokers: string[], registryUrl: string): Promise<ProcessorCodec> {
  const channel: KafkaProtocol = { id: 'test', type: 'kafka', configurations: { brokers, serialization: 'avro', schemaRegistry: { url: registryUrl } } };
  return createProcessorCodec(channel, { events: '', changelog: '', deadLetter: '', commands: [] });
}

/** Produces the creation events of `sagas` (Flow Manager envelope, key = sagaId). */
export async function produceCreations(producer: Producer, codec: ProcessorCodec, topic: string, sagas: readonly PlannedSaga[]): Promise<void> {
  const messages = await Promise.all(
    sagas.map(async (s) => ({
      key: s.sagaId,
      value: await codec.encodeEvent(topic, {
        messageLabel: '__created__',
        messagePayload: { associatedEntityId: `entity-${s.sagaId}`, metadata: { sagaId: s.sagaId, fail: s.fail } },
      }),
    })),
  );
  await producer.send({ topic, messages });
}

export interface WorkerStats {
  commands: number;
  byLabel: Map<string, number>;
  emitRetries: number;
  /** Emits given up because they had not settled within EMIT_SETTLE_MS (then sent again). */
  emitsHung: number;
  /** Pipelined emits that failed for good (see `pipelined`). */
  emitsLost: number;
}

/** Emits in flight at most with `pipelined`. */
export const PIPELINED_EMITS = 1_000;

/** How long one emit of the workers may take before it is given up and sent again. */
export const EMIT_SETTLE_MS = 30_000;

/**
 * Reservation services: answer validateReservation and checkReservation as the metadata's
 * `fail` says. Each answer carries eventId `<sagaId>/<label>/<revision>`, so a command seen
 * twice (the workers are at-least-once) cannot move a saga twice. Emits are retried until
 * they succeed: the workers are test scaffolding, not what is under test.
 */
export async function startWorkers(opts: {
  brokers: readonly string[];
  codec: ProcessorCodec;
  commandsTopic: string;
  eventsTopic: string;
  groupId: string;
  /**
   * Answer without waiting for each event's acknowledgement (at most PIPELINED_EMITS in
   * flight): a partition's handler otherwise waits a round trip per command, which caps the
   * workers below what the soak produces at 100 sagas/s. The soak's workers never crash, so
   * an answer still in flight when its command is committed is not lost; emits that fail
   * for good are counted (`emitsLost`).
   */
  pipelined?: boolean;
}): Promise<{ worker: SagaWorker; stats: WorkerStats }> {
  const { pipelined, ...workerOptions } = opts;
  const worker = new SagaWorker(workerOptions);
  const stats: WorkerStats = { commands: 0, byLabel: new Map(), emitRetries: 0, emitsHung: 0, emitsLost: 0 };
  const inFlight = new Set<Promise<void>>();
  const emit = async (label: string, sagaId: string, payload: unknown, eventId: string) => {
    for (let attempt = 0; ; attempt += 1) {
      try {
        // An emit that never settles would hold its partition's handler, and past
        // max.poll.interval.ms the worker's consumer leaves its group: give up the attempt
        // and send again (the eventId makes a second copy a recorded duplicate), and say so.
        const sent = worker.emit(label, sagaId, payload, eventId);
        let timer: NodeJS.Timeout | undefined;
        const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), EMIT_SETTLE_MS)));
        const outcome = await Promise.race([sent, hung]).finally(() => clearTimeout(timer));
        if (outcome === 'hung') {
          stats.emitsHung += 1;
          sent.catch(() => undefined);
          throw new Error(`emit of ${label} for ${sagaId} did not settle within ${EMIT_SETTLE_MS} ms`);
        }
        return;
      } catch (err) {
        if (attempt > 200) throw err;
        stats.emitRetries += 1;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  };
  const answer = (okLabel: string, koLabel: string, failWhen: FailMode) =>
    async ({ sagaId, label, payload, headers }: { sagaId: string; label: string; payload: unknown; headers: Record<string, string> }) => {
      stats.commands += 1;
      stats.byLabel.set(label, (stats.byLabel.get(label) ?? 0) + 1);
      const mode = (payload as { fail?: string } | null)?.fail;
      if (mode === 'hold') return;
      const fail = mode === failWhen;
      const sent = emit(fail ? koLabel : okLabel, sagaId, { [`${label}By`]: 'worker' }, `${sagaId}/${label}/${headers['sagaflow-revision'] ?? '?'}`);
      if (!pipelined) return sent;
      while (inFlight.size >= PIPELINED_EMITS) await Promise.race(inFlight);
      const tracked = sent.catch(() => {
        stats.emitsLost += 1;
      });
      inFlight.add(tracked);
      void tracked.finally(() => inFlight.delete(tracked));
      return undefined;
    };
  worker
    .onCommand('validateReservation', answer('validationOK', 'validationKO', 'validation'))
    .onCommand('checkReservation', answer('checkOK', 'checkKO', 'check'));
  await worker.start();
  return { worker, stats };
}
