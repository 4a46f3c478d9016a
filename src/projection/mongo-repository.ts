import type { BusinessId } from '../definition/types.ts';
import type { SagaDocument } from '../saga/types.ts';
import { storeError } from './mongo.ts';
import type { SagaCollection } from './mongo.ts';
import { cursorAfter, encodeCursor, mongoFilter, pageQuery } from './query.ts';
import type { SagaFilter, SagaListRequest } from './query.ts';
import type { SagaPage, SagaRepository, SagaStats } from './repository.ts';

/**
 * SagaRepository over the projection's MongoDB collection. Pagination is keyset (sort field,
 * then sagaId as tie-breaker), so pages stay consistent while sagas are added and cost the
 * same at any depth. Stats group on compound keys rather than `$first`, which FerretDB lacks.
 */
export class MongoSagaRepository implements SagaRepository {
  private readonly collection: SagaCollection;

  constructor(collection: SagaCollection) {
    this.collection = collection;
  }

  async findById(sagaId: string): Promise<SagaDocument | undefined> {
    try {
      const doc = await this.collection.findOne({ sagaId }, { projection: { _id: 0 } });
      return doc ?? undefined;
    } catch (err) {
      throw storeError('reading a saga', err);
    }
  }

  async list(request: SagaListRequest): Promise<SagaPage> {
    const { filter, sort } = pageQuery(request);
    let docs: SagaDocument[];
    try {
      docs = await this.collection
        .find(filter, { projection: { _id: 0 } })
        .sort(sort)
        .limit(request.limit + 1)
        .toArray();
    } catch (err) {
      throw storeError('listing sagas', err);
    }
    const items = docs.slice(0, request.limit);
    const last = items[items.length - 1];
    const page: SagaPage = { items };
    if (docs.length > request.limit && last) page.nextCursor = encodeCursor(cursorAfter(last, request.sort, request.order));
    return page;
  }

  async stats(filter: SagaFilter): Promise<SagaStats> {
    const match = mongoFilter(filter);
    try {
      const [states, business] = await Promise.all([
        this.collection
          .aggregate<{ _id: { s?: string; f?: boolean }; count: number }>([
            { $match: match },
            { $group: { _id: { s: '$currentState', f: '$isFinal' }, count: { $sum: 1 } } },
          ])
          .toArray(),
        this.collection
          .aggregate<{ _id: { id?: BusinessId; d?: string }; count: number }>([
            { $match: match },
            { $group: { _id: { id: '$businessStateId', d: '$businessStateDescription' }, count: { $sum: 1 } } },
          ])
          .toArray(),
      ]);
      // A state's isFinal never changes, but documents written by Flow Manager may lack it:
      // fold those into the state's row.
      const byStateMap = new Map<string, { currentState: string; isFinal: boolean; count: number }>();
      for (const row of states) {
        const key = row._id.s ?? '';
        const entry = byStateMap.get(key) ?? { currentState: key, isFinal: false, count: 0 };
        entry.count += row.count;
        entry.isFinal ||= row._id.f === true;
        byStateMap.set(key, entry);
      }
      const byState = [...byStateMap.values()].sort((a, b) => b.count - a.count || a.currentState.localeCompare(b.currentState));
      const byBusinessState = business
        .map((row) => ({ businessStateId: row._id.id ?? null, businessStateDescription: row._id.d ?? null, count: row.count }))
        .sort((a, b) => b.count - a.count || String(a.businessStateId).localeCompare(String(b.businessStateId)));
      return { total: byState.reduce((n, s) => n + s.count, 0), byState, byBusinessState };
    } catch (err) {
      throw storeError('counting sagas', err);
    }
  }
}
