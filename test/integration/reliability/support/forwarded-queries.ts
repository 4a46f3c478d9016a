import { setTimeout as delay } from 'node:timers/promises';
import { partitionForKey } from '../../../../src/broker/murmur2.ts';
import { FORWARD_TIMEOUT_MS } from '../../../../src/http/app.ts';
import type { FaultProxy } from '../../../support/fault-proxy.ts';
import { waitFor } from '../../../support/wait.ts';
import type { Member, SagaflowCluster } from './cluster.ts';
import { tally } from './verify.ts';
import type { HttpTally } from './verify.ts';

/**
 * How long a client waits for GET /saga/:sagaId before calling it a hang: the forward timeout
 * plus a margin far above any scheduling delay. An instance must have answered by then.
 */
export const HANG_MS = FORWARD_TIMEOUT_MS + 10_000;

/**
 * What GET /saga/:sagaId may answer while the links between instances fail (README, "Queries
 * forwarded to the owner"): the document, sagaflow's own 404 for a saga not created yet, or a
 * 503 saying to retry. 502 SAGAFLOW_OWNER_FAILED is for an owner that answers with an error,
 * which a network fault alone never makes.
 */
export const ANSWERS_UNDER_FAULTS: readonly string[] = ['200', '404 SAGAFLOW_SAGA_NOT_FOUND', '503 SAGAFLOW_OWNER_UNAVAILABLE', '503 SAGAFLOW_RESTORING'];

export interface Answer {
  status: number;
  code: string | undefined;
  message: string | undefined;
  retryAfter: string | null;
  ms: number;
}

/** One GET /saga/:sagaId, or 'hang' when no answer came within HANG_MS. */
export async function getSaga(url: string, sagaId: string): Promise<Answer | 'hang' | 'connection'> {
  const began = Date.now();
  try {
    const res = await fetch(`${url}/saga/${encodeURIComponent(sagaId)}`, { signal: AbortSignal.timeout(HANG_MS) });
    const body = (await res.json()) as { code?: string; message?: string };
    return { status: res.status, code: body.code, message: body.message, retryAfter: res.headers.get('retry-after'), ms: Date.now() - began };
  } catch (err) {
    return err instanceof Error && err.name === 'TimeoutError' ? 'hang' : 'connection';
  }
}

/**
 * Asks random instances for random sagas of the workload until stopped, so that most queries
 * are forwarded to another instance through its (faulty) advertised address; tallies answers.
 */
export class ForwardedQueryProbe {
  readonly answers: HttpTally = new Map();
  private running = true;
  private readonly done: Promise<void>;

  constructor(cluster: SagaflowCluster, sagaIds: readonly string[]) {
    this.done = (async () => {
      while (this.running) {
        const members = cluster.running();
        const member = members[Math.floor(Math.random() * members.length)];
        const sagaId = sagaIds[Math.floor(Math.random() * sagaIds.length)];
        if (!member || sagaId === undefined) {
          await delay(100);
          continue;
        }
        const answer = await getSaga(member.url, sagaId);
        if (typeof answer === 'string') tally(this.answers, 0, answer);
        else tally(this.answers, answer.status, answer.code);
        await delay(20);
      }
    })();
  }

  async stop(): Promise<HttpTally> {
    this.running = false;
    await this.done;
    return this.answers;
  }
}

/**
 * The member owning `sagaId`'s partition and another one, once every member is ready. The
 * default wait covers a member the group removed while its links were stalled (a session
 * timeout, 30 s) rejoining and restoring; a failure says what each member answered last.
 */
export async function ownerAndOther(cluster: SagaflowCluster, sagaId: string, partitions: number, timeoutMs = 150_000): Promise<{ owner: Member; other: Member }> {
  const partition = partitionForKey(sagaId, partitions);
  let seen = 'no answer yet';
  try {
    return await waitFor(
      async () => {
        const members = cluster.running();
        const states = await Promise.all(members.map((m) => cluster.readinessOf(m.name)));
        seen = JSON.stringify(members.map((m, i) => ({ member: m.name, ...(states[i] ?? { answer: 'none' }) })));
        if (members.length < 2 || !states.every((s) => s?.ready === true)) return undefined;
        const owner = members.find((_, i) => states[i]?.partitions.includes(partition));
        const other = members.find((_, i) => !states[i]?.partitions.includes(partition));
        return owner && other ? { owner, other } : undefined;
      },
      { timeoutMs, intervalMs: 500, description: `an owner of partition ${partition} and another instance, every instance ready` },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last readiness ${seen}`, { cause: err });
  }
}

/**
 * GET /saga/:sagaId through `other` while `ownerProxy` (in front of the owner's advertised
 * address) is stalled for longer than the forward timeout: the answer is a 503 naming the
 * timeout, well before a client would call it a hang.
 */
export async function queryThroughStall(ownerProxy: FaultProxy, other: Member, sagaId: string): Promise<Answer | 'hang' | 'connection'> {
  ownerProxy.inject({ kind: 'stall', ms: FORWARD_TIMEOUT_MS + 3_000 });
  const answer = await getSaga(other.url, sagaId);
  await ownerProxy.stopChaos();
  return answer;
}

/**
 * GET /saga/:sagaId through `other` just after the link to the owner was cut, while it still
 * refuses connections: every attempt of the forwarding instance is reset.
 */
export async function queryThroughCut(ownerProxy: FaultProxy, other: Member, sagaId: string): Promise<Answer | 'hang' | 'connection'> {
  ownerProxy.inject({ kind: 'cut', downMs: 60_000 });
  const answer = await getSaga(other.url, sagaId);
  await ownerProxy.stopChaos();
  return answer;
}
