import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { describeJsonError, loadSagaConfigFile, readSagaConfigFile } from '../../../src/definition/load.ts';
import type { DefinitionIssue } from '../../../src/definition/issues.ts';
import { SagaflowError } from '../../../src/errors.ts';
import { TUTORIAL_SAGA, push, set, validRaw } from './fixtures.ts';

function tempFile(content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sagaflow-load-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'saga.json');
  writeFileSync(file, content);
  return file;
}

function thrown(fn: () => unknown): SagaflowError {
  try {
    fn();
  } catch (error) {
    if (error instanceof SagaflowError) return error;
    throw error;
  }
  throw new Error('expected a SagaflowError');
}

describe('loadSagaConfigFile', () => {
  it('loads the tutorial saga.json', () => {
    const config = loadSagaConfigFile(TUTORIAL_SAGA.pathname, {});
    expect(config.machineDefinition.initialState).toBe('reservationCreated');
  });

  it('throws SAGAFLOW_DEFINITION_NOT_FOUND for a missing file', () => {
    const error = thrown(() => loadSagaConfigFile('/nonexistent/saga.json', {}));
    expect(error.code).toBe('SAGAFLOW_DEFINITION_NOT_FOUND');
    expect(error.retryable).toBe(false);
    expect(error.message).toBe('cannot read saga definition "/nonexistent/saga.json" (ENOENT)');
  });

  it('throws SAGAFLOW_DEFINITION_INVALID listing every issue, with the issues in details', () => {
    const raw = validRaw();
    set(raw, 'machineDefinition.initialState', 'nope');
    set(raw, 'machineDefinition.states[0].outputCommand.channel', 'nochan');
    const file = tempFile(JSON.stringify(raw));
    const error = thrown(() => loadSagaConfigFile(file, {}));
    expect(error.code).toBe('SAGAFLOW_DEFINITION_INVALID');
    expect(error.path).toBe(file);
    const details = error.details as DefinitionIssue[];
    expect(details.map((d) => d.path)).toEqual(['machineDefinition.initialState', 'machineDefinition.states[0].outputCommand.channel']);
    expect(error.message).toBe(
      `saga definition "${file}" is invalid (2 errors):\n` +
        '  - machineDefinition.initialState: "nope" is not the id of a state: use one of "created", "done", "failed"\n' +
        '  - machineDefinition.states[0].outputCommand.channel: "nochan" is not the id of a communication protocol: use one of "bus", "hook" or add it to communicationProtocols',
    );
  });

  it('reports JSON syntax errors by line and column without quoting the file', () => {
    const file = tempFile('{\n  "password": "hunter2" oops\n}');
    const error = thrown(() => loadSagaConfigFile(file, {}));
    expect(error.code).toBe('SAGAFLOW_DEFINITION_INVALID');
    expect(error.details).toEqual([{ path: '(root)', message: "is not valid JSON: Expected ',' or '}' after property value at line 2, column 25" }]);
    expect(error.message).not.toContain('hunter2');
  });

  it('passes warnings to onWarning and still loads', () => {
    const raw = validRaw();
    push(raw, 'machineDefinition.states', { id: 'orphan', isFinal: true });
    const warnings: DefinitionIssue[] = [];
    const config = loadSagaConfigFile(tempFile(JSON.stringify(raw)), {}, { onWarning: (w) => warnings.push(w) });
    expect(config.machineDefinition.states).toHaveLength(4);
    expect(warnings.map((w) => w.path)).toEqual(['machineDefinition.states[3]']);
  });

  it('readSagaConfigFile returns the issues instead of throwing', () => {
    const result = readSagaConfigFile(tempFile('[]'), {});
    expect(result).toEqual({ errors: [{ path: '(root)', message: 'must be an object (found array)' }], warnings: [] });
  });
});

describe('describeJsonError', () => {
  it('drops V8 messages that quote the text', () => {
    let error: unknown;
    try {
      JSON.parse('secret-token');
    } catch (e) {
      error = e;
    }
    expect(describeJsonError(error, 'secret-token')).not.toContain('secret');
  });
});
