import type { KnownErrorCode } from '../errors.ts';

/** One problem found in a saga definition: where (JSON path) and what to do about it. */
export interface DefinitionIssue {
  /** e.g. `machineDefinition.states[2].outgoingTransitions[0].targetState`; `(root)` for the whole file. */
  path: string;
  message: string;
  /**
   * Set when a more specific catalogued code applies (SAGAFLOW_HOOK_INVALID,
   * SAGAFLOW_SECRET_UNRESOLVED), so callers can branch on it inside a
   * SAGAFLOW_DEFINITION_INVALID error.
   */
  code?: string;
}

export type PathSegment = string | number;

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Renders path segments the way a JavaScript reader would write them: `a.b[2]["x-y"]`. */
export function formatPath(segments: readonly PathSegment[]): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (IDENTIFIER.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out === '' ? '(root)' : out;
}

/** Collects issues while checks run, so that one pass reports everything at once. */
export class IssueList {
  readonly errors: DefinitionIssue[] = [];
  readonly warnings: DefinitionIssue[] = [];

  error(path: readonly PathSegment[], message: string, code?: KnownErrorCode): void {
    const issue: DefinitionIssue = { path: formatPath(path), message };
    if (code !== undefined) issue.code = code;
    this.errors.push(issue);
  }

  warn(path: readonly PathSegment[], message: string): void {
    this.warnings.push({ path: formatPath(path), message });
  }
}

/** `a, b, c` with quotes, for "use one of ..." hints; long lists are cut. */
export function quoteList(values: readonly unknown[], max = 10): string {
  const shown = values.slice(0, max).map((v) => JSON.stringify(v));
  if (values.length > max) shown.push(`... (${values.length - max} more)`);
  return shown.length === 0 ? '(none)' : shown.join(', ');
}
