/**
 * Live events: /api/stream (SSE) with filters, pause and resume. Pausing closes the stream and
 * resuming reopens it with Last-Event-ID, so nothing produced meanwhile is missed; a dropped
 * connection reconnects the same way.
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import { getToken, query } from '../api.ts'
import { fleetSummary } from '../fleet-state.ts'
import { openStream, type StreamEvent } from '../sse.ts'
import { ErrorBox, Notice, useLoad } from '../ui.tsx'

const kept = 500

export function LivePage () {
  const fleet = useLoad(fleetSummary, [])
  if (fleet.error !== undefined) return <ErrorBox error={fleet.error} />
  if (fleet.data === undefined) return <p role='status'>Loading…</p>
  if (fleet.data === null) return <Notice><span data-testid='fleet-disabled'>Fleet not enabled on this server: the live stream (/api/stream) comes with the fleet command center.</span></Notice>
  return <Live />
}

function Live () {
  const [filters, setFilters] = useState({ node_id: '', kind: '', attention: false })
  const [paused, setPaused] = useState(false)
  const [state, setState] = useState<string>('connecting')
  const [problem, setProblem] = useState<Error | undefined>(undefined)
  const [events, setEvents] = useState<Array<StreamEvent & { at: number }>>([])
  const lastId = useRef<string | undefined>(undefined)
  useEffect(() => {
    if (paused) return
    const stream = openStream({
      url: `/api/stream${query({ node_id: filters.node_id, kind: filters.kind, attention: filters.attention ? 'true' : undefined })}`,
      token: getToken(),
      lastEventId: lastId.current,
      onEvent: e => { lastId.current = e.id ?? lastId.current; setEvents(list => [{ ...e, at: Date.now() }, ...list].slice(0, kept)) },
      onState: (s, error) => { setState(s); setProblem(error) }
    })
    return () => { lastId.current = stream.lastEventId(); stream.close() }
  }, [paused, filters.node_id, filters.kind, filters.attention])
  return (
    <div>
      <form
        class='filters' onSubmit={e => {
          e.preventDefault()
          const data = new FormData(e.target as HTMLFormElement)
          lastId.current = undefined
          setEvents([])
          setFilters({ node_id: String(data.get('node_id') ?? ''), kind: String(data.get('kind') ?? ''), attention: data.get('attention') === 'on' })
        }}
      >
        <label>Node id<input name='node_id' defaultValue={filters.node_id} /></label>
        <label>Kind<input name='kind' defaultValue={filters.kind} /></label>
        <label class='inline'><input type='checkbox' name='attention' defaultChecked={filters.attention} /> Attention only</label>
        <button type='submit'>Apply</button>
      </form>
      {/* A closed stream reports 'closed' after the pause that closed it: the pause is what to show. */}
      <p role='status'>Stream: <strong data-testid='stream-state'>{paused ? 'paused' : state}</strong>{problem !== undefined && state === 'reconnecting' ? ` (${problem.message})` : ''}
        {' '}<button type='button' onClick={() => setPaused(!paused)}>{paused ? 'Resume' : 'Pause'}</button>
      </p>
      <ol class='events' aria-label='Events' aria-live='polite'>
        {events.map(e => <li key={`${e.id ?? ''}-${e.at}`}><strong>{e.event}</strong> <code>{e.id}</code> {e.data.slice(0, 300)}</li>)}
      </ol>
    </div>
  )
}
