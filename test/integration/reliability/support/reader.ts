import { setTimeout as delay } from 'node:timers/promises';
import { INSTANCE_HEADER, STALE_HEADER, STALE_RESTORING, STALE_UNCONFIRMED } from '../../../../src/http/app.ts';
import { tally } from './verify.ts';
import type { HttpTally } from './verify.ts';

/**
 * Clients reading sagas over HTTP while the cluster changes under them. A read must never go
 * back in time: once a client has seen revision r of a saga, any later request (sent after
 * that answer arrived) must answer 200 with revision >= r, or 503 (restoring / owner
 * unavailable). A 200 with an older revision, or a 404 for a saga already seen, is a stale
 * read. Every answer is tallied by status and code.
 *
 * With MongoDB persistency an instance that cannot reach the owner answers 200 with the
 * projection's copy, flagged with STALE_HEADER (tallied as `200 projection`). That copy may
 * lag the owner, so it is held to what the projection promises instead: it never goes back
 * in time either (the projection's writes are revision-guarded). And since the projection
 * only holds committed changelog records, a later answer of an owner must not be older than
 * a copy seen in the projection.
 *
 * A copy from a store being restored (STALE_HEADER `restoring`) is committed but may be older
 * than anything seen before (the store of the instance that owned the partition earlier was
 * further along), as its mark says: tallied as `200 restoring`, it sets no floor and is held
 * to no floor. So is a copy of an owner that cannot vouch it still owns the partition
 * (STALE_UNCONFIRMED, tallied as `200 unconfirmed`). Everything unmarked still is.
 *
 * A stale read names the instance whose store answered (INSTANCE_HEADER) and when (ms since
 * the reader started), so it can be matched with the instances' logs.
 */
export class MonotonicReader {
  readonly answers: HttpTally = new Map();
  readonly staleReads: string[] = [];
  reads = 0;
  private readonly seen = new Map<string, number>();
  /** Who served the highest revision of each saga seen. */
  private readonly seenBy = new Map<string, string>();
  /** Highest revision of each saga seen in projection copies. */
  private readonly seenProjected = new Map<string, number>();
  private running = false;
  private readonly startedAt = Date.now();
  private loops: Promise<void>[] = [];

  /** `ids()` gives the sagas that may be read now (created ones); `urls()` the instances to ask. */
  start(ids: () => readonly string[], urls: () => readonly string[], concurrency = 4): void {
    this.running = true;
    this.loops = Array.from({ length: concurrency }, () => this.loop(ids, urls));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async loop(ids: () => readonly string[], urls: () => readonly string[]): Promise<void> {
    while (this.running) {
      const candidates = ids();
      const targets = urls();
      const id = candidates[Math.floor(Math.random() * candidates.length)];
      const url = targets[Math.floor(Math.random() * targets.length)];
      if (id === undefined || url === undefined) {
        await delay(50);
        continue;
      }
      await this.readOnce(url, id);
    }
  }

  async readOnce(url: string, sagaId: string): Promise<void> {
    const ownFloor = this.seen.get(sagaId);
    const projectedFloor = this.seenProjected.get(sagaId);
    const floor = ownFloor === undefined ? projectedFloor : Math.max(ownFloor, projectedFloor ?? ownFloor);
    let status: number;
    let body: { revision?: number; code?: string };
    let stale: string | null;
    let instance: string | null;
    try {
      const res = await fetch(`${url}/saga/${encodeURIComponent(sagaId)}`, { signal: AbortSignal.timeout(5_000) });
      status = res.status;
      stale = res.headers.get(STALE_HEADER);
      instance = res.headers.get(INSTANCE_HEADER);
      body = (await res.json()) as { revision?: number; code?: string };
    } catch {
      tally(this.answers, 0, 'connection');
      await delay(20);
      return;
    }
    this.reads += 1;
    if (status !== 200) tally(this.answers, status, body.code);
    // 503 says retry later: do not spin (two cores run the whole cluster).
    if (status === 503) await delay(10);
    const by = `${url} (instance ${instance ?? 'unnamed'}, ${((Date.now() - this.startedAt) / 1000).toFixed(1)} s)`;
    if (status === 200 && (stale === STALE_RESTORING || stale === STALE_UNCONFIRMED)) {
      tally(this.answers, 200, stale);
    } else if (status === 200 && stale !== null) {
      tally(this.answers, 200, 'projection');
      if (typeof body.revision !== 'number') return;
      if (projectedFloor !== undefined && body.revision < projectedFloor) {
        this.staleReads.push(`${by} served ${sagaId} from the projection at revision ${body.revision} after revision ${projectedFloor} was seen there`);
      }
      this.seenProjected.set(sagaId, Math.max(body.revision, this.seenProjected.get(sagaId) ?? 0));
    } else if (status === 200 && typeof body.revision === 'number') {
      if (floor !== undefined && body.revision < floor) {
        const where = ownFloor !== undefined && ownFloor >= floor ? '' : ' (in the projection)';
        this.staleReads.push(`${by} served ${sagaId} at revision ${body.revision} after revision ${floor} was seen${where} (from ${this.seenBy.get(sagaId) ?? 'the projection'})`);
      }
      if (body.revision > (this.seen.get(sagaId) ?? -1)) {
        this.seen.set(sagaId, body.revision);
        this.seenBy.set(sagaId, by);
      }
    } else if (status === 404 && floor !== undefined) {
      this.staleReads.push(`${by} answered 404 for ${sagaId} after revision ${floor} was seen`);
    }
  }
}
