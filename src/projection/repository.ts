import type { BusinessId } from '../definition/types.ts';
import type { SagaDocument } from '../saga/types.ts';
import type { SagaFilter, SagaListRequest } from './query.ts';

export interface SagaPage {
  items: SagaDocument[];
  /** Pass as `cursor` to read the next page; absent on the last page. */
  nextCursor?: string;
}

export interface SagaStats {
  total: number;
  byState: { currentState: string; isFinal: boolean; count: number }[];
  byBusinessState: { businessStateId: BusinessId | null; businessStateDescription: string | null; count: number }[];
}

/**
 * Read side of the projection: what GET /sagas, GET /sagas/stats and the GET /saga
 * fallback need. Errors are SagaflowErrors (SAGAFLOW_PROJECTION_STORE_UNAVAILABLE, retryable).
 */
export interface SagaRepository {
  findById(sagaId: string): Promise<SagaDocument | undefined>;
  list(request: SagaListRequest): Promise<SagaPage>;
  stats(filter: SagaFilter): Promise<SagaStats>;
}
