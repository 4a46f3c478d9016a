import type { Logger } from 'pino';
import { partitionForKey } from '../broker/murmur2.ts';
import type { BrokerClient, GroupMember, RecordProducer, TopicPartition } from '../broker/ports.ts';
import type { InputRecord, OutputRecord } from '../broker/records.ts';
import type { RestProtocol } from '../definition/types.ts';
import type { KnownErrorCode } from '../errors.ts';
import { DLQ_HEADERS, MAX_RECORD_BYTES, fitDeadLetter } from '../engine/task.ts';
import type { OutputTopic } from '../engine/task.ts';
import type { ProcessorCodec } from '../kafka/codec.ts';
import { DEFAULT_BACKOFF, backoffDelay, sleep } from '../projection/backoff.ts';
import type { BackoffOptions } from '../projection/backoff.ts';
import { DELIVERY_FAILED_EVENT, MAX_DELIVERY_REASON_LENGTH } from '../saga/delivery-failure.ts';
import type { DeliveryFailure } from '../saga/types.ts';
import { callOnce, httpAgents } from './http-call.ts';
import type { HttpAgents } from './http-call.ts';
import { DeliveryMetrics } from './metrics.ts';
import { readOutboxRecord } from './outbox-command.ts';
import type { OutboxCommand } from './outbox-command.ts';
import { PartitionWindow } from './partition-window.ts';
import { idempotencyKey, restRequest } from './rest-request.ts';
import type { RestRequest } from './rest-request.ts';
import { DELIVERY_BACKOFF, decide } from './retry.ts';
import type { CallOutcome } from './retry.ts';
import { Slots } from './slots.ts';

export interface DispatcherOptions {
  client: BrokerClient;
  applicationId: string;
  /** `<applicationId>-outbox`. */
  outboxTopic: string;
  eventsTopic: string;
  deadLetterTopic: OutputTopic;
  /** Largest one-record batch the dead-letter topic takes (see TaskDeps.recordLimits). */
  deadLetterMaxBytes?: number;
  /** The rest channels of the saga.json, by id. */
  channels: ReadonlyMap<string, RestProtocol>;
  /** Encodes the failure reports in the events topic's wire format. */
  codec: Pick<ProcessorCodec, 'encodeEvent'>;
  /** Writes dead letters and failure reports. */
  producer: RecordProducer;
  logger: Logger;
  /** Requests in flight at once, across sagas (default 32). */
  concurrency?: number;
  /** Longest wait for one answer (default 10 s). */
  timeoutMs?: number;
  /** How long a command is retried before it is dead-lettered (default 10 min). */
  retryForMs?: number;
  backoff?: BackoffOptions;
  /** Records of a partition received and not finished, above which its fetching pauses (default 1000). */
  maxPendingPerPartition?: number;
  /** Shortest time between two commits of a partition's position (default 100 ms). */
  commitIntervalMs?: number;
  /** Default `<applicationId>-outbox`. */
  groupId?: string;
  /** How long a dispatcher that died holds its partitions. */
  sessionTimeoutMs?: number;
  /** The member stopped for good (credentials, authorization). */
  onFatal?: (err: Error) => void;
}

export interface DispatcherStatus {
  state: 'new' | 'running' | 'stopping' | 'stopped' | 'crashed';
  partitions: number[];
  pending: number;
  inFlight: number;
}

interface PartitionState {
  readonly partition: number;
  readonly window: PartitionWindow;
  /** Per saga: the last of its deliveries; the next one starts after it. */
  readonly sagas: Map<string, Promise<void>>;
  readonly running: Set<Promise<void>>;
  /** Aborted when the partition leaves this member: no new attempt and no retry wait. */
  readonly leaving: AbortController;
  /** Aborted when it is lost (another member may own it already): requests in flight are cut too. */
  readonly lost: AbortController;
  paused: boolean;
  committing: Promise<void> | undefined;
  commitAgain: boolean;
  /** A commit waiting for the interval since the previous one to pass. */
  commitTimer: NodeJS.Timeout | undefined;
  lastCommitAt: number;
}

