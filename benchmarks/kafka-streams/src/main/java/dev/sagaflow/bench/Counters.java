package dev.sagaflow.bench;

import java.util.concurrent.atomic.LongAdder;

/** Outcome counts shared by all stream threads, printed periodically. */
final class Counters {
  final LongAdder processed = new LongAdder();
  final LongAdder created = new LongAdder();
  final LongAdder applied = new LongAdder();
  final LongAdder completed = new LongAdder();
  final LongAdder commands = new LongAdder();
  final LongAdder unexpected = new LongAdder();
  final LongAdder unknownSaga = new LongAdder();
  final LongAdder alreadyExists = new LongAdder();
  final LongAdder poison = new LongAdder();

  String line() {
    return "processed=" + processed.sum()
        + " created=" + created.sum()
        + " applied=" + applied.sum()
        + " completed=" + completed.sum()
        + " commands=" + commands.sum()
        + " unexpected=" + unexpected.sum()
        + " unknownSaga=" + unknownSaga.sum()
        + " alreadyExists=" + alreadyExists.sum()
        + " poison=" + poison.sum();
  }
}
