import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import mergeWith from 'lodash.mergewith';

// Flow Manager implements settings.deepMergeMetadata with lodash's mergeWith: objects merge key
// by key, arrays index by index ({list: [1, 2]} + {list: [3]} -> {list: [3, 2]}), a
// customizer (the hook) may decide any pair. sagaflow uses lodash itself for that, on the host
// when there is no customizer and inside the hook's sandbox when there is one, so both give
// lodash's answer and nothing else.

/**
 * `metadata` deep-merged with `payload` the lodash way; neither input is modified. The result is
 * passed through JSON, as it will be stored: lodash may leave non-JSON shapes behind (an object
 * merged into an array keeps its keys on the array; JSON drops them).
 */
export function lodashDeepMerge(metadata: Record<string, unknown>, payload: Record<string, unknown>): Record<string, unknown> {
  const merged: unknown = mergeWith({}, metadata, payload);
  return JSON.parse(JSON.stringify(merged)) as Record<string, unknown>;
}

let source: string | undefined;

/**
 * A script whose completion value is lodash's mergeWith, built from the installed
 * lodash.mergewith package, for evaluation inside a hook's sandbox.
 */
export function lodashMergeWithScript(): string {
  if (source === undefined) {
    const file = createRequire(import.meta.url).resolve('lodash.mergewith');
    // lodash's CommonJS wrapper expects `module` and `exports`; the sandbox has neither.
    source = `(function () { var module = { exports: {} }; var exports = module.exports;\n${readFileSync(file, 'utf8')}\n; return module.exports; })()`;
  }
  return source;
}
