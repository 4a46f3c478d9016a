import type { IssueList, PathSegment } from './issues.ts';

/**
 * Where secret references are resolved from. Resolution never reads the process environment
 * or files itself: the caller passes both, so tests and tools stay in control.
 */
export interface SecretSources {
  env: Record<string, string | undefined>;
  readFile: (path: string) => string;
  /**
   * false = check the references but do not resolve them; each becomes a `<secret ...>`
   * placeholder. For offline tools (simulate, diagram) that never connect anywhere.
   */
  resolve: boolean;
}

/** A whole-string environment reference: `"${KAFKA_PASSWORD}"`. Partial strings are literal. */
const ENV_STRING = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Replaces, in place, every secret reference at a secret-bearing position of a schema-valid
 * configuration by its value. Issues name the path and the variable or file, never a value.
 */
export function resolveSecrets(config: Json, sources: SecretSources, issues: IssueList): void {
  const protocols = Array.isArray(config.communicationProtocols) ? config.communicationProtocols : [];
  protocols.forEach((protocol: unknown, i) => {
    if (!isObject(protocol) || !isObject(protocol.configurations)) return;
    const conf = protocol.configurations;
    const base: PathSegment[] = ['communicationProtocols', i, 'configurations'];
    if (protocol.type === 'kafka') {
      if (Array.isArray(conf.brokers)) resolveArray(conf.brokers, [...base, 'brokers'], sources, issues);
      else resolveField(conf, 'brokers', base, sources, issues);
      const auth = conf.authenticationProperties;
      if (isObject(auth)) {
        const authPath = [...base, 'authenticationProperties'];
        if (isObject(auth.sasl)) {
          resolveField(auth.sasl, 'username', [...authPath, 'sasl'], sources, issues);
          resolveField(auth.sasl, 'password', [...authPath, 'sasl'], sources, issues);
        }
        if (isObject(auth.ssl)) {
          const ssl = auth.ssl;
          for (const key of ['ca', 'cert', 'key']) {
            const material = ssl[key];
            if (Array.isArray(material)) resolveArray(material, [...authPath, 'ssl', key], sources, issues);
            else resolveField(ssl, key, [...authPath, 'ssl'], sources, issues);
          }
          resolveField(ssl, 'passphrase', [...authPath, 'ssl'], sources, issues);
        }
      }
      if (isObject(conf.schemaRegistry)) {
        const registryPath = [...base, 'schemaRegistry'];
        resolveField(conf.schemaRegistry, 'url', registryPath, sources, issues);
        const registryAuth = conf.schemaRegistry.auth;
        if (isObject(registryAuth)) {
          resolveField(registryAuth, 'username', [...registryPath, 'auth'], sources, issues);
          resolveField(registryAuth, 'password', [...registryPath, 'auth'], sources, issues);
        }
      }
    } else {
      resolveHeaders(conf, base, sources, issues);
    }
  });

  const persistency = config.persistencyManagement;
  if (isObject(persistency) && isObject(persistency.configurations)) {
    const base: PathSegment[] = ['persistencyManagement', 'configurations'];
    if (persistency.type === 'mongo') resolveField(persistency.configurations, 'connectionUri', base, sources, issues);
    else resolveHeaders(persistency.configurations, base, sources, issues);
  }
}

function resolveHeaders(conf: Json, base: readonly PathSegment[], sources: SecretSources, issues: IssueList): void {
  if (!isObject(conf.headers)) return;
  const headers = conf.headers;
  for (const name of Object.keys(headers)) resolveField(headers, name, [...base, 'headers'], sources, issues);
}

function resolveArray(items: unknown[], path: readonly PathSegment[], sources: SecretSources, issues: IssueList): void {
  for (let i = 0; i < items.length; i += 1) {
    const value = resolveValue(items[i], [...path, i], sources, issues);
    if (value !== undefined) items[i] = value;
  }
}

function resolveField(holder: Json, key: string, base: readonly PathSegment[], sources: SecretSources, issues: IssueList): void {
  if (!(key in holder)) return;
  const value = resolveValue(holder[key], [...base, key], sources, issues);
  if (value !== undefined) holder[key] = value;
}

const PLACEHOLDER = /^<secret (?:env|file):[^]*>$/;

function placeholder(reference: string): string {
  return `<secret ${reference}>`;
}

/** Whether a string is what a secret reference became when secrets were not resolved. */
export function isSecretPlaceholder(value: string): boolean {
  return PLACEHOLDER.test(value);
}

/** The resolved string, or undefined when the value is not a reference or cannot be resolved. */
function resolveValue(value: unknown, path: readonly PathSegment[], sources: SecretSources, issues: IssueList): string | undefined {
  let envKey: string | undefined;
  let file: string | undefined;
  if (typeof value === 'string') {
    envKey = ENV_STRING.exec(value)?.[1];
    if (envKey === undefined) return undefined;
  } else if (isObject(value) && value.type === 'env' && typeof value.key === 'string') {
    envKey = value.key;
  } else if (isObject(value) && value.type === 'file' && typeof value.path === 'string') {
    file = value.path;
  } else {
    return undefined;
  }

  if (envKey !== undefined) {
    if (!sources.resolve) return placeholder(`env:${envKey}`);
    const resolved = sources.env[envKey];
    if (resolved === undefined) {
      issues.error(path, `environment variable ${envKey} is not set: set it, or write the value here instead of the reference`, 'SAGAFLOW_SECRET_UNRESOLVED');
      return undefined;
    }
    return resolved;
  }
  const filePath = file ?? '';
  if (!sources.resolve) return placeholder(`file:${filePath}`);
  try {
    return sources.readFile(filePath).trim();
  } catch (error) {
    const code = typeof error === 'object' && error !== null && 'code' in error ? ` (${String(error.code)})` : '';
    issues.error(path, `cannot read secret file "${filePath}"${code}: mount the file or fix the path`, 'SAGAFLOW_SECRET_UNRESOLVED');
    return undefined;
  }
}
