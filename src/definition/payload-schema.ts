import { Ajv } from 'ajv';
import type { AnySchemaObject, ErrorObject, ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

const addFormats = addFormatsModule.default;

/** Checks an event payload: the list of problems, empty when the payload is valid. Pure. */
export type PayloadValidator = (payload: unknown) => string[];

export type PayloadSchemaCompilation = { ok: true; validate: PayloadValidator } | { ok: false; error: string };

// Keyed by the (frozen) schema object of a loaded definition, so validation at load and
// compileDefinition compile each schema once.
const cache = new WeakMap<object, PayloadSchemaCompilation>();

/**
 * Compiles a transition's payloadValidationSchema. The JSON Schema draft follows the schema's
 * `$schema` (2020-12, 2019-09, otherwise draft-07 as Flow Manager's ajv did). strict is off:
 * files written for Flow Manager may carry annotations such as `example` that ajv's strict
 * mode refuses. Each schema gets its own ajv instance so equal `$id`s in two transitions do
 * not collide.
 */
export function compilePayloadSchema(schema: Record<string, unknown>): PayloadSchemaCompilation {
  const cached = cache.get(schema);
  if (cached !== undefined) return cached;
  let result: PayloadSchemaCompilation;
  try {
    const validateFn = newAjv(schema.$schema).compile(schema as AnySchemaObject);
    result = { ok: true, validate: (payload) => runValidator(validateFn, payload) };
  } catch (error) {
    result = { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
  cache.set(schema, result);
  return result;
}

function newAjv(draft: unknown): Ajv {
  const options = { allErrors: true, strict: false } as const;
  const dialect = typeof draft === 'string' ? draft : '';
  const ajv = dialect.includes('2020-12') ? new Ajv2020(options) : dialect.includes('2019-09') ? new Ajv2019(options) : new Ajv(options);
  addFormats(ajv);
  return ajv;
}

function runValidator(validateFn: ValidateFunction, payload: unknown): string[] {
  if (validateFn(payload)) return [];
  return (validateFn.errors ?? []).map(describeError);
}

function describeError(error: ErrorObject): string {
  const where = error.instancePath
    .split('/')
    .slice(1)
    .map((part) => (/^\d+$/.test(part) ? `[${part}]` : `.${part.replaceAll('~1', '/').replaceAll('~0', '~')}`))
    .join('');
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'additionalProperties') return `payload${where} has unknown property "${String(params.additionalProperty)}"`;
  if (error.keyword === 'required') return `payload${where} is missing required property "${String(params.missingProperty)}"`;
  return `payload${where} ${error.message ?? `fails "${error.keyword}"`}`;
}
