/**
 * mulberry32: a small seeded PRNG, good enough for reproducible ids and test data (not for
 * anything secret). Returns floats in [0, 1).
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` lowercase hex characters drawn from `random`. */
export function randomHex(random: () => number, n: number): string {
  let out = '';
  for (let i = 0; i < n; i += 1) out += Math.floor(random() * 16).toString(16);
  return out;
}
