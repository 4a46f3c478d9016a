import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { createSchemaRegistry } from '../../src/kafka/serdes/create.ts';
import { registerCleanup } from './cleanup.ts';
import { uniqueName } from './names.ts';
import { services } from './services.ts';

/** The client sagaflow builds (request timeout included), for the test registry. */
export function schemaRegistry(): SchemaRegistry {
  return createSchemaRegistry({ url: services().schemaRegistryUrl });
}

async function deleteSubject(subject: string, permanent: boolean): Promise<void> {
  const url = `${services().schemaRegistryUrl}/subjects/${encodeURIComponent(subject)}${permanent ? '?permanent=true' : ''}`;
  const response = await fetch(url, { method: 'DELETE' });
  await response.arrayBuffer();
  // 404: never registered (or already gone); anything else unexpected is worth a failure.
  if (!response.ok && response.status !== 404) throw new Error(`DELETE ${url} answered ${response.status}`);
}

/**
 * A TopicNameStrategy subject (`<topic>-value`) for a unique topic name; the subject is deleted
 * (soft, then permanently, as the Confluent API requires) after the test file.
 */
export function uniqueSubject(prefix = 'subject'): { topic: string; subject: string } {
  const topic = uniqueName(prefix);
  const subject = `${topic}-value`;
  registerCleanup(async () => {
    await deleteSubject(subject, false);
    await deleteSubject(subject, true);
  });
  return { topic, subject };
}
