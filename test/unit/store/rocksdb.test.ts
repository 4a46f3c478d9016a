import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { isSagaflowError } from '../../../src/errors.ts';
import type { KeyValueStore } from '../../../src/store/key-value-store.ts';
import { RocksDbStore, openRocksDbStore } from '../../../src/store/rocksdb-store.ts';
import { keyValueStoreConformance } from './conformance.ts';

const root = await mkdtemp(join(tmpdir(), 'sagaflow-rocksdb-'));
let counter = 0;

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

keyValueStoreConformance('RocksDbStore', {
  open: async () => openRocksDbStore(join(root, `db-${(counter += 1)}`)),
  reopen: async (store: KeyValueStore) => {
    if (!(store instanceof RocksDbStore)) throw new Error('expected a RocksDbStore');
    await store.close();
    return openRocksDbStore(store.dir);
  },
});

describe('openRocksDbStore', () => {
  it('creates missing parent directories', async () => {
    const store = await openRocksDbStore(join(root, 'nested', 'a', 'b'));
    await store.write({ puts: [['k', Buffer.from('v')]], deletes: [] });
    expect(await store.get('k')).toEqual(Buffer.from('v'));
    await store.close();
  });

  it('refuses a directory held by another open store, retryably, until it is closed', async () => {
    const dir = join(root, 'locked');
    const first = await openRocksDbStore(dir);
    const error: unknown = await openRocksDbStore(dir).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isSagaflowError(error, 'SAGAFLOW_STORE_LOCKED')).toBe(true);
    expect(isSagaflowError(error) && error.retryable).toBe(true);
    await first.close();
    const second = await openRocksDbStore(dir);
    await second.close();
  });
});

describe('RocksDbStore atomicity', () => {
  it('never shows part of a batch after the writing process is killed', async () => {
    const dir = join(root, 'crash');
    const writer = spawn(process.execPath, [fileURLToPath(new URL('./crash-writer.ts', import.meta.url)), dir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<void>((resolve) => writer.once('exit', () => resolve()));
    // Kill while it is writing flat out: after it has reported 200 batches.
    await new Promise<void>((resolve, reject) => {
      writer.once('exit', (code) => reject(new Error(`writer exited early with ${String(code)}`)));
      writer.stdout.on('data', (chunk: Buffer) => {
        const lines = chunk.toString('utf8').trim().split('\n');
        if (Number(lines[lines.length - 1]) >= 200) resolve();
      });
    });
    writer.kill('SIGKILL');
    await exited;

    const store = await openRocksDbStore(dir);
    try {
      const marker = (await store.get('marker'))?.toString('utf8');
      expect(Number(marker)).toBeGreaterThanOrEqual(200);
      let keys = 0;
      for await (const [, value] of store.iterate({ prefix: 'k:' })) {
        expect(value.toString('utf8')).toBe(marker);
        keys += 1;
      }
      expect(keys).toBe(50);
    } finally {
      await store.close();
    }
  });
});
