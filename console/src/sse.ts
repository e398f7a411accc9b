/**
 * Server-sent events over fetch, because EventSource cannot send the Authorization header. Reads
 * the text/event-stream framing, remembers the last `id:` and reconnects with Last-Event-ID after
 * a drop, so no event is lost across a reconnection (the server resumes from that log position).
 */
import { detach } from './detach.ts'

export interface StreamEvent {
  id: string | undefined
  event: string
  data: string
}

export interface StreamOptions {
  url: string
  token: string | null
  onEvent: (event: StreamEvent) => void
  onState: (state: 'open' | 'reconnecting' | 'closed', error?: Error) => void
  /** Resume after this id (a paused stream resumes where it stopped). */
  lastEventId?: string | undefined
}

export function openStream (options: StreamOptions): { close: () => void, lastEventId: () => string | undefined } {
  const abort = new AbortController()
  let lastId = options.lastEventId
  let delay = 500
  const run = async (): Promise<void> => {
    while (!abort.signal.aborted) {
      try {
        const headers: Record<string, string> = { accept: 'text/event-stream' }
        if (options.token !== null && options.token !== '') headers.authorization = `Bearer ${options.token}`
        if (lastId !== undefined) headers['last-event-id'] = lastId
        const response = await fetch(options.url, { headers, signal: abort.signal })
        if (!response.ok || response.body === null) throw new Error(`the stream answered ${response.status}`)
        options.onState('open')
        delay = 500
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
        let buffer = ''
        for (;;) {
          const { value, done } = await reader.read()
          if (done) break
          buffer += value
          let end: number
          while ((end = buffer.search(/\r?\n\r?\n/)) !== -1) {
            const block = buffer.slice(0, end)
            buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '')
            const parsed = parseBlock(block)
            if (parsed === null) continue
            if (parsed.id !== undefined) lastId = parsed.id
            options.onEvent(parsed)
          }
        }
        throw new Error('the stream ended')
      } catch (error) {
        if (abort.signal.aborted) break
        options.onState('reconnecting', error as Error)
        await new Promise(resolve => setTimeout(resolve, delay))
        delay = Math.min(delay * 2, 10_000)
      }
    }
    options.onState('closed')
  }
  detach(run())
  return { close: () => abort.abort(), lastEventId: () => lastId }
}

export function parseBlock (block: string): StreamEvent | null {
  let id: string | undefined
  let event = 'message'
  const data: string[] = []
  for (const line of block.split(/\r?\n/)) {
    if (line === '' || line.startsWith(':')) continue
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '')
    if (field === 'id') id = value
    else if (field === 'event') event = value
    else if (field === 'data') data.push(value)
  }
  if (data.length === 0) return null
  return { id, event, data: data.join('\n') }
}
