import { describe, expect, it } from 'vitest';
import { httpAnswers, runCheckUp } from '../../../src/http/check-up.ts';
import { closedPort } from '../../support/ports.ts';

describe('runCheckUp', () => {
  it('is OK only when every check resolves, and says which one failed and why', async () => {
    const all = await runCheckUp([
      { name: 'kafka', run: async () => undefined },
      { name: 'persistency', run: async () => undefined },
    ]);
    expect(all.ok).toBe(true);
    expect(all.checks.map((c) => [c.name, c.status])).toEqual([['kafka', 'OK'], ['persistency', 'OK']]);

    const one = await runCheckUp([
      { name: 'kafka', run: async () => undefined },
      { name: 'persistency', run: async () => { throw new Error('MongoDB did not answer'); } },
    ]);
    expect(one.ok).toBe(false);
    expect(one.checks[1]).toMatchObject({ name: 'persistency', status: 'KO', message: 'MongoDB did not answer' });
    expect(one.checks[0]?.status).toBe('OK');
  });

  it('a check that hangs is KO after the timeout, and is told to stop', async () => {
    let aborted = false;
    const began = Date.now();
    const report = await runCheckUp(
      [{ name: 'schema-registry', run: (signal) => new Promise<void>(() => signal.addEventListener('abort', () => (aborted = true))) }],
      100,
    );
    expect(Date.now() - began).toBeLessThan(2_000);
    expect(report.ok).toBe(false);
    expect(report.checks[0]?.message).toBe('no answer within 100 ms');
    expect(aborted).toBe(true);
  });

  it('no checks: OK', async () => {
    expect(await runCheckUp([])).toEqual({ ok: true, checks: [] });
  });
});

describe('httpAnswers', () => {
  const signal = new AbortController().signal;

  it('accepts 2xx, refuses other statuses and failures without naming the address', async () => {
    await httpAnswers('http://secret-host:1/-/healthz', signal, { what: 'the CRUD service', fetchImpl: async () => new Response('{}', { status: 200 }) });
    await expect(httpAnswers('http://secret-host:1/-/healthz', signal, { what: 'the CRUD service', fetchImpl: async () => new Response('no', { status: 503 }) })).rejects.toThrow('the CRUD service answered 503');
    const refused = httpAnswers(`http://127.0.0.1:${await closedPort()}/-/healthz`, signal, { what: 'the CRUD service' });
    await expect(refused).rejects.toThrow(/^the CRUD service unreachable \(ECONNREFUSED\)$/);
    const err = await httpAnswers('http://secret-host.invalid:1/', signal, { what: 'the registry' }).catch((e: unknown) => e as Error);
    expect((err as Error).message).not.toContain('secret-host');
  });
});
