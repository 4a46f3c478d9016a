/**
 * Races a call against a deadline of the caller's own: past `ms`, the returned promise
 * rejects with what `onStuck` returns (called once, with the call, which may still settle
 * later, its outcome then ignored), whatever timeout the callee has or lacks. A call that
 * settles first settles the result and clears the timer. The one bounded wait of the code
 * base: native client calls, a consumer's disconnect, readiness checks, catch-up reads.
 */
export function withDeadline<T>(call: Promise<T>, ms: number, onStuck: (call: Promise<T>) => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onStuck(call)), ms);
  });
  return Promise.race([call, deadline]).finally(() => clearTimeout(timer));
}
