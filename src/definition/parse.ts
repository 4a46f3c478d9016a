import { IssueList } from './issues.ts';
import type { DefinitionIssue, PathSegment } from './issues.ts';
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
  // Copying, freezing and compiling payload schemas all recurse: a file nested thousands of
  // levels deep (a generated payloadValidationSchema, say) overflowed the stack and `sagaflow
  // start` ended with "Maximum call stack size exceeded" and no path.
  const tooDeep = deepestPath(raw, MAX_CONFIG_DEPTH);
  if (tooDeep !== undefined) {
    issues.error(tooDeep, `nests objects and arrays more than ${MAX_CONFIG_DEPTH} levels deep below this point; flatten it (a saga.json needs a few levels)`);
    return { errors: issues.errors, warnings: issues.warnings };
  }
  if (!checkSchema(raw, issues)) return { errors: issues.errors, warnings: issues.warnings };

  const copy = structuredClone(raw) as Record<string, unknown>;
  resolveSecrets(copy, { env: opts.env, readFile: opts.readFile, resolve: opts.resolveSecrets ?? true }, issues);
  const config = copy as unknown as SagaConfig;
  normalizeBrokers(config, issues);
  checkReferences(config, issues);
  if (issues.errors.length > 0) return { errors: issues.errors, warnings: issues.warnings };
  return { config: deepFreeze(config), errors: [], warnings: issues.warnings };
}

/** Deepest nesting of objects and arrays a saga.json may have. */
export const MAX_CONFIG_DEPTH = 128;

/**
 * Where `value` first nests deeper than `max` levels, as the path of the (at most 6 levels
 * deep) container it happens under; undefined when it does not. Iterative: any depth is safe.
 */
function deepestPath(value: unknown, max: number): PathSegment[] | undefined {
  const stack: { node: unknown; path: PathSegment[]; depth: number }[] = [{ node: value, path: [], depth: 0 }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { node, path, depth } = item;
    if (typeof node !== 'object' || node === null) continue;
    if (depth + 1 > max) return path.slice(0, 6);
    const entries: [PathSegment, unknown][] = Array.isArray(node) ? node.map((v, i) => [i, v]) : Object.entries(node);
    for (const [key, child] of entries) {
      if (typeof child === 'object' && child !== null) stack.push({ node: child, path: path.length < 6 ? [...path, key] : path, depth: depth + 1 });
    }
  }
  return undefined;
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
