// A client of the reservation saga over sagaflow's HTTP API: creates four reservations with
// POST /saga and follows each with GET /saga/:sagaId to its final state, printing the journey.
// `npm run demo` uses it against its own sagaflow; docker compose runs it once the services
// are up:
//   SAGAFLOW_URL=http://127.0.0.1:3000 node examples/reservation/client.ts
import type { SagaDocument } from '../../src/saga/types.ts';

/** Seats and table decide each outcome (see workers.ts): confirmed, too many seats, terrace, confirmed. */
export const reservationRequests = [
  { associatedEntityId: 'customer-1', metadata: { seats: 2, table: 'window' } },
  { associatedEntityId: 'customer-2', metadata: { seats: 12, table: 'hall' } },
  { associatedEntityId: 'customer-3', metadata: { seats: 4, table: 'terrace' } },
  { associatedEntityId: 'customer-4', metadata: { seats: 6, table: 'garden' } },
] as const;

/** Polls `fn` every 250 ms until it returns a value; a rejection counts as not yet. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function createReservations(url: string, log: (line: string) => void = console.log): Promise<string[]> {
  const ids: string[] = [];
  for (const body of reservationRequests) {
    const res = await fetch(`${url}/saga`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (res.status !== 201) throw new Error(`POST /saga answered ${res.status}: ${await res.text()}`);
    const { sagaId } = (await res.json()) as { sagaId: string };
    log(`   POST /saga ${JSON.stringify(body)} -> ${res.status} ${sagaId}`);
    ids.push(sagaId);
  }
  return ids;
}

export async function followToFinal(url: string, ids: readonly string[], log: (line: string) => void = console.log, timeoutMs = 60_000): Promise<SagaDocument[]> {
  const docs: SagaDocument[] = [];
  for (const id of ids) {
    const doc = await waitFor(`saga ${id} to reach a final state`, async () => {
      const res = await fetch(`${url}/saga/${id}`);
      if (res.status !== 200) return undefined;
      const saga = (await res.json()) as SagaDocument;
      return saga.isFinal ? saga : undefined;
    }, timeoutMs);
    const journey = doc.history.states.map((s, i) => (i === 0 ? s.state : `--${doc.history.events[i]?.event ?? '?'}--> ${s.state}`));
    log(`   ${id}: ${journey.join(' ')}  [${doc.businessStateDescription ?? ''}]`);
    log(`      commands sent: ${doc.commands.map((c) => c.label).join(', ')}; revision ${doc.revision}`);
    docs.push(doc);
  }
  return docs;
}

async function main(): Promise<number> {
  const url = (process.env.SAGAFLOW_URL ?? 'http://127.0.0.1:3000').replace(/\/+$/, '');
  await waitFor(`${url}/-/ready`, async () => ((await fetch(`${url}/-/ready`)).status === 200 ? true : undefined), 180_000);
  console.log(`creating reservations with POST ${url}/saga`);
  const ids = await createReservations(url);
  console.log('following each saga to its final state with GET /saga/:sagaId');
  await followToFinal(url, ids);
  return 0;
}

if (import.meta.main) process.exitCode = await main();
