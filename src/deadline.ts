/**
 * Races a native call against a deadline of the caller's own: past `ms`, the returned promise
 * rejects with what `onStuck` returns (called once, with the call, which may still settle
 * later), whatever librdkafka does with its own timeout. A call that settles first settles
 * the result and clears the timer.
 */
export function withDeadline<T>(call: Promise<T>, ms: number, onStuck: (call: Promise<T>) => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onStuck(call)), ms);
  });
  return Promise.race([call, deadline]).finally(() => clearTimeout(timer));
}
