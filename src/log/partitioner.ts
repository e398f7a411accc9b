import { murmur2 } from '@platformatic/kafka'

/**
 * Kafka's default partitioner for keyed records: toPositive(murmur2(key)) % partitions, as the
 * Java client computes it (toPositive masks the sign bit). platformatic's own defaultPartitioner
 * uses `>>> 0` instead, which sends some keys elsewhere, so Vigil uses this on both backends.
 */
export function partitionForKey (key: Buffer, partitions: number): number {
  return (murmur2(key, false) & 0x7fffffff) % partitions
}

/** Unkeyed records spread round-robin, one counter per topic. */
export class RoundRobin {
  #next = new Map<string, number>()

  next (topic: string, partitions: number): number {
    const n = this.#next.get(topic) ?? Math.floor(Math.random() * partitions)
    this.#next.set(topic, n + 1)
    return n % partitions
  }
}
