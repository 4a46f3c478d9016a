import { setTimeout as delay } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import type { Producer } from 'kafkajs';
import type { ProcessorCodec } from '../../../../src/kafka/codec.ts';
import type { SagaDocument } from '../../../../src/saga/types.ts';
import { getSaga } from './verify.ts';
import type { RunRecords } from './verify.ts';
import { planSaga, produceCreations } from './workload.ts';

/**
 * Sagas that stay in their first state and receive a stream of "tick" events the state does
 * not accept, each recorded in the saga (one revision more): their revision keeps moving
 * during the whole run, which makes stale reads visible, and must end at exactly 1 + ticks
 * (each event applied once, none lost).
 */
export class Tickers {
  readonly ids: string[];
  /** Ticks sent (acknowledged by the broker) per saga. */
  readonly ticks: Map<string, number>;
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly producer: Producer;
  private readonly codec: ProcessorCodec;
  private readonly topic: string;

  constructor(opts: { prefix: string; count: number; producer: Producer; codec: ProcessorCodec; topic: string }) {
    this.ids = Array.from({ length: opts.count }, (_, i) => `${opts.prefix}-ticker-${i}`);
    this.ticks = new Map(this.ids.map((id) => [id, 0]));
    this.producer = opts.producer;
    this.codec = opts.codec;
    this.topic = opts.topic;
  }

  get total(): number {
    return [...this.ticks.values()].reduce((a, b) => a + b, 0);
  }

  /** Creates the sagas, then sends one tick to each every `everyMs`. */
  async start(everyMs = 200): Promise<void> {
    if (this.ids.length === 0) return;
    await produceCreations(this.producer, this.codec, this.topic, this.ids.map((id) => planSaga(id, 'hold')));
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const messages = await Promise.all(
          this.ids.map(async (sagaId) => {
            const n = (this.ticks.get(sagaId) ?? 0) + 1;
            const value = await this.codec.encodeEvent(this.topic, { messageLabel: 'tick', messagePayload: { n }, eventId: `${sagaId}/tick/${n}` });
            return { sagaId, n, message: { key: sagaId, value } };
          }),
        );
        try {
          await this.producer.send({ topic: this.topic, messages: messages.map((m) => m.message) });
          for (const m of messages) this.ticks.set(m.sagaId, m.n);
        } catch {
          // Broker away: the idempotent producer may or may not have written them; a retry with
          // the same eventIds is harmless (duplicates are refused), so send them again.
          await delay(500);
          continue;
        }
        await delay(everyMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** Waits until every ticker is served (by its owner, not from the projection) at revision 1 + its ticks (or the deadline passes). */
  async waitServed(urls: () => string[], timeoutMs: number): Promise<Map<string, SagaDocument>> {
    const served = new Map<string, SagaDocument>();
    const deadline = Date.now() + timeoutMs;
    for (const [sagaId, n] of this.ticks) {
      for (;;) {
        const candidates = urls();
        const url = candidates[Math.floor(Math.random() * candidates.length)];
        const saga = url ? await getSaga(url, sagaId).then((r) => (r.stale === undefined ? r.saga : undefined)).catch(() => undefined) : undefined;
        if (saga) served.set(sagaId, saga);
        if ((saga && saga.revision >= 1 + n) || Date.now() > deadline) break;
        await delay(250);
      }
    }
    return served;
  }

  /** Every tick applied exactly once; the one command of a ticker sent exactly once. */
  check(served: Map<string, SagaDocument>, records: RunRecords): string[] {
    const problems: string[] = [];
    for (const [sagaId, n] of this.ticks) {
      const saga = served.get(sagaId);
      if (!saga) {
        problems.push(`ticker ${sagaId}: not served`);
        continue;
      }
      if (saga.revision !== 1 + n) problems.push(`ticker ${sagaId}: revision ${saga.revision} after ${n} ticks, expected ${1 + n}`);
      if (saga.currentState !== 'reservationCreated') problems.push(`ticker ${sagaId}: state ${saga.currentState}`);
      const last = saga.ignoredEvents.at(-1);
      if (n > 0 && last?.eventId !== `${sagaId}/tick/${n}`) problems.push(`ticker ${sagaId}: last recorded event ${JSON.stringify(last)}, expected tick ${n}`);
      const commands = records.commands.filter((c) => c.key === sagaId).map((c) => `${c.label}|${c.revision}`);
      if (!isDeepStrictEqual(commands, ['validateReservation|1'])) problems.push(`ticker ${sagaId}: commands ${JSON.stringify(commands)}`);
      if (!isDeepStrictEqual(records.changelog.get(sagaId), saga)) problems.push(`ticker ${sagaId}: changelog latest differs from the served document`);
    }
    return problems;
  }
}