interface Failure {
  code: KnownErrorCode;
  reason: string;
  status?: number;
  attempts: number;
  request?: RestRequest;
}

/** Header names a delivery's dead letter adds to those of the engine (DLQ_HEADERS). */
export const DELIVERY_DLQ_HEADERS = {
  status: 'sagaflow-http-status',
  attempts: 'sagaflow-delivery-attempts',
  idempotencyKey: 'sagaflow-idempotency-key',
  target: 'sagaflow-delivery-target',
} as const;

/**
 * Delivers the commands of rest channels from the outbox topic: a relay over a committed
 * topic, with a consumer group of its own (`<applicationId>-outbox`, read_committed, so only
 * commands of committed saga changes are sent). Every instance runs one; the group shares the
 * partitions. A saga's commands go one after the other, in outbox order; different sagas'
 * concurrently, at most `concurrency` requests at once. A partition's position is committed
 * once every record before it was delivered (2xx) or dead-lettered and reported: a crash in
 * between sends those records again, with the same Idempotency-Key (at least once).
 *
 * A command that finally fails (a 4xx, a redirect, retries exhausted) goes to the dead-letter
 * topic with the reason and status, and a `__delivery_failed__` event goes to the saga's
 * partition of the events topic: the dispatcher is not the saga's owner and never writes the
 * changelog; the owner records the failure in the saga's `deliveryFailures`. The event's
 * eventId is derived from the Idempotency-Key, so a report sent twice is recorded once.
 */
export class Dispatcher {
  readonly groupId: string;
  readonly metrics: DeliveryMetrics;
  onFatal: ((err: Error) => void) | undefined;
  private readonly opts: DispatcherOptions;
  private readonly log: Logger;
  private readonly slots: Slots;
  private readonly agents: HttpAgents;
  private readonly timeoutMs: number;
  private readonly policy: { retryForMs: number; backoff: BackoffOptions };
  private readonly maxPending: number;
  private readonly commitIntervalMs: number;
  private readonly partitions = new Map<number, PartitionState>();
  private member: GroupMember | undefined;
  private state: DispatcherStatus['state'] = 'new';

  constructor(opts: DispatcherOptions) {
    this.opts = opts;
    this.onFatal = opts.onFatal;
    this.groupId = opts.groupId ?? `${opts.applicationId}-outbox`;
    this.log = opts.logger.child({ component: 'outbox-dispatcher', topic: opts.outboxTopic });
    this.slots = new Slots(opts.concurrency ?? 32);
    this.agents = httpAgents(opts.concurrency ?? 32);
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.policy = { retryForMs: opts.retryForMs ?? 600_000, backoff: opts.backoff ?? DELIVERY_BACKOFF };
    this.maxPending = opts.maxPendingPerPartition ?? 1_000;
    this.commitIntervalMs = opts.commitIntervalMs ?? 100;
    this.metrics = new DeliveryMetrics(opts.channels.keys());
    this.metrics.pending = () => this.status().pending;
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error(`dispatcher is ${this.state}`);
    this.state = 'running';
    const member = this.opts.client.groupMember({
      groupId: this.groupId,
      topics: [this.opts.outboxTopic],
      advertisedUrl: '',
      fromBeginning: true,
      sessionTimeoutMs: this.opts.sessionTimeoutMs ?? 30_000,
      maxWaitMs: 100,
    });
    this.member = member;
    await member.start({
      onAssigned: async (partitions) => this.onAssigned(partitions),
      onRevoked: (partitions, lost) => this.onRevoked(partitions, lost),
      onRecords: async (records) => this.onRecords(records),
      onCaughtUp: async (tp, position) => {
        const state = this.partitions.get(tp.partition);
        if (!state) return;
        state.window.reachedEnd(position);
        this.scheduleCommit(state);
      },
      onFatal: (err) => {
        this.state = 'crashed';
        this.log.error({ err }, 'outbox consumer failed for good');
        this.onFatal?.(err);
      },
    });
    this.log.info({ groupId: this.groupId, channels: [...this.opts.channels.keys()] }, 'outbox dispatcher started');
  }

