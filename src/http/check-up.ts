/**
 * Mia-Platform's check-up route (`GET /-/check-up`), used by its Doctor service rather than
 * by Kubernetes: it checks every dependency of the service and answers 200 with
 * `{status: "OK", name, version}` only when all are up, 503 with `status: "KO"` when one is
 * not. sagaflow adds `checks`, one entry per dependency, so the answer says which one failed.
 * A check never calls another service's `/-/check-up` (that could loop): the dependencies'
 * own liveness routes at most.
 */
import { withDeadline } from '../deadline.ts';

export interface DependencyCheck {
  /** `kafka`, `schema-registry`, `persistency` ... */
  name: string;
  /** Resolves when the dependency answers; rejects with a message safe to show (no secrets). */
  run(signal: AbortSignal): Promise<void>;
}

export interface CheckResult {
  name: string;
  status: 'OK' | 'KO';
  durationMs: number;
  /** Why it failed. */
  message?: string;
}

export interface CheckUpReport {
  ok: boolean;
  checks: CheckResult[];
}

/** Runs the checks in parallel, each bounded by `timeoutMs` (a dependency that hangs is KO). */
export async function runCheckUp(checks: readonly DependencyCheck[], timeoutMs = 3_000): Promise<CheckUpReport> {
  const results = await Promise.all(
    checks.map(async (check): Promise<CheckResult> => {
      const began = performance.now();
      const controller = new AbortController();
      try {
        await withDeadline(check.run(controller.signal), timeoutMs, () => {
          controller.abort();
          return new Error(`no answer within ${timeoutMs} ms`);
        });
        return { name: check.name, status: 'OK', durationMs: Math.round(performance.now() - began) };
      } catch (err) {
        return { name: check.name, status: 'KO', durationMs: Math.round(performance.now() - began), message: err instanceof Error ? err.message : String(err) };
      }
    }),
  );
  return { ok: results.every((r) => r.status === 'OK'), checks: results };
}

/** GET `url` must answer 2xx (a dependency's liveness route, a registry's subject list). */
export async function httpAnswers(url: string, signal: AbortSignal, opts: { headers?: Record<string, string>; fetchImpl?: typeof fetch; what: string }): Promise<void> {
  let res: Response;
  try {
    res = await (opts.fetchImpl ?? fetch)(url, { headers: opts.headers ?? {}, signal });
  } catch (err) {
    // The cause may name the host, which can be a secret: only its code is kept.
    const code = ((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name) || 'unreachable';
    throw new Error(`${opts.what} unreachable (${code})`, { cause: err });
  }
  await res.body?.cancel().catch(() => undefined);
  if (res.status < 200 || res.status >= 300) throw new Error(`${opts.what} answered ${res.status}`);
}
