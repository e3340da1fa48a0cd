/**
 * A small seeded PRNG (mulberry32) and the few draws the nemesis and the workload need, so
 * that a run's fault schedule is a function of its seed.
 */

export type Random = () => number

/** mulberry32: 32 bits of state, fast, and good enough for schedules. Returns [0, 1). */
export function mulberry32(seed: number): Random {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A generator for a named purpose, independent of the others drawn from the same seed. */
export function derive(seed: number, purpose: string): Random {
  let h = seed >>> 0
  for (let i = 0; i < purpose.length; i++) h = Math.imul(h ^ purpose.charCodeAt(i), 0x9e3779b1) >>> 0
  return mulberry32(h)
}

/** An integer in [min, max]. */
export function between(random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1))
}

export function pick<T>(random: Random, items: readonly T[]): T {
  if (items.length === 0) throw new Error('pick from an empty list')
  return items[Math.floor(random() * items.length)]
}

/** A shuffled copy (Fisher-Yates). */
export function shuffle<T>(random: Random, items: readonly T[]): T[] {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}

/** A random 31-bit seed, for runs not given one. */
export function newSeed(): number {
  return Math.floor(Math.random() * 0x7fffffff) + 1
}
