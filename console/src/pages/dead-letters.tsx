/**
 * Dead letters: pick a dead-letter topic, filter by original topic, error code, event type, state
 * and time; open a record's bytes and failure context; redrive one, a selection or the whole
 * filter. Every redrive is first run as a dry run, so the confirmation says how many will go.
 */
import { detach } from '../detach.ts'
import { useState } from 'preact/hooks'
import { api, query, signedInAs } from '../api.ts'
import { href } from '../router.ts'
import { ErrorBox, Json, Notice, time, useLoad } from '../ui.tsx'

interface DlqTopics { topics: Array<{ topic: string, records: number }> }
interface Letter {
  id: string,
  dlqTopic: string,
  dlqPartition: number,
  dlqOffset: number,
  deadLetteredAt: number,
  original: { topic: string, partition: number, offset: number, timestamp: number },
  pipeline: string,
  handler: string,
  errorCode: string,
  errorMessage: string,
  attempts: number,
  eventType?: string,
  redrive: string,
  redriveCount: number
}
interface ListResult { items: Letter[], total: number, truncated: boolean }
interface Outcome { id: string, status: string, code?: string, reason?: string, to?: { topic: string, partition: number, offset: number } }
interface RedriveResult { redriven: number, skipped: number, outcomes: Outcome[] }

interface Filter { topic: string, code: string, eventType: string, state: string, since: string, until: string }
const emptyFilter: Filter = { topic: '', code: '', eventType: '', state: '', since: '', until: '' }

type Target = { kind: 'ids', ids: string[] } | { kind: 'filter' }
interface Pending { target: Target, count: number, skipped: number }

