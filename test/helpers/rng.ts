// A small seeded generator for the generated test inputs, so that a failure can be replayed.
export function rng(seed: number): () => number {
  return () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
}
