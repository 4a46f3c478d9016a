import { describe, expect, it } from 'vitest';

describe('runtime', () => {
  it('runs on Node 22 or newer (the system Node 20 is past end of life)', () => {
    const major = Number(process.versions.node.split('.')[0]);
    expect(major).toBeGreaterThanOrEqual(22);
  });
});
