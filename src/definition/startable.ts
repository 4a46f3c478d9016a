import { isSagaflowError } from '../errors.ts';
import { compileDefinition } from './compile.ts';
import { IssueList } from './issues.ts';
import type { DefinitionIssue } from './issues.ts';
import { checkTopology } from './topology.ts';
import type { EngineKafkaEnv } from './topology.ts';
import type { SagaConfig } from './types.ts';

/**
 * What `sagaflow start` refuses in a loaded saga.json before it connects anywhere: hooks that
 * do not compile (compileDefinition) and a Kafka topology it cannot run (checkTopology, the
 * checks behind kafkaLayout, with the environment's brokers and application id for a saga.json
 * without kafka channels). Empty when start would go on to reach the brokers.
 */
export async function startIssues(config: SagaConfig, env: EngineKafkaEnv = {}): Promise<DefinitionIssue[]> {
  const issues: DefinitionIssue[] = [];
  try {
    await compileDefinition(config);
  } catch (error) {
    if (!isSagaflowError(error, 'SAGAFLOW_DEFINITION_INVALID') || !Array.isArray(error.details)) throw error;
    issues.push(...(error.details as DefinitionIssue[]));
  }
  const topology = new IssueList();
  checkTopology(config, topology, env);
  return [...issues, ...topology.errors];
}
