import { afterEach, describe, expect, it, vi } from 'vitest';
import { skipUnlessCi } from '../../support/prerequisites.ts';

describe('skipUnlessCi', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('fails under CI=true, naming what is missing', () => {
    vi.stubEnv('CI', 'true');
    const skip = vi.fn();
    expect(() => skipUnlessCi({ skip }, 'schemathesis is unavailable')).toThrow('SAGAFLOW_TEST_PREREQUISITE_MISSING: under CI this test must run, but schemathesis is unavailable');
    expect(skip).not.toHaveBeenCalled();
  });

  it('skips elsewhere, saying why, and does nothing when nothing is missing', () => {
    vi.stubEnv('CI', '');
    const skip = vi.fn();
    skipUnlessCi({ skip }, 'no broker to restart');
    expect(skip).toHaveBeenCalledWith('no broker to restart');
    vi.stubEnv('CI', 'true');
    skipUnlessCi({ skip }, undefined);
    expect(skip).toHaveBeenCalledTimes(1);
  });
});
