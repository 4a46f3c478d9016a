/**
 * `sagaflow`: the orchestrator as a library, for programs that embed it or tools built on it.
 * The command line (`sagaflow start`, `validate`, `import`, ...) is the usual way to run it
 * (bin/sagaflow.js); services that execute commands import `sagaflow/worker`. No module of
 * either entry point has a top-level await, so CommonJS code can `require()` them too.
 */
export { loadSagaConfigFile, readSagaConfigFile } from './definition/load.ts';
export { parseSagaConfig } from './definition/parse.ts';
export { compileDefinition } from './definition/compile.ts';
export type { CompiledDefinition } from './definition/compile.ts';
export type { SagaConfig, MachineDefinition, StateSpec, KafkaProtocol, PersistencyManagement, Settings } from './definition/types.ts';
export { transition } from './saga/transition.ts';
export type { SagaDocument, SagaInput, TransitionResult, Command, Outcome } from './saga/types.ts';
export { readRuntimeEnv } from './runtime/env.ts';
export type { RuntimeEnv } from './runtime/env.ts';
export { startInstance } from './runtime/instance.ts';
export type { Instance } from './runtime/instance.ts';
export { importFlowManagerSagas } from './migration/import.ts';
export type { ImportOptions, ImportSummary } from './migration/import.ts';
export { engineChannels } from './engine/metrics.ts';
export type { CommitMessage, TransitionMessage } from './engine/metrics.ts';
export { ERROR_CATALOG, SagaflowError, isSagaflowError } from './errors.ts';
export * from './worker/index.ts';
