/**
 * The attention clock's queue: a binary min-heap of (due time, node id). Each evaluation pushes
 * the node's next deadline; an entry that no longer matches the node's current deadline (the
 * node was re-evaluated since) is skipped when it comes out, instead of being searched for and
 * removed. A tick costs O(k log n) for the k nodes that are due, not a scan of the fleet.
 */

interface Entry {
  dueAt: number
  nodeId: string
}

export class DueQueue {
  readonly #heap: Entry[] = []

  get size (): number { return this.#heap.length }

  push (nodeId: string, dueAt: number): void {
    if (!Number.isFinite(dueAt)) return
    const heap = this.#heap
    heap.push({ dueAt, nodeId })
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (heap[parent]!.dueAt <= heap[i]!.dueAt) break
      ;[heap[parent], heap[i]] = [heap[i]!, heap[parent]!]
      i = parent
    }
  }

  /** Removes and returns every entry due at or before `now`, earliest first. */
  popDue (now: number): Entry[] {
    const out: Entry[] = []
    const heap = this.#heap
    while (heap.length > 0 && heap[0]!.dueAt <= now) {
      out.push(heap[0]!)
      const last = heap.pop()!
      if (heap.length === 0) break
      heap[0] = last
      let i = 0
      for (;;) {
        const left = 2 * i + 1
        const right = left + 1
        let smallest = i
        if (left < heap.length && heap[left]!.dueAt < heap[smallest]!.dueAt) smallest = left
        if (right < heap.length && heap[right]!.dueAt < heap[smallest]!.dueAt) smallest = right
        if (smallest === i) break
        ;[heap[smallest], heap[i]] = [heap[i]!, heap[smallest]!]
        i = smallest
      }
    }
    return out
  }
}
