// Kubernetes JSON schemas in the layout kubeconform reads (what yannh/kubernetes-json-schema
// publishes, made here from sources the package registries serve): one self-contained file per
// kind and API version, `<kind>[-<group>]-<version>.json` in `v<k8s version>-standalone-strict/`.
// Sources: the OpenAPI v2 document of the Kubernetes API (api/openapi-spec/swagger.json inside
// the k8s.io/kubernetes Go module) and CustomResourceDefinitions' openAPIV3Schema.
// "strict" is what `kubeconform -strict` relies on: every object that lists its properties
// refuses others, as the API server's strict field validation does.

type Json = Record<string, unknown>;

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * kubeconform's file name for a kind: the kind in lower case, the first label of the group
 * (none for the core group), the version. `apps/v1 StatefulSet` -> `statefulset-apps-v1.json`,
 * `v1 Service` -> `service-v1.json`, `monitoring.coreos.com/v1` -> `...-monitoring-v1.json`.
 */
export function schemaFileName(gvk: GroupVersionKind): string {
  const group = gvk.group === '' ? '' : `-${gvk.group.split('.')[0] ?? ''}`;
  return `${gvk.kind}${group}-${gvk.version}.json`.toLowerCase();
}

export function apiVersionOf(gvk: GroupVersionKind): string {
  return gvk.group === '' ? gvk.version : `${gvk.group}/${gvk.version}`;
}

const intOrString = (): Json => ({ oneOf: [{ type: 'string' }, { type: 'integer' }] });

/**
 * One schema node made self-contained and strict: `$ref`s inlined (a reference back into a
 * definition being expanded, such as JSONSchemaProps' own properties, becomes `{}`: any
 * value), int-or-string fields accept both, descriptions and vendor extensions dropped
 * (kubeconform ignores them; they triple the size), and `additionalProperties: false` on
 * every object that lists its properties and says nothing about others.
 */
function expand(node: unknown, definitions: Json, expanding: readonly string[]): unknown {
  if (!isObject(node)) return node;
  const ref = node.$ref;
  if (typeof ref === 'string') {
    const name = ref.replace(/^#\/definitions\//, '');
    const target = definitions[name];
    if (!isObject(target)) throw new Error(`unresolvable $ref ${ref}`);
    if (expanding.includes(name)) return {};
    return expand(target, definitions, [...expanding, name]);
  }
  if (node.format === 'int-or-string' || node['x-kubernetes-int-or-string'] === true) return intOrString();
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'description' || key.startsWith('x-kubernetes-')) continue;
    if (key === 'properties' && isObject(value)) {
      out.properties = Object.fromEntries(Object.entries(value).map(([name, schema]) => [name, expand(schema, definitions, expanding)]));
    } else if ((key === 'items' || key === 'additionalProperties' || key === 'not') && isObject(value)) {
      out[key] = expand(value, definitions, expanding);
    } else if ((key === 'allOf' || key === 'anyOf' || key === 'oneOf') && Array.isArray(value)) {
      out[key] = value.map((schema) => expand(schema, definitions, expanding));
    } else {
      out[key] = value;
    }
  }
  if (isObject(out.properties) && !('additionalProperties' in out)) out.additionalProperties = false;
  return out;
}

/** apiVersion and kind may only be the ones the file is for. */
function pinTypeMeta(schema: Json, gvk: GroupVersionKind): Json {
  const properties = isObject(schema.properties) ? schema.properties : undefined;
  if (!properties) return schema;
  const pinned: Json = { ...properties };
  if (isObject(properties.apiVersion)) pinned.apiVersion = { ...properties.apiVersion, enum: [apiVersionOf(gvk)] };
  if (isObject(properties.kind)) pinned.kind = { ...properties.kind, enum: [gvk.kind] };
  return { ...schema, properties: pinned };
}

/** File name -> schema for every kind of an OpenAPI v2 document of the Kubernetes API. */
export function schemasFromOpenApi(document: unknown): Map<string, Json> {
  if (!isObject(document) || !isObject(document.definitions)) throw new Error('not an OpenAPI v2 document: no "definitions"');
  const definitions = document.definitions;
  // Quantity (cpu: 1, memory: 1Gi) is a string in the document but the API decodes numbers too.
  const quantity = 'io.k8s.apimachinery.pkg.api.resource.Quantity';
  const patched: Json = { ...definitions };
  if (isObject(definitions[quantity])) patched[quantity] = { oneOf: [{ type: 'string' }, { type: 'number' }] };
  const out = new Map<string, Json>();
  for (const [name, definition] of Object.entries(patched)) {
    if (!isObject(definition)) continue;
    const gvks = definition['x-kubernetes-group-version-kind'];
    if (!Array.isArray(gvks)) continue;
    const expanded = expand(definition, patched, [name]) as Json;
    for (const gvk of gvks as GroupVersionKind[]) {
      const file = schemaFileName(gvk);
      // The same kind can be listed under several definitions (an internal alias); the first wins.
      if (!out.has(file)) out.set(file, { $schema: 'http://json-schema.org/schema#', type: 'object', ...pinTypeMeta(expanded, gvk) });
    }
  }
  return out;
}

/** File name -> schema for each served version of a CustomResourceDefinition. */
export function schemasFromCrd(crd: unknown): Map<string, Json> {
  const out = new Map<string, Json>();
  if (!isObject(crd) || crd.kind !== 'CustomResourceDefinition' || !isObject(crd.spec)) throw new Error('not a CustomResourceDefinition');
  const spec = crd.spec;
  const group = typeof spec.group === 'string' ? spec.group : '';
  const kind = isObject(spec.names) && typeof spec.names.kind === 'string' ? spec.names.kind : '';
  for (const version of Array.isArray(spec.versions) ? spec.versions : []) {
    if (!isObject(version) || typeof version.name !== 'string' || !isObject(version.schema)) continue;
    const root = version.schema.openAPIV3Schema;
    if (!isObject(root)) continue;
    const gvk = { group, version: version.name, kind };
    out.set(schemaFileName(gvk), { $schema: 'http://json-schema.org/schema#', ...pinTypeMeta(expand(root, {}, []) as Json, gvk) });
  }
  return out;
}
