import { randomBytes } from 'node:crypto';

/**
 * A name no other test run uses: `<prefix>-<time>-<random>`, made of characters that are valid
 * in Kafka topic and group names and in MongoDB collection names.
 */
export function uniqueName(prefix = 'test'): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}
