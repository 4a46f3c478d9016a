import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { quoteList } from './issues.ts';
import { joinMessage, joinSchemaError } from './parallel.ts';
import type { IssueList, PathSegment } from './issues.ts';

/** Location of the JSON Schema of saga.json; read from the package, from src/ and dist/ alike. */
export const SAGA_DEFINITION_SCHEMA_URL = new URL('../../schemas/saga-definition.schema.json', import.meta.url);

let compiled: ValidateFunction | undefined;

function schemaValidator(): ValidateFunction {
  if (compiled === undefined) {
    const schema = JSON.parse(readFileSync(SAGA_DEFINITION_SCHEMA_URL, 'utf8')) as Record<string, unknown>;
    // verbose: the error formatter needs parentSchema to list the allowed property names.
    const ajv = new Ajv({ allErrors: true, allowUnionTypes: true, strict: true, verbose: true });
    compiled = ajv.compile(schema);
  }
  return compiled;
}

/**
 * Checks the raw file content against the saga.json schema. Unknown properties are warnings,
 * not errors: Flow Manager ignored them, and refusing them would break files that load there.
 */
export function checkSchema(raw: unknown, issues: IssueList): boolean {
  const validate = schemaValidator();
  if (validate(raw)) return true;
  const seen = new Set<string>();
  let failed = false;
  for (const error of validate.errors ?? []) {
    const formatted = formatSchemaError(error, raw);
    if (formatted === undefined) continue;
    const key = `${formatted.warning ? 'w' : 'e'}|${formatted.path.join('/')}|${formatted.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (formatted.warning) issues.warn(formatted.path, formatted.message);
    else {
      issues.error(formatted.path, formatted.message);
      failed = true;
    }
  }
  return !failed;
}

interface FormattedError {
  path: PathSegment[];
  message: string;
  warning: boolean;
}

const REQUIRED_HINTS: Record<string, string> = {
  machineDefinition: 'add the state machine: {"initialState", "states": [...]}',
  communicationProtocols: 'add the list of channels, [] when the saga sends no commands',
  persistencyManagement: 'add it, {} when sagaflow keeps the sagas itself',
  initialState: 'set it to the id of the state every new saga starts in',
  states: 'list the states of the machine',
  id: 'give it a unique id',
  isFinal: 'set it to true or false',
  channel: 'set it to the id of one of communicationProtocols',
  label: 'set it to the command or event label',
  inputEvent: 'set it to the label of the event that triggers the transition',
  targetState: 'set it to the id of the state the transition leads to',
  brokers: 'list the Kafka bootstrap servers, e.g. ["kafka:9092"]',
  endpoint: 'set the host name of the service to call',
  key: 'name the environment variable that holds the secret',
  path: 'name the file that holds the secret',
  sagaId: 'set it to the JSON Pointer of the saga id in the event value, e.g. "/messagePayload/orderId"',
  content: 'give the hook\'s ES module, e.g. "export default ({ saga }) => ({ payload: saga.metadata })"',
};

const SECRET_HINT = 'a secret reference ({"type": "env", "key": "NAME"} or {"type": "file", "path": "..."})';
const TYPE_NAMES: Record<string, string> = { array: 'an array', string: 'a string', object: SECRET_HINT };

/** Schemas that accept a secret reference say so with `then: {$ref: secretRef}`. */
function acceptsSecretRef(schema: unknown): boolean {
  const then = (schema as { then?: { $ref?: unknown } } | undefined)?.then;
  return then?.$ref === '#/definitions/secretRef';
}

/** One message for a bad duration, instead of one per branch of its oneOf. */
function durationMessage(data: unknown): string {
  const found = typeof data === 'string' && data.length <= 40 ? JSON.stringify(data) : jsonType(data);
  return `must be a duration: a whole number of milliseconds (>= 0) or a string with a unit ms, s, m, h or d, e.g. "30s", "1.5h" (found ${found})`;
}

function formatSchemaError(error: ErrorObject, raw: unknown): FormattedError | undefined {
  const path = instanceSegments(error.instancePath, raw);
  const params = error.params as Record<string, unknown>;
  if (error.schemaPath.startsWith('#/definitions/duration/')) return { path, message: durationMessage(error.data), warning: false };
  const join = joinSchemaError(error.schemaPath);
  if (join === 'oneOf') return { path, message: joinMessage(error.data, jsonType(error.data)), warning: false };
  if (join === 'branch') return undefined;
  switch (error.keyword) {
    case 'if':
      // The failing `then` branch reports its own, more precise errors.
      return undefined;
    case 'required': {
      const missing = String(params.missingProperty);
      const hint = REQUIRED_HINTS[missing];
      return { path: [...path, missing], message: hint === undefined ? 'is required' : `is required: ${hint}`, warning: false };
    }
    case 'dependencies': {
      const missing = String(params.missingProperty);
      return { path: [...path, missing], message: `is required when "${String(params.property)}" is set`, warning: false };
    }
    case 'additionalProperties': {
      const extra = String(params.additionalProperty);
      const parent = error.parentSchema as { properties?: Record<string, unknown> } | undefined;
      const allowed = Object.keys(parent?.properties ?? {});
      return {
        path: [...path, extra],
        message: `unknown property, ignored: check its spelling (known here: ${allowed.join(', ')})`,
        warning: true,
      };
    }
    case 'type': {
      const found = jsonType(error.data);
      if (acceptsSecretRef(error.parentSchema) && Array.isArray(params.type)) {
        const names = params.type.map((t) => TYPE_NAMES[String(t)] ?? String(t));
        const expectedText = names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names.at(-1) ?? ''}` : names.join('');
        return { path, message: `must be ${expectedText} (found ${found})`, warning: false };
      }
      const expected = Array.isArray(params.type) ? params.type.join(' or ') : String(params.type);
      return { path, message: `must be ${withArticle(expected)} (found ${found})`, warning: false };
    }
    case 'enum': {
      const allowed = (params.allowedValues as unknown[] | undefined) ?? [];
      const data = error.data;
      const found = typeof data === 'string' && data.length <= 40 ? JSON.stringify(data) : jsonType(data);
      return { path, message: `must be one of ${quoteList(allowed)} (found ${found})`, warning: false };
    }
    case 'minLength':
      return { path, message: params.limit === 1 ? 'must not be empty' : `must have at least ${String(params.limit)} characters`, warning: false };
    case 'minItems':
      return { path, message: `must list at least ${String(params.limit)} item${params.limit === 1 ? '' : 's'}`, warning: false };
    case 'minimum':
    case 'maximum':
      return { path, message: `must be ${String(params.comparison)} ${String(params.limit)}`, warning: false };
    default:
      return { path, message: error.message ?? `fails the "${error.keyword}" rule of the schema`, warning: false };
  }
}

function withArticle(type: string): string {
  if (type.includes(' or ')) return type;
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

export function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** Ajv reports JSON Pointers; walking the data tells array indexes from numeric-looking keys. */
function instanceSegments(pointer: string, data: unknown): PathSegment[] {
  if (pointer === '') return [];
  const segments: PathSegment[] = [];
  let node: unknown = data;
  for (const escaped of pointer.slice(1).split('/')) {
    const part = escaped.replaceAll('~1', '/').replaceAll('~0', '~');
    if (Array.isArray(node)) {
      const index = Number(part);
      segments.push(index);
      node = node[index];
    } else {
      segments.push(part);
      node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[part] : undefined;
    }
  }
  return segments;
}
