// Child process of the RocksDB crash test: writes batches of 50 keys plus a marker, all
// holding the batch number, until it is killed. Reports progress on stdout.
import { openRocksDbStore } from '../../../src/store/rocksdb-store.ts';

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: crash-writer.ts <dir>');
const store = await openRocksDbStore(dir);
for (let i = 1; ; i += 1) {
  const value = Buffer.from(String(i));
  const puts: [string, Buffer][] = [['marker', value]];
  for (let k = 0; k < 50; k += 1) puts.push([`k:${k}`, value]);
  await store.write({ puts, deletes: [] });
  if (i % 20 === 0) process.stdout.write(`${i}\n`);
}
