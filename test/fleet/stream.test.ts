/**
 * GET /api/stream: a silent node's heartbeat_stale arrives on the stream with no event from the
 * node, a client that reconnects with Last-Event-ID gets exactly what it missed (no gap, no
 * duplicate), an unknown id gets `reset`, and a client that stops reading is cut off with a
 * reason instead of growing the server's memory.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { connect } from 'node:net'
import { get, heartbeat, post, startFleetServer, tempDir } from './helpers.ts'

interface SseEvent { id?: string, event?: string, data?: string }

/** Reads a stream's events as they come. */
async function openStream (url: string, headers: Record<string, string> = {}): Promise<{ next: () => Promise<SseEvent>, close: () => void }> {
  const controller = new AbortController()
  const response = await fetch(url, { headers, signal: controller.signal })
  assert.equal(response.status, 200)
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  const queue: SseEvent[] = []
  const next = async (): Promise<SseEvent> => {
    for (;;) {
      if (queue.length > 0) return queue.shift()!
      const { value, done } = await reader.read()
      if (done) throw new Error('stream ended')
      buffer += value
      let end: number
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const frame = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const event: SseEvent = {}
        for (const line of frame.split('\n')) {
          if (line.startsWith(':')) continue
          const [field, ...rest] = line.split(': ')
          if (field === 'id' || field === 'event' || field === 'data') event[field] = rest.join(': ')
        }
        if (event.event !== undefined) queue.push(event)
      }
    }
  }
  return { next, close: () => controller.abort() }
}

test('stream: attention from the clock, Last-Event-ID resumes exactly, reset for an unknown id', async (t) => {
  const dir = await tempDir(t)
  const server = await startFleetServer(dir, { profiles: { FastVault: { heartbeatStaleS: 1 } } })
  t.after(() => server.close())
  const url = server.url

  const silent = randomUUID()
  const attention = await openStream(`${url}/api/stream?attention=true&node_id=${silent}`)
  t.after(() => attention.close())
  await post(`${url}/api/agent/heartbeat`, heartbeat(silent, { os_profile: 'FastVault' }))
  const first = await attention.next()
  assert.equal(first.event, 'attention')
  assert.match(first.id!, /^fleet\.heartbeats\.\d+\.\d+\.a$/, 'caused by the heartbeat record')
  assert.deepEqual(JSON.parse(first.data!).reasons, ['never_scanned'])
  const stale = await attention.next()
  assert.match(stale.id!, /^clock\./, 'the clock, not an event from the node, turned it stale')
  assert.deepEqual(JSON.parse(stale.data!).reasons, ['heartbeat_stale', 'never_scanned'])
  attention.close()

  const node = randomUUID()
  const live = await openStream(`${url}/api/stream?node_id=${node}&kind=heartbeat,note`)
  for (let i = 0; i < 3; i++) await post(`${url}/api/agent/heartbeat`, heartbeat(node, { uptime_seconds: i }))
  const seen = [await live.next(), await live.next(), await live.next()]
  assert.deepEqual(seen.map(e => JSON.parse(e.data!).uptime_seconds), [0, 1, 2])
  live.close()
  for (let i = 3; i < 6; i++) await post(`${url}/api/agent/heartbeat`, heartbeat(node, { uptime_seconds: i }))
  await post(`${url}/api/events`, { kind: 'note', node_id: node, payload: { text: 'hi' } })

  const resumed = await openStream(`${url}/api/stream?node_id=${node}&kind=heartbeat,note`, { 'last-event-id': seen[0]!.id! })
  t.after(() => resumed.close())
  const got: SseEvent[] = []
  for (let i = 0; i < 6; i++) got.push(await resumed.next())
  assert.deepEqual(got.slice(0, 5).map(e => JSON.parse(e.data!).uptime_seconds), [1, 2, 3, 4, 5], 'everything after the last seen event, once')
  assert.equal(got[5]!.event, 'note')
  assert.equal(new Set([...seen, ...got].map(e => e.id)).size, 7, 'no id twice')
  resumed.close()

  const reset = await openStream(`${url}/api/stream`, { 'last-event-id': 'fleet.heartbeats.0.999999' })
  t.after(() => reset.close())
  assert.equal((await reset.next()).event, 'reset')
  reset.close()

  assert.equal((await get(`${url}/api/stream?kind=gossip`)).body.field, 'kind')
  assert.equal((await get(`${url}/api/stream?attention=maybe`)).body.field, 'attention')
})

test('stream: a client that stops reading is cut off with a reason; the server stays healthy', async (t) => {
  const dir = await tempDir(t)
  const server = await startFleetServer(dir, { sse: { maxBufferedBytes: 64 * 1024 } })
  t.after(() => server.close())
  const { port } = new URL(server.url)
  const socket = connect(Number(port), '127.0.0.1')
  await new Promise(resolve => socket.once('connect', resolve))
  socket.write('GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
  socket.pause()
  const chunks: Buffer[] = []
  const ended = new Promise(resolve => socket.once('end', resolve))
  const node = randomUUID()
  const root = 'r'.repeat(4000)
  let dropped = false
  // Concurrent posts share the log's group commits, so the socket's buffers fill quickly.
  for (let batch = 0; batch < 100 && !dropped; batch++) {
    await Promise.all(Array.from({ length: 100 }, () => post(server.url + '/api/agent/heartbeat', heartbeat(node, { vaultmesh_root: root }))))
    dropped = /vigil_fleet_sse_drops_total\{reason="slow_client"\} 1/.test(await (await fetch(`${server.url}/metrics`)).text())
  }
  assert.ok(dropped, 'the slow client was dropped')
  socket.on('data', chunk => chunks.push(chunk))
  socket.resume()
  await ended
  const text = Buffer.concat(chunks).toString()
  assert.match(text, /event: cutoff\ndata: \{"reason":"the client reads too slowly/)
  assert.equal((await get(`${server.url}/healthz`)).status, 200)
})
