import { SagaflowError } from '../../errors.ts';
import { DLQ_HEADERS } from '../../engine/task.ts';
import type { DeadLetter, DeadLetterPage, DeadLetterQuery, DeadLetterRecord, HandledMarker } from './ports.ts';

/** How many dead letters an instance holds for browsing by default. */
export const DEFAULT_MAX_DEAD_LETTERS = 10_000;

export function deadLetterId(partition: number, offset: string): string {
  return `${partition}-${offset}`;
}

/** The headers a dead-letter record carries about itself, not about the original event. */
export function isSagaflowHeader(name: string): boolean {
  return name.startsWith('sagaflow-');
}

function describe(record: DeadLetterRecord, handled: HandledMarker | undefined): DeadLetter {
  const h = record.headers;
  const partition = h[DLQ_HEADERS.partition];
  const letter: DeadLetter = {
    id: deadLetterId(record.partition, record.offset),
    record,
    code: h[DLQ_HEADERS.code] ?? 'unknown',
    reason: h[DLQ_HEADERS.reason] ?? '',
    source: {
      topic: h[DLQ_HEADERS.topic] ?? null,
      partition: partition !== undefined && /^\d+$/.test(partition) ? Number(partition) : null,
      offset: h[DLQ_HEADERS.offset] ?? null,
    },
  };
  if (handled) letter.handled = handled;
  return letter;
}

type Position = Pick<DeadLetterRecord, 'timestamp' | 'partition' | 'offset'>;

/** Newest first: timestamp descending, then partition ascending, then offset descending. */
function compare(a: Position, b: Position): number {
  if (a.timestamp !== b.timestamp) return a.timestamp < b.timestamp ? 1 : -1;
  if (a.partition !== b.partition) return a.partition - b.partition;
  const ao = BigInt(a.offset);
  const bo = BigInt(b.offset);
  return ao === bo ? 0 : ao < bo ? 1 : -1;
}

function encodeCursor(letter: DeadLetter): string {
  return Buffer.from(JSON.stringify([letter.record.timestamp, letter.record.partition, letter.record.offset])).toString('base64url');
}

function decodeCursor(raw: string): Position {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 3) {
      const [timestamp, partition, offset] = parsed as unknown[];
      if (typeof timestamp === 'string' && typeof partition === 'number' && Number.isInteger(partition) && typeof offset === 'string' && /^\d+$/.test(offset)) {
        return { timestamp, partition, offset };
      }
    }
  } catch {
    // fall through to the error below
  }
  throw new SagaflowError('SAGAFLOW_CURSOR_INVALID', {
    message: 'cursor: not a dead-letter cursor; pass the nextCursor of a previous page unchanged',
    path: 'querystring.cursor',
  });
}

/**
 * The dead letters an instance holds for the console: every record read from the dead-letter
 * topic, up to `maxRecords` (the first read are let go first), with the operators' markers applied.
 * Pure: the store that reads the topics (src/kafka/dead-letter-store.ts) feeds it.
 */
export class DeadLetterIndex {
  private readonly letters = new Map<string, DeadLetter>();
  /** Markers by id, also for dead letters not (or no longer) held: a marker may arrive first. */
  private readonly markers = new Map<string, HandledMarker>();
  private readonly maxRecords: number;
  evicted = 0;

  constructor(maxRecords = DEFAULT_MAX_DEAD_LETTERS) {
    this.maxRecords = maxRecords;
  }

  get size(): number {
    return this.letters.size;
  }

  add(record: DeadLetterRecord): void {
    const id = deadLetterId(record.partition, record.offset);
    const known = this.letters.has(id);
    this.letters.set(id, describe(record, this.markers.get(id)));
    // The topic is read in offset order per partition, so the first key of the map is about
    // the oldest record: dropping it keeps memory bounded at O(1) per record.
    if (!known && this.letters.size > this.maxRecords) {
      const first = this.letters.keys().next();
      if (!first.done) {
        this.letters.delete(first.value);
        this.evicted += 1;
      }
    }
  }

  /** Applies an operator's marker; null (a tombstone) takes it back. */
  mark(id: string, marker: HandledMarker | null): void {
    if (marker === null) this.markers.delete(id);
    else this.markers.set(id, marker);
    const letter = this.letters.get(id);
    if (!letter) return;
    if (marker === null) delete letter.handled;
    else letter.handled = marker;
  }

  get(id: string): DeadLetter | undefined {
    return this.letters.get(id);
  }

  list(query: DeadLetterQuery): Omit<DeadLetterPage, 'complete'> {
    const byHandled = [...this.letters.values()].filter((l) => query.handled === undefined || (l.handled !== undefined) === query.handled);
    const counts = new Map<string, number>();
    for (const l of byHandled) counts.set(l.code, (counts.get(l.code) ?? 0) + 1);
    const codes = query.codes && query.codes.length > 0 ? new Set(query.codes) : undefined;
    const matching = byHandled.filter((l) => !codes || codes.has(l.code)).sort((a, b) => compare(a.record, b.record));
    let start = 0;
    if (query.cursor !== undefined) {
      const after = decodeCursor(query.cursor);
      start = matching.findIndex((l) => compare(l.record, after) > 0);
      if (start < 0) start = matching.length;
    }
    const items = matching.slice(start, start + query.limit);
    const page: Omit<DeadLetterPage, 'complete'> = {
      items,
      total: matching.length,
      codes: [...counts].map(([code, count]) => ({ code, count })).sort((a, b) => b.count - a.count || a.code.localeCompare(b.code)),
      indexed: this.letters.size,
      evicted: this.evicted,
    };
    const last = items.at(-1);
    if (last && start + items.length < matching.length) page.nextCursor = encodeCursor(last);
    return page;
  }
}
