// A small seeded PRNG: sfc32 (Chris Doty-Humphrey's Small Fast Counting generator, 128-bit
// state, passes PractRand), seeded through splitmix32 so that nearby seeds give unrelated
// streams. Written here because a dependency would be larger than the generator.

/** splitmix32: a 32-bit mixer, used to derive seeds. */
export function mix32(value: number): number {
  let z = (value + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** A deterministic stream of numbers for one purpose (arrivals, service times, spawns). */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** `seed` and `stream` pick the sequence; the same pair always gives the same numbers. */
  constructor(seed: number, stream: number) {
    this.a = mix32(seed ^ 0x243f6a88);
    this.b = mix32(this.a ^ Math.imul(stream + 1, 0x9e3779b1));
    this.c = mix32(this.b ^ 0xb7e15162);
    this.d = mix32(this.c ^ stream);
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in (0, 1): never exactly 0 or 1, so logarithms are safe. */
  uniform(): number {
    return (this.nextUint32() + 0.5) / 4_294_967_296;
  }

  /** Exponential with the given mean. */
  exponential(mean: number): number {
    return -Math.log(this.uniform()) * mean;
  }

  /** Standard normal (Box-Muller; the second value is dropped to keep streams simple). */
  normal(): number {
    return Math.sqrt(-2 * Math.log(this.uniform())) * Math.cos(2 * Math.PI * this.uniform());
  }
}