export function DeadLettersPage ({ params }: { params: URLSearchParams }) {
  const topics = useLoad(() => api<DlqTopics>('/dlq'), [])
  const dlqTopic = params.get('topic') ?? topics.data?.topics[0]?.topic ?? ''
  const [form, setForm] = useState<Filter>(emptyFilter)
  const [filter, setFilter] = useState<Filter>(emptyFilter)
  const [selected, setSelected] = useState<Set<string>>(new Set())
  const [force, setForce] = useState(false)
  const [pending, setPending] = useState<Pending | null>(null)
  const [result, setResult] = useState<RedriveResult | null>(null)
  const [actionError, setActionError] = useState<Error | undefined>(undefined)
  const [opened, setOpened] = useState<string | null>(null)
  const list = useLoad(async () => dlqTopic === ''
    ? undefined
    : await api<ListResult>(`/dlq/${encodeURIComponent(dlqTopic)}/records${query({ ...filter, limit: 500 })}`), [dlqTopic, filter])

  const filterBody = (): Record<string, string> => Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== ''))
  const bodyOf = (target: Target, dryRun: boolean): Record<string, unknown> => ({
    ...(target.kind === 'ids' ? { ids: target.ids } : Object.keys(filterBody()).length > 0 ? { filter: filterBody() } : { all: true }),
    force,
    dryRun
  })

  const prepare = async (target: Target): Promise<void> => {
    setActionError(undefined); setResult(null)
    try {
      const dry = await api<RedriveResult>(`/dlq/${encodeURIComponent(dlqTopic)}/redrive`, { method: 'POST', body: bodyOf(target, true) })
      const count = dry.outcomes.filter(o => o.status === 'would-redrive').length
      setPending({ target, count, skipped: dry.skipped })
    } catch (e) { setActionError(e as Error) }
  }
  const confirm = async (): Promise<void> => {
    if (pending === null) return
    try {
      setResult(await api<RedriveResult>(`/dlq/${encodeURIComponent(dlqTopic)}/redrive`, { method: 'POST', body: bodyOf(pending.target, false) }))
      setSelected(new Set())
      list.reload()
    } catch (e) { setActionError(e as Error) } finally { setPending(null) }
  }

  const field = (name: keyof Filter, label: string, type = 'text') => (
    <label>{label}
      <input name={name} type={type} value={form[name]} onInput={e => setForm({ ...form, [name]: (e.target as HTMLInputElement).value })} />
    </label>
  )
  const toggle = (id: string): void => { const next = new Set(selected); if (next.has(id)) next.delete(id); else next.add(id); setSelected(next) }

  return (
    <div>
      <ErrorBox error={topics.error} />
      {topics.data !== undefined && topics.data.topics.length === 0 && <Notice>No dead-letter topics: nothing has failed.</Notice>}
      {topics.data !== undefined && topics.data.topics.length > 0 && (
        <>
          <nav class='tabs' aria-label='Dead-letter topics'>
            {topics.data.topics.map(t => <a key={t.topic} href={href('/dead-letters', { topic: t.topic })} aria-current={t.topic === dlqTopic ? 'page' : undefined}>{t.topic} ({t.records})</a>)}
          </nav>
          <form class='filters' onSubmit={e => { e.preventDefault(); setFilter(form) }}>
            {field('topic', 'Original topic')}
            {field('code', 'Error code')}
            {field('eventType', 'Event type')}
            <label>State
              <select name='state' value={form.state} onChange={e => setForm({ ...form, state: (e.target as HTMLSelectElement).value })}>
                <option value=''>any</option><option value='new'>new</option><option value='pending'>pending</option><option value='redriven'>redriven</option>
              </select>
            </label>
            {field('since', 'Since (ISO or ms)')}
            {field('until', 'Until (ISO or ms)')}
            <button type='submit'>Search</button>
          </form>
          <ErrorBox error={list.error} />
          <div class='actions'>
            <label class='inline'><input type='checkbox' checked={force} onChange={e => setForce((e.target as HTMLInputElement).checked)} /> Force (also parked, in doubt or already redriven)</label>
            <button type='button' disabled={selected.size === 0} onClick={() => { detach(prepare({ kind: 'ids', ids: [...selected] })) }}>Redrive selected ({selected.size})</button>
            <button type='button' onClick={() => { detach(prepare({ kind: 'filter' })) }}>Redrive all matching</button>
          </div>
          {pending !== null && (
            <div class='confirm' role='alertdialog' aria-labelledby='confirm-text'>
              <p id='confirm-text'>Redrive {pending.count} dead letter{pending.count === 1 ? '' : 's'} from {dlqTopic} to {pending.count === 1 ? 'its' : 'their'} original topic{pending.count === 1 ? '' : 's'}?{pending.skipped > 0 ? ` ${pending.skipped} will be skipped.` : ''}</p>
              <button type='button' onClick={() => { detach(confirm()) }} disabled={pending.count === 0}>Redrive {pending.count}</button>
              <button type='button' onClick={() => setPending(null)}>Cancel</button>
            </div>
          )}
          <ErrorBox error={actionError} />
          {result !== null && (
            <div role='status' class={result.skipped > 0 ? 'notice' : 'success'}>
              <p>Redriven: {result.redriven}. Skipped: {result.skipped}. By {signedInAs()}; written to the audit trail.</p>
              <ul>{result.outcomes.filter(o => o.status === 'skipped').map(o => <li key={o.id}>{o.id}: {o.reason} ({o.code})</li>)}</ul>
            </div>
          )}
          {list.data !== undefined && (
            <>
              <p>{list.data.total} dead letter{list.data.total === 1 ? '' : 's'} match{list.data.truncated ? ' (scan truncated)' : ''}.</p>
              <div class='scroll'>
                <table>
                  <thead><tr><th scope='col'><span class='sr-only'>Select</span></th><th scope='col'>Dead-lettered</th><th scope='col'>Original</th><th scope='col'>Error</th><th scope='col'>Event type</th><th scope='col'>State</th><th scope='col'>Detail</th></tr></thead>
                  <tbody>
                    {list.data.items.map(l => (
                      <tr key={l.id}>
                        <td><input type='checkbox' aria-label={`Select ${l.id}`} checked={selected.has(l.id)} onChange={() => toggle(l.id)} /></td>
                        <td>{time(l.deadLetteredAt)}</td>
                        <td>{l.original.topic}:{l.original.partition}:{l.original.offset}</td>
                        <td><code>{l.errorCode}</code> {l.errorMessage}</td>
                        <td>{l.eventType ?? ''}</td>
                        <td data-testid='state'>{l.redrive}</td>
                        <td>
                          <button type='button' class='link' onClick={() => setOpened(opened === l.id ? null : l.id)} aria-expanded={opened === l.id}>{opened === l.id ? 'Hide' : 'Show'}</button>
                          <button type='button' class='link' onClick={() => { detach(prepare({ kind: 'ids', ids: [l.id] })) }}>Redrive</button>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              {opened !== null && <LetterDetail id={opened} />}
            </>
          )}
        </>
      )}
    </div>
  )
}

function LetterDetail ({ id }: { id: string }) {
  const [topic, partition, offset] = splitId(id)
  const detail = useLoad(() => api(`/dlq/${encodeURIComponent(topic)}/records/${partition}/${offset}`), [id])
  return (
    <section class='card' aria-label={`Dead letter ${id}`}>
      <h2>Dead letter {id}</h2>
      <ErrorBox error={detail.error} />
      {detail.data !== undefined && <Json value={detail.data} />}
    </section>
  )
}

function splitId (id: string): [string, string, string] {
  const parts = id.split(':')
  const offset = parts.pop() ?? ''
  const partition = parts.pop() ?? ''
  return [parts.join(':'), partition, offset]
}
