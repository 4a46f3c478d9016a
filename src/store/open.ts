import { PartitionStore } from './partition-store.ts';
import { openRocksDbStore } from './rocksdb-store.ts';

/** Opens the RocksDB-backed state store of one partition in its own directory. */
export async function openPartitionStore(dir: string): Promise<PartitionStore> {
  return new PartitionStore(await openRocksDbStore(dir));
}
