/**
 * kafkajs 2.2.4 schedules `setTimeout(fn, throttledUntil - Date.now())` with throttledUntil = 0
 * when nothing throttles, which Node >= 24 reports as a TimeoutNegativeWarning (and clamps to
 * 1 ms, which is what kafkajs means). Drop that one warning; print every other as Node would.
 */
export function silenceKnownKafkajsWarnings(): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    if (warning.name === 'TimeoutNegativeWarning') return;
    process.stderr.write(`${warning.name}: ${warning.message}\n`);
  });
}
