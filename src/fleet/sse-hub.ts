/**
 * The live stream (GET /api/stream): every record the projector applies and every attention
 * change, as Server-Sent Events, to each connected client whose filters match.
 *
 * Ids: a record's event has the id `<topic>.<partition>.<offset>` (its log position); the
 * attention change it caused has that id with `.a`; an attention change made by the clock (no
 * record caused it) has `clock.<ms>.<n>`. The hub keeps the last `replayEvents` events, so a
 * client that reconnects with Last-Event-ID gets exactly the events after that one, no gap and
 * no duplicate. An id the hub no longer holds (too old, or from before a restart) gets a
 * `reset` event: the client reloads the state from the query routes and follows from there.
 *
 * Slow clients: the hub writes to the socket and never queues more than `maxBufferedBytes` per
 * client; a client whose socket has that much unsent is sent a `cutoff` event with the reason
 * and disconnected, to resume with Last-Event-ID.
 */
import type { ServerResponse } from 'node:http'

export interface StreamEvent {
  id: string
  /** heartbeat, scan, command, attention, or an operator event's kind. */
  name: string
  nodeId: string | null
  /** The event's data, already JSON. */
  data: string
}

export interface StreamFilter {
  nodeId?: string
  names?: ReadonlySet<string>
  attentionOnly: boolean
}

interface Client {
  response: ServerResponse
  filter: StreamFilter
}

export interface SseHubOptions {
  replayEvents: number
  maxBufferedBytes: number
  keepAliveMs: number
  onDrop?: (reason: string) => void
}

export class SseHub {
  readonly #options: SseHubOptions
  readonly #clients = new Set<Client>()
  readonly #recent: StreamEvent[] = []
  readonly #keepAlive: NodeJS.Timeout
  #clockSeq = 0

  constructor (options: SseHubOptions) {
    this.#options = options
    this.#keepAlive = setInterval(() => {
      for (const client of this.#clients) this.#write(client, ': ping\n\n')
    }, options.keepAliveMs)
    this.#keepAlive.unref()
  }

  get clients (): number { return this.#clients.size }

  clockId (at: number): string { return `clock.${at}.${this.#clockSeq++}` }

  publish (event: StreamEvent): void {
    this.#recent.push(event)
    // Trimmed in halves, not one event at a time: shifting a 10,000-event array on every event cost 7% of ingest.
    if (this.#recent.length >= 2 * this.#options.replayEvents) this.#recent.splice(0, this.#recent.length - this.#options.replayEvents)
    if (this.#clients.size === 0) return
    const frame = formatEvent(event)
    for (const client of this.#clients) if (matches(event, client.filter)) this.#write(client, frame)
  }

  /** Starts a stream on an HTTP response the caller has taken over. */
  attach (response: ServerResponse, filter: StreamFilter, lastEventId: string | undefined): void {
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no'
    })
    const client: Client = { response, filter }
    response.write(': vigil fleet stream\nretry: 1000\n\n')
    if (lastEventId !== undefined && lastEventId !== '') {
      const held = this.#recent.length > this.#options.replayEvents ? this.#recent.slice(-this.#options.replayEvents) : this.#recent
      const at = held.findIndex(e => e.id === lastEventId)
      if (at === -1) {
        response.write(`event: reset\ndata: ${JSON.stringify({ reason: `event ${lastEventId} is no longer held; reload the state from /api/fleet and follow from here` })}\n\n`)
      } else {
        for (const event of held.slice(at + 1)) if (matches(event, filter)) response.write(formatEvent(event))
      }
    }
    this.#clients.add(client)
    response.once('close', () => this.#clients.delete(client))
  }

  close (): void {
    clearInterval(this.#keepAlive)
    for (const client of this.#clients) client.response.end()
    this.#clients.clear()
  }

  #write (client: Client, frame: string): void {
    const response = client.response
    if (response.writableLength + frame.length > this.#options.maxBufferedBytes) {
      const reason = `the client reads too slowly: more than ${this.#options.maxBufferedBytes} bytes unsent; reconnect with Last-Event-ID`
      this.#clients.delete(client)
      // The connection closes once what is queued (and the cutoff) is flushed; a client that reads
      // nothing at all loses it after a grace period, so its buffers are freed either way.
      const socket = response.socket
      response.end(`event: cutoff\ndata: ${JSON.stringify({ reason })}\n\n`, () => socket?.destroySoon())
      setTimeout(() => socket?.destroy(), 5000).unref()
      this.#options.onDrop?.('slow_client')
      return
    }
    response.write(frame)
  }
}

function matches (event: StreamEvent, filter: StreamFilter): boolean {
  if (filter.attentionOnly && event.name !== 'attention') return false
  if (filter.nodeId !== undefined && event.nodeId !== filter.nodeId) return false
  if (filter.names !== undefined && !filter.names.has(event.name)) return false
  return true
}

function formatEvent (event: StreamEvent): string {
  return `id: ${event.id}\nevent: ${event.name}\ndata: ${event.data}\n\n`
}
