import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { schemaFileName, schemasFromCrd, schemasFromOpenApi } from '../../../scripts/deploy-tools/k8s-schemas.ts';

/** A slice of the Kubernetes OpenAPI v2 document, shaped like api/openapi-spec/swagger.json. */
const openApi = {
  swagger: '2.0',
  definitions: {
    'io.k8s.api.apps.v1.Widget': {
      description: 'A widget.',
      type: 'object',
      properties: {
        apiVersion: { type: 'string', description: 'APIVersion' },
        kind: { type: 'string' },
        metadata: { $ref: '#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' },
        spec: { $ref: '#/definitions/io.k8s.api.apps.v1.WidgetSpec' },
      },
      'x-kubernetes-group-version-kind': [{ group: 'apps', version: 'v1', kind: 'Widget' }],
    },
    'io.k8s.api.apps.v1.WidgetSpec': {
      type: 'object',
      required: ['port'],
      properties: {
        port: { $ref: '#/definitions/io.k8s.apimachinery.pkg.util.intstr.IntOrString' },
        memory: { $ref: '#/definitions/io.k8s.apimachinery.pkg.api.resource.Quantity' },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
        children: { type: 'array', items: { $ref: '#/definitions/io.k8s.api.apps.v1.WidgetSpec' } },
      },
      'x-kubernetes-map-type': 'atomic',
    },
    'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta': {
      type: 'object',
      properties: { name: { type: 'string' }, annotations: { type: 'object', additionalProperties: { type: 'string' } } },
    },
    'io.k8s.apimachinery.pkg.util.intstr.IntOrString': { type: 'string', format: 'int-or-string' },
    'io.k8s.apimachinery.pkg.api.resource.Quantity': { type: 'string' },
    'io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions': {
      type: 'object',
      properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, dryRun: { type: 'array', items: { type: 'string' } } },
      'x-kubernetes-group-version-kind': [
        { group: '', version: 'v1', kind: 'DeleteOptions' },
        { group: 'policy', version: 'v1', kind: 'DeleteOptions' },
      ],
    },
  },
};

const ajv = new Ajv({ strict: false, allErrors: true });

function validator(schemas: Map<string, Record<string, unknown>>, file: string) {
  const schema = schemas.get(file);
  if (!schema) throw new Error(`no ${file} among ${[...schemas.keys()].join(', ')}`);
  const { $schema: _ignored, ...body } = schema;
  return ajv.compile(body);
}

describe('schemaFileName (kubeconform layout)', () => {
  it('names core, grouped and dotted groups the way kubeconform looks them up', () => {
    expect(schemaFileName({ group: '', version: 'v1', kind: 'Service' })).toBe('service-v1.json');
    expect(schemaFileName({ group: 'apps', version: 'v1', kind: 'StatefulSet' })).toBe('statefulset-apps-v1.json');
    expect(schemaFileName({ group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'RoleBinding' })).toBe('rolebinding-rbac-v1.json');
    expect(schemaFileName({ group: 'monitoring.coreos.com', version: 'v1', kind: 'ServiceMonitor' })).toBe('servicemonitor-monitoring-v1.json');
  });
});

