// Runs in every test worker: drops kafkajs' harmless negative-timeout warning (see
// src/runtime/warnings.ts) so test output shows only warnings worth reading.
import { silenceKnownKafkajsWarnings } from '../../src/runtime/warnings.ts';

silenceKnownKafkajsWarnings();
