import { MemoryStore } from '../../../src/store/memory-store.ts';
import { keyValueStoreConformance } from './conformance.ts';

keyValueStoreConformance('MemoryStore', { open: async () => new MemoryStore() });
