import { accessSync, constants, readdirSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { StackError } from './errors.ts';

/** Absolute path of an executable found on PATH, or undefined. */
export function findOnPath(name: string, pathVariable = process.env.PATH ?? ''): string | undefined {
  for (const dir of pathVariable.split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

export interface Jdk {
  readonly home: string;
  readonly major: number;
  readonly java: string;
}

function majorOf(home: string): number | undefined {
  try {
    const release = readFileSync(path.join(home, 'release'), 'utf8');
    const match = /^JAVA_VERSION="(\d+)/m.exec(release);
    return match?.[1] === undefined ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

function jdkAt(home: string): Jdk | undefined {
  const java = path.join(home, 'bin', 'java');
  const major = majorOf(home);
  try {
    accessSync(java, constants.X_OK);
  } catch {
    return undefined;
  }
  return major === undefined ? undefined : { home, major, java };
}

/** Every JDK this machine has: JAVA_HOME, the `java` on PATH, and the usual install folders. */
export function findJdks(): Jdk[] {
  const homes = new Set<string>();
  if (process.env.JAVA_HOME) homes.add(path.resolve(process.env.JAVA_HOME));
  const onPath = findOnPath('java');
  if (onPath) homes.add(path.dirname(path.dirname(realpathSync(onPath))));
  for (const root of ['/usr/lib/jvm', '/opt/java', '/usr/local/java']) {
    try {
      for (const entry of readdirSync(root)) homes.add(realpathSync(path.join(root, entry)));
    } catch {
      // folder absent
    }
  }
  const byHome = new Map<string, Jdk>();
  for (const home of homes) {
    const jdk = jdkAt(home);
    if (jdk) byHome.set(jdk.home, jdk);
  }
  return [...byHome.values()];
}

/**
 * Picks a JDK for a service: at least `min`, preferring the lowest version not above
 * `preferMax` (the newest the service is known to support), else the newest available.
 */
export function pickJdk(service: string, min: number, preferMax: number): Jdk {
  const jdks = findJdks().filter((jdk) => jdk.major >= min);
  const supported = jdks.filter((jdk) => jdk.major <= preferMax).sort((a, b) => a.major - b.major);
  const chosen = supported[0] ?? jdks.sort((a, b) => b.major - a.major)[0];
  if (!chosen) {
    const found = findJdks().map((jdk) => `${jdk.major} at ${jdk.home}`).join(', ') || 'none';
    throw new StackError(
      'SAGAFLOW_STACK_JAVA_MISSING',
      `${service} needs Java ${min} or newer; JDKs found: ${found}`,
      `install one (e.g. apt-get install openjdk-${Math.max(min, 17)}-jdk-headless, or a Temurin ${min}+) or point JAVA_HOME at it`,
    );
  }
  return chosen;
}

export function requireMaven(): string {
  const mvn = findOnPath('mvn');
  if (!mvn) {
    throw new StackError('SAGAFLOW_STACK_MAVEN_MISSING', 'Maven (mvn) is not on PATH; it resolves Kafka and Apicurio from Maven Central', 'install it (apt-get install maven) and run again');
  }
  return mvn;
}

export function requireCargo(): string {
  const home = process.env.HOME ?? '/root';
  const cargo = findOnPath('cargo') ?? [path.join(home, '.cargo', 'bin', 'cargo')].find((candidate) => {
    try {
      accessSync(candidate, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (!cargo) {
    throw new StackError(
      'SAGAFLOW_STACK_CARGO_MISSING',
      'cargo is not on PATH; it builds SecantusDB (the MongoDB-compatible server) from crates.io, with a C compiler and cmake for WiredTiger',
      'install Rust 1.95 or newer with rustup (plus gcc and cmake: apt-get install build-essential cmake) and put cargo on PATH',
    );
  }
  return cargo;
}