  /** Leaves the group: waits for the requests in flight, commits what is finished. Retries still waiting are redone by the next owner. */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'new') {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopping';
    await this.member?.stop().catch((err: unknown) => this.log.warn({ err }, 'outbox consumer stop failed'));
    this.member = undefined;
    this.agents.destroy();
    this.state = 'stopped';
  }

  status(): DispatcherStatus {
    let pending = 0;
    for (const s of this.partitions.values()) pending += s.window.pending;
    return { state: this.state, partitions: [...this.partitions.keys()].sort((a, b) => a - b), pending, inFlight: this.slots.inUse };
  }

  /** The Prometheus text of the delivery metrics. */
  prometheus(): Promise<string> {
    return this.metrics.toPrometheus();
  }

  private onAssigned(partitions: readonly TopicPartition[]): void {
    for (const { topic, partition } of partitions) {
      if (topic !== this.opts.outboxTopic || this.partitions.has(partition)) continue;
      this.partitions.set(partition, {
        partition,
        window: new PartitionWindow(),
        sagas: new Map(),
        running: new Set(),
        leaving: new AbortController(),
        lost: new AbortController(),
        paused: false,
        committing: undefined,
        commitAgain: false,
        commitTimer: undefined,
        lastCommitAt: 0,
      });
    }
    this.log.info({ partitions: partitions.map((p) => p.partition) }, 'outbox partitions assigned');
  }

  private async onRevoked(partitions: readonly TopicPartition[], lost: boolean): Promise<void> {
    const states = partitions.flatMap((tp) => {
      const state = this.partitions.get(tp.partition);
      if (!state || tp.topic !== this.opts.outboxTopic) return [];
      this.partitions.delete(tp.partition);
      return [state];
    });
    await Promise.all(
      states.map(async (state) => {
        state.leaving.abort();
        if (lost) state.lost.abort();
        clearTimeout(state.commitTimer);
        // Requests in flight finish (bounded by the timeout) and count; waits end at once.
        await Promise.allSettled([...state.running]);
        await state.committing;
        if (lost) return;
        // Still a member of the generation: what is finished is committed before the partition goes.
        const position = state.window.commitPosition();
        if (position !== undefined) {
          await this.member
            ?.commit([{ topic: this.opts.outboxTopic, partition: state.partition, offset: position }])
            .catch((err: unknown) => this.log.warn({ err, partition: state.partition }, 'outbox commit on revocation failed; the next owner delivers those records again'));
        }
      }),
    );
    if (states.length > 0) this.log.info({ partitions: states.map((s) => s.partition), lost }, 'outbox partitions revoked');
  }

  private onRecords(records: readonly InputRecord[]): void {
    for (const record of records) {
      const state = this.partitions.get(record.partition);
      if (!state || record.topic !== this.opts.outboxTopic) continue;
      state.window.add(record.offset);
      // Records without a key are dead-lettered on their own, chained on nothing.
      const saga = record.key && record.key.length > 0 ? record.key.toString('utf8') : `\u0000${record.offset}`;
      const run = (state.sagas.get(saga) ?? Promise.resolve()).then(() => this.deliver(state, record));
      state.sagas.set(saga, run);
      state.running.add(run);
      void run.finally(() => {
        state.running.delete(run);
        if (state.sagas.get(saga) === run) state.sagas.delete(saga);
      });
    }
    // Backpressure by pausing, not by holding this call: the member keeps polling, so
    // rebalances and end-of-partition events are served while deliveries are slow.
    for (const state of this.partitions.values()) {
      if (!state.paused && state.window.pending > this.maxPending) {
        state.paused = true;
        this.member?.pause([{ topic: this.opts.outboxTopic, partition: state.partition }]);
      }
    }
  }

  /** One record, from the first attempt to delivered or reported; never throws. */
  private async deliver(state: PartitionState, record: InputRecord): Promise<void> {
    if (state.leaving.signal.aborted) return;
    try {
      const read = readOutboxRecord(record);
      if ('error' in read) {
        if (await this.report(state, record, undefined, { code: 'SAGAFLOW_DECODE_FAILED', reason: read.error, attempts: 0 })) this.finish(state, record);
        return;
      }
      const { command } = read;
      const channel = this.opts.channels.get(command.channel);
      if (!channel) {
        const reason = `channel "${command.channel}" is not a rest channel of this saga.json (it was when the saga sent the command)`;
        if (await this.report(state, record, command, { code: 'SAGAFLOW_DELIVERY_FAILED', reason, attempts: 0 })) this.finish(state, record);
        return;
      }
      const request = restRequest(channel.configurations, command, command.envelope);
      const startedAt = Date.now();
      for (let attempts = 1; !state.leaving.signal.aborted; attempts++) {
        const outcome = await this.attempt(state, request, command.channel);
        // Lost: another member may deliver it already; nothing more of this one counts.
        if (outcome === undefined || state.lost.signal.aborted) return;
        const decision = decide(outcome, attempts, startedAt, Date.now(), this.policy);
        if (decision.action === 'delivered') {
          this.metrics.delivered(command.channel);
          this.finish(state, record);
          return;
        }
        if (decision.action === 'fail') {
          const failure: Failure = { code: 'SAGAFLOW_DELIVERY_FAILED', reason: `${request.target} ${decision.reason}`, attempts, request };
          if (decision.status !== undefined) failure.status = decision.status;
          if (await this.report(state, record, command, failure)) this.finish(state, record);
          return;
        }
        this.metrics.retried(command.channel);
        const level = attempts === 1 || attempts % 10 === 0 ? 'warn' : 'debug';
        this.log[level]({ sagaId: command.sagaId, channel: command.channel, label: command.label, attempts, retryInMs: decision.delayMs, target: request.target }, `delivery failed (${decision.why}); retrying`);
        await sleep(decision.delayMs, state.leaving.signal);
      }
    } catch (err) {
      // Not finished, so not committed past: the record is delivered again after a restart.
      this.log.error({ err, partition: record.partition, offset: record.offset.toString() }, 'outbox delivery failed unexpectedly');
    }
  }

  /** One request within a concurrency slot; undefined when the partition left while it waited. */
  private async attempt(state: PartitionState, request: RestRequest, channel: string): Promise<CallOutcome | undefined> {
    await this.slots.acquire();
    try {
      if (state.leaving.signal.aborted) return undefined;
      const began = performance.now();
      const outcome = await callOnce(request, this.timeoutMs, this.agents, state.lost.signal);
      this.metrics.request(channel, (performance.now() - began) / 1000);
      return outcome;
    } finally {
      this.slots.release();
    }
  }

  /**
   * Dead-letters the record and, for a readable command, reports the failure to the saga.
   * Retried while Kafka refuses; false when the partition left first (the next owner redoes
   * the delivery).
   */
  private async report(state: PartitionState, record: InputRecord, command: OutboxCommand | undefined, failure: Failure): Promise<boolean> {
    const key = command ? idempotencyKey(command) : undefined;
    this.log.warn(
      { sagaId: command?.sagaId, channel: command?.channel, label: command?.label, revision: command?.revision, status: failure.status, attempts: failure.attempts, code: failure.code, reason: failure.reason },
      'command not delivered; dead-lettered and reported to the saga',
    );
    for (let tries = 1; ; tries++) {
      try {
        const records: OutputRecord[] = [this.deadLetter(record, failure, key)];
        if (command && key) records.push(await this.failureEvent(record, command, failure, key));
        await this.opts.producer.send(records);
        if (command) this.metrics.failed(command.channel);
        return true;
      } catch (err) {
        if (state.leaving.signal.aborted) return false;
        const delay = backoffDelay(tries, DEFAULT_BACKOFF);
        this.log.error({ err, tries, retryInMs: delay }, 'dead letter or failure report not written; retrying');
        await sleep(delay, state.leaving.signal);
        if (state.leaving.signal.aborted) return false;
      }
    }
  }

  private deadLetter(record: InputRecord, failure: Failure, key: string | undefined): OutputRecord {
    const headers: Record<string, Buffer | string> = {
      ...record.headers,
      [DLQ_HEADERS.reason]: failure.reason,
      [DLQ_HEADERS.code]: failure.code,
      [DLQ_HEADERS.topic]: record.topic,
      [DLQ_HEADERS.partition]: String(record.partition),
      [DLQ_HEADERS.offset]: record.offset.toString(),
      [DELIVERY_DLQ_HEADERS.attempts]: String(failure.attempts),
    };
    if (failure.status !== undefined) headers[DELIVERY_DLQ_HEADERS.status] = String(failure.status);
    if (key !== undefined) headers[DELIVERY_DLQ_HEADERS.idempotencyKey] = key;
    if (failure.request) headers[DELIVERY_DLQ_HEADERS.target] = failure.request.target;
    const { topic, partitions } = this.opts.deadLetterTopic;
    const partition = record.key && record.key.length > 0 ? partitionForKey(record.key, partitions) : record.partition % partitions;
    const fitted = fitDeadLetter({ key: record.key, value: record.value, headers }, this.opts.deadLetterMaxBytes ?? MAX_RECORD_BYTES);
    return { topic, partition, key: record.key, ...fitted };
  }

  /** `__delivery_failed__` on the saga's partition (the outbox is co-partitioned with the events topic). */
  private async failureEvent(record: InputRecord, command: OutboxCommand, failure: Failure, key: string): Promise<OutputRecord> {
    const report: DeliveryFailure = {
      channel: command.channel,
      label: command.label,
      revision: command.revision,
      reason: failure.reason.length > MAX_DELIVERY_REASON_LENGTH ? `${failure.reason.slice(0, MAX_DELIVERY_REASON_LENGTH)}…` : failure.reason,
    };
    if (command.attempt !== undefined) report.attempt = command.attempt;
    if (failure.status !== undefined) report.status = failure.status;
    const value = await this.opts.codec.encodeEvent(this.opts.eventsTopic, { messageLabel: DELIVERY_FAILED_EVENT, messagePayload: report, eventId: `${DELIVERY_FAILED_EVENT}:${key}` });
    return { topic: this.opts.eventsTopic, partition: record.partition, key: command.sagaId, value };
  }

  private finish(state: PartitionState, record: InputRecord): void {
    state.window.finish(record.offset);
    if (state.paused && state.window.pending <= this.maxPending / 2 && this.partitions.get(state.partition) === state) {
      state.paused = false;
      this.member?.resume([{ topic: this.opts.outboxTopic, partition: state.partition }]);
    }
    this.scheduleCommit(state);
  }

  /**
   * Commits the partition's position: one commit at a time, at most one per `commitIntervalMs`
   * (a commit per delivery would cost the broker a request per command). A crash re-sends what
   * was answered since the last commit, under the same keys.
   */
  private scheduleCommit(state: PartitionState): void {
    if (state.leaving.signal.aborted) return;
    if (state.committing || state.commitTimer) {
      state.commitAgain = true;
      return;
    }
    const wait = state.lastCommitAt + this.commitIntervalMs - Date.now();
    if (wait > 0) {
      state.commitTimer = setTimeout(() => {
        state.commitTimer = undefined;
        this.commitNow(state);
      }, wait);
      return;
    }
    this.commitNow(state);
  }

  private commitNow(state: PartitionState): void {
    state.commitAgain = false;
    const position = state.window.commitPosition();
    const member = this.member;
    if (state.leaving.signal.aborted || position === undefined || !member) return;
    state.lastCommitAt = Date.now();
    state.committing = member
      .commit([{ topic: this.opts.outboxTopic, partition: state.partition, offset: position }])
      .then(
        () => state.window.committed(position),
        (err: unknown) => this.log.warn({ err, partition: state.partition }, 'outbox commit failed; retried with the next one'),
      )
      .finally(() => {
        state.committing = undefined;
        if (state.commitAgain) this.scheduleCommit(state);
      });
  }
}
