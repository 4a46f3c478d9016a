import { IssueList } from './issues.ts';
import type { DefinitionIssue } from './issues.ts';
import { checkReferences } from './references.ts';
import { checkSchema } from './schema.ts';
import { resolveSecrets } from './secrets.ts';
import type { SagaConfig } from './types.ts';

export type { DefinitionIssue } from './issues.ts';

export interface ParseOptions {
  /** Environment for `${NAME}` and `{"type": "env"}` references; the caller reads the process environment, not this module. */
  env: Record<string, string | undefined>;
  /** Reads a `{"type": "file"}` reference; its content is trimmed. */
  readFile: (path: string) => string;
  /**
   * Default true. false checks the references without resolving them (each secret becomes a
   * `<secret ...>` placeholder): for offline tools such as simulate and diagram.
   */
  resolveSecrets?: boolean;
}

export interface ParseResult {
  /** Present only when there are no errors; deeply frozen. */
  config?: SagaConfig;
  errors: DefinitionIssue[];
  warnings: DefinitionIssue[];
}

/**
 * Validates a parsed saga.json (schema, then secrets, then references between ids) and
 * returns the resolved configuration or every problem found, each with its JSON path.
 * The input is not modified.
 */
export function parseSagaConfig(raw: unknown, opts: ParseOptions): ParseResult {
  const issues = new IssueList();
  if (!checkSchema(raw, issues)) return { errors: issues.errors, warnings: issues.warnings };

  const copy = structuredClone(raw) as Record<string, unknown>;
  resolveSecrets(copy, { env: opts.env, readFile: opts.readFile, resolve: opts.resolveSecrets ?? true }, issues);
  const config = copy as unknown as SagaConfig;
  normalizeBrokers(config, issues);
  checkReferences(config, issues);
  if (issues.errors.length > 0) return { errors: issues.errors, warnings: issues.warnings };
  return { config: deepFreeze(config), errors: [], warnings: issues.warnings };
}

/** Flow Manager accepts brokers as an array or a comma-separated string; sagaflow keeps an array. */
function normalizeBrokers(config: SagaConfig, issues: IssueList): void {
  config.communicationProtocols.forEach((protocol, i) => {
    if (protocol.type !== 'kafka') return;
    const value: unknown = protocol.configurations.brokers;
    const list: unknown[] = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [value];
    // A secret reference left in place could not be resolved and is already reported.
    if (!list.every((b): b is string => typeof b === 'string')) return;
    const brokers = list.flatMap((b) => b.split(',')).map((b) => b.trim()).filter((b) => b !== '');
    protocol.configurations.brokers = brokers;
    if (brokers.length === 0) {
      issues.error(['communicationProtocols', i, 'configurations', 'brokers'], 'lists no broker: give at least one host:port');
    }
  });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