describe('schemasFromOpenApi', () => {
  const schemas = schemasFromOpenApi(openApi);

  it('writes one file per kind and API version, none for definitions that are not kinds', () => {
    expect([...schemas.keys()].sort()).toEqual(['deleteoptions-policy-v1.json', 'deleteoptions-v1.json', 'widget-apps-v1.json']);
  });

  it('inlines references, drops descriptions and vendor extensions', () => {
    const text = JSON.stringify(schemas.get('widget-apps-v1.json'));
    expect(text).not.toContain('$ref');
    expect(text).not.toContain('description');
    expect(text).not.toContain('x-kubernetes');
  });

  it('accepts a valid object, with int-or-string and quantities as strings or numbers', () => {
    const validate = validator(schemas, 'widget-apps-v1.json');
    const widget = { apiVersion: 'apps/v1', kind: 'Widget', metadata: { name: 'w' }, spec: { port: 'http', memory: '1Gi', children: [{ port: 80, memory: 2 }] } };
    expect(validate(widget), JSON.stringify(validate.errors)).toBe(true);
  });

  it('refuses unknown fields at any depth, as kubeconform -strict must', () => {
    const validate = validator(schemas, 'widget-apps-v1.json');
    expect(validate({ apiVersion: 'apps/v1', kind: 'Widget', spec: { port: 1, prot: 2 } })).toBe(false);
    expect(validate({ apiVersion: 'apps/v1', kind: 'Widget', metadata: { nmae: 'w' } })).toBe(false);
    expect(validate({ apiVersion: 'apps/v1', kind: 'Widget', spec: { port: 1, labels: { a: 'b' }, extra: true } })).toBe(false);
  });

  it('keeps maps open: additionalProperties given as a schema is not replaced', () => {
    const validate = validator(schemas, 'widget-apps-v1.json');
    expect(validate({ apiVersion: 'apps/v1', kind: 'Widget', spec: { port: 1, labels: { any: 'thing' } } })).toBe(true);
    expect(validate({ apiVersion: 'apps/v1', kind: 'Widget', spec: { port: 1, labels: { any: 3 } } })).toBe(false);
  });

  it('pins apiVersion and kind to the file and keeps required fields', () => {
    const validate = validator(schemas, 'widget-apps-v1.json');
    expect(validate({ apiVersion: 'apps/v2', kind: 'Widget' })).toBe(false);
    expect(validate({ apiVersion: 'apps/v1', kind: 'Gadget' })).toBe(false);
    expect(validate({ apiVersion: 'apps/v1', kind: 'Widget', spec: { memory: '1Gi' } })).toBe(false);
    const policy = validator(schemas, 'deleteoptions-policy-v1.json');
    expect(policy({ apiVersion: 'policy/v1', kind: 'DeleteOptions' })).toBe(true);
    expect(policy({ apiVersion: 'v1', kind: 'DeleteOptions' })).toBe(false);
  });

  it('cuts a definition that contains itself (any value there) instead of recursing forever', () => {
    const spec = (schemas.get('widget-apps-v1.json') as { properties: { spec: { properties: { children: unknown } } } }).properties.spec;
    expect(spec.properties.children).toEqual({ type: 'array', items: {} });
  });

  it('refuses a document without definitions', () => {
    expect(() => schemasFromOpenApi({ openapi: '3.0.0' })).toThrow(/definitions/);
  });
});

describe('schemasFromCrd', () => {
  const crd = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    spec: {
      group: 'monitoring.coreos.com',
      names: { kind: 'ServiceMonitor' },
      versions: [
        {
          name: 'v1',
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: {
                  type: 'object',
                  properties: {
                    endpoints: { type: 'array', items: { type: 'object', properties: { port: { type: 'string' }, targetPort: { 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] } } } },
                    selector: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                  },
                },
              },
            },
          },
        },
      ],
    },
  };

  it('writes each version in kubeconform layout, strict below the root', () => {
    const schemas = schemasFromCrd(crd);
    expect([...schemas.keys()]).toEqual(['servicemonitor-monitoring-v1.json']);
    const validate = validator(schemas, 'servicemonitor-monitoring-v1.json');
    const ok = { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: { name: 'x', labels: {} }, spec: { endpoints: [{ port: 'http', targetPort: 3000 }], selector: { matchLabels: { a: 'b' } } } };
    expect(validate(ok), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...ok, spec: { endpoints: [{ prot: 'http' }] } })).toBe(false);
    expect(validate({ ...ok, kind: 'PodMonitor' })).toBe(false);
  });

  it('refuses what is not a CustomResourceDefinition', () => {
    expect(() => schemasFromCrd({ kind: 'ConfigMap' })).toThrow(/CustomResourceDefinition/);
  });
});
