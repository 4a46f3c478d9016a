import { describe, expect, it } from 'vitest';
import { MAX_CONFIG_DEPTH, parseSagaConfig } from '../../../src/definition/parse.ts';

describe('configuration errors at start', () => {
  // Regression: structuredClone (and then freezing and payload-schema compilation) recursed
  // over the whole file; a payloadValidationSchema nested 20 000 levels deep ended
  // `sagaflow start` with "SAGAFLOW_START_FAILED: Maximum call stack size exceeded" and no path.
  it('refuses a saga.json nested deeper than the limit, naming where', () => {
    let deep: unknown = {};
    for (let i = 0; i < 20_000; i += 1) deep = { type: 'object', properties: { a: deep } };
    const raw = {
      machineDefinition: { initialState: 'a', states: [{ id: 'a', isFinal: false, outgoingTransitions: [{ inputEvent: 'x', targetState: 'b', payloadValidationSchema: deep }] }, { id: 'b', isFinal: true }] },
      communicationProtocols: [],
      persistencyManagement: {},
    };
    const result = parseSagaConfig(raw, { env: {}, readFile: () => '' });
    expect(result.errors).toEqual([
      {
        path: 'machineDefinition.states[0].outgoingTransitions[0].payloadValidationSchema',
        message: `nests objects and arrays more than ${MAX_CONFIG_DEPTH} levels deep below this point; flatten it (a saga.json needs a few levels)`,
      },
    ]);
  });
});
