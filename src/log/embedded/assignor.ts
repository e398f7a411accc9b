/**
 * The consumer group assignment: a pure function of the live members (sorted by member id) and
 * the partition counts of their topics, so every member computes the same answer on its own.
 * Partitions are dealt round-robin, topic by topic in name order, among the members that
 * subscribe to the topic; the deal continues across topics so that many one-partition topics
 * spread over the members too.
 */
import type { TopicPartition } from '../types.ts'

export interface GroupMember {
  memberId: string
  topics: readonly string[]
}

export function assignPartitions (
  members: readonly GroupMember[],
  partitionsByTopic: ReadonlyMap<string, number>
): Map<string, TopicPartition[]> {
  const sorted = [...members].sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0))
  const result = new Map<string, TopicPartition[]>(sorted.map(m => [m.memberId, []]))
  const topics = [...partitionsByTopic.keys()].sort()
  let deal = 0
  for (const topic of topics) {
    const subscribers = sorted.filter(m => m.topics.includes(topic))
    if (subscribers.length === 0) continue
    const count = partitionsByTopic.get(topic) ?? 0
    for (let partition = 0; partition < count; partition++) {
      const member = subscribers[deal % subscribers.length] as GroupMember
      result.get(member.memberId)?.push({ topic, partition })
      deal++
    }
  }
  return result
}
