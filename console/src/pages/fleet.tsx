/**
 * Fleet (against the fleet API contract of issue #13): the node table with filters and sorting,
 * virtualised over server-side pages so 100,000 nodes scroll smoothly; a node's page with its
 * events, last scan, command history and DORA incident clocks; issuing a command with the
 * profile's policy shown first, and its result arriving live over /api/stream. When the server
 * does not run the fleet, /api/fleet/summary answers 404 and the page says so.
 */
import { detach } from '../detach.ts'
import { useEffect, useRef, useState } from 'preact/hooks'
import { api, getToken, query } from '../api.ts'
import { fleetSummary } from '../fleet-state.ts'
import { href } from '../router.ts'
import { openStream } from '../sse.ts'
import { ErrorBox, Json, Notice, time, useLoad } from '../ui.tsx'

interface NodeRow {
  node_id: string,
  hostname: string,
  os_profile: string,
  last_seen: string,
  state: 'healthy' | 'attention',
  reasons: string[],
  cloudflare_ok: boolean,
  services_ok: boolean,
  last_scan_at: string | null,
  critical: number
}
interface NodePage { total: number, offset: number, nodes: NodeRow[] }
interface Deadline { report: string, due_at: string, state: string }
interface NodeDetail {
  node: NodeRow,
  heartbeat: unknown,
  scan: unknown,
  events: Array<Record<string, unknown>>,
  commands: Array<Record<string, unknown>>,
  incidents: Array<{ envelope_id: string, classified_at: string, detected_at: string, deadlines: Deadline[] }>
}
interface Policy { profiles: Record<string, { commands: Record<string, { args: unknown }> }> }

const rowHeight = 36
const pageSize = 200

export function FleetPage ({ params }: { params: URLSearchParams }) {
  const summary = useLoad(fleetSummary, [])
  if (summary.error !== undefined) return <ErrorBox error={summary.error} />
  if (summary.data === undefined) return <p role='status'>Loading…</p>
  if (summary.data === null) return <Notice><span data-testid='fleet-disabled'>Fleet not enabled on this server: GET /api/fleet/summary answered 404.</span></Notice>
  const node = params.get('node')
  return node === null ? <NodeTable params={params} summary={summary.data} /> : <NodePageView nodeId={node} />
}

function NodeTable ({ params, summary }: { params: URLSearchParams, summary: NonNullable<Awaited<ReturnType<typeof fleetSummary>>> }) {
  const filters = {
    profile: params.get('profile') ?? '',
    reason: params.get('reason') ?? '',
    state: params.get('state') ?? '',
    q: params.get('q') ?? '',
    sort: params.get('sort') ?? 'attention',
    order: params.get('order') ?? 'desc'
  }
  const key = JSON.stringify(filters)
  const pages = useRef(new Map<number, NodeRow[]>())
  const loading = useRef(new Set<number>())
  const [total, setTotal] = useState<number | null>(null)
  const [error, setError] = useState<Error | undefined>(undefined)
  const [scrollTop, setScrollTop] = useState(0)
  const [, redraw] = useState(0)
  const viewport = useRef<HTMLDivElement>(null)
  const height = 600

  const load = (page: number): void => {
    if (pages.current.has(page) || loading.current.has(page)) return
    loading.current.add(page)
    api<NodePage>(`/api/fleet/nodes${query({ ...filters, offset: page * pageSize, limit: pageSize })}`).then(result => {
      pages.current.set(page, result.nodes)
      setTotal(result.total)
      redraw(n => n + 1)
    }, (e: Error) => setError(e)).finally(() => loading.current.delete(page))
  }
  useEffect(() => { pages.current = new Map(); loading.current = new Set(); setTotal(null); load(0) }, [key])

  const first = Math.floor(scrollTop / rowHeight)
  const visible = Math.ceil(height / rowHeight) + 10
  const last = Math.min((total ?? 0), first + visible)
  for (let p = Math.floor(first / pageSize); p <= Math.floor(last / pageSize); p++) if (total !== null && p * pageSize < total) load(p)
  const rows: Array<{ index: number, row: NodeRow | undefined }> = []
  for (let i = Math.max(0, first - 5); i < last; i++) rows.push({ index: i, row: pages.current.get(Math.floor(i / pageSize))?.[i % pageSize] })

  const link = (change: Record<string, string>): string => href('/fleet', { ...filters, ...change })
  // aria-sort belongs on the column header, not on the link inside it.
  const sortHeader = (column: string, label: string) => (
    <span role='columnheader' aria-sort={filters.sort === column ? (filters.order === 'asc' ? 'ascending' : 'descending') : undefined}>
      <a href={link({ sort: column, order: filters.sort === column && filters.order === 'asc' ? 'desc' : 'asc' })}>{label}{filters.sort === column ? (filters.order === 'asc' ? ' ▲' : ' ▼') : ''}</a>
    </span>
  )

  return (
    <div>
      <p>{summary.total} nodes: {summary.healthy} healthy, <span class={summary.attention > 0 ? 'bad' : ''}>{summary.attention} need attention</span>.</p>
      <form
        class='filters' onSubmit={e => {
          e.preventDefault()
          const data = new FormData(e.target as HTMLFormElement)
          location.hash = link(Object.fromEntries([...data.entries()].map(([k, v]) => [k, String(v)])))
        }}
      >
        <label>Profile<select name='profile' defaultValue={filters.profile}><option value=''>any</option>{Object.keys(summary.by_profile).map(p => <option key={p} value={p}>{p}</option>)}</select></label>
        <label>Reason<select name='reason' defaultValue={filters.reason}><option value=''>any</option>{Object.keys(summary.by_reason).map(r => <option key={r} value={r}>{r} ({summary.by_reason[r]})</option>)}</select></label>
        <label>State<select name='state' defaultValue={filters.state}><option value=''>any</option><option value='healthy'>healthy</option><option value='attention'>attention</option></select></label>
        <label>Search<input name='q' defaultValue={filters.q} /></label>
        <button type='submit'>Filter</button>
      </form>
      <ErrorBox error={error} />
      <div role='table' aria-label='Nodes' aria-rowcount={(total ?? 0) + 1}>
        <div role='rowgroup'>
          <div class='fleet-head' role='row' aria-rowindex={1}>
            {sortHeader('hostname', 'Host')}{sortHeader('os_profile', 'Profile')}{sortHeader('last_seen', 'Last seen')}{sortHeader('attention', 'State')}<span role='columnheader'>Reasons</span>
          </div>
        </div>
        <div class='fleet-viewport' ref={viewport} style={{ height: `${height}px` }} onScroll={e => setScrollTop((e.target as HTMLDivElement).scrollTop)} tabIndex={0} role='rowgroup' aria-label='Nodes, scrollable'>
          <div style={{ height: `${(total ?? 0) * rowHeight}px`, position: 'relative' }}>
            {rows.map(({ index, row }) => (
              <div key={index} class={`fleet-row ${row?.state === 'attention' ? 'bad' : ''}`} role='row' aria-rowindex={index + 2} style={{ top: `${index * rowHeight}px`, height: `${rowHeight}px` }}>
                {row === undefined ? <span role='cell'>…</span> : <NodeCells row={row} href={link({ node: row.node_id })} />}
              </div>
            ))}
          </div>
        </div>
      </div>
    </div>
  )
}

function NodeCells ({ row, href: to }: { row: NodeRow, href: string }) {
  return (
    <>
      <span role='cell'><a href={to}>{row.hostname}</a></span>
      <span role='cell'>{row.os_profile}</span>
      <span role='cell'>{time(row.last_seen)}</span>
      <span role='cell' data-testid='node-state'>{row.state}</span>
      <span role='cell'>{row.reasons.join(', ')}</span>
    </>
  )
}

function NodePageView ({ nodeId }: { nodeId: string }) {
  const detail = useLoad(() => api<NodeDetail>(`/api/fleet/nodes/${encodeURIComponent(nodeId)}`), [nodeId])
  const policy = useLoad(() => api<Policy>('/api/fleet/policy'), [])
  const [live, setLive] = useState<string[]>([])
  useEffect(() => {
    const stream = openStream({
      url: `/api/stream${query({ node_id: nodeId })}`,
      token: getToken(),
      onEvent: e => { setLive(l => [`${e.event}: ${e.data.slice(0, 200)}`, ...l].slice(0, 50)); if (e.event === 'command' || e.event === 'heartbeat' || e.event === 'attention') detail.reload() },
      onState: () => {}
    })
    return () => stream.close()
  }, [nodeId])
  const d = detail.data
  const handleIssued = detail.reload
  return (
    <div>
      <p><a href={href('/fleet')}>All nodes</a></p>
      <ErrorBox error={detail.error} />
      {d !== undefined && (
        <>
          <h2 class={d.node.state === 'attention' ? 'bad' : ''}>{d.node.hostname} ({d.node.state}{d.node.reasons.length > 0 ? `: ${d.node.reasons.join(', ')}` : ''})</h2>
          <section class='card' aria-label='Incident clocks'>
            <h3>DORA incident clocks</h3>
            {d.incidents.length === 0 && <p>No classified incident.</p>}
            {d.incidents.map(i => (
              <div key={i.envelope_id}>
                <p>Incident {i.envelope_id}, detected {time(i.detected_at)}, classified {time(i.classified_at)}</p>
                <ul>{i.deadlines.map(dl => <li key={dl.report} class={dl.state === 'overdue' ? 'bad' : dl.state === 'near' ? 'warn' : ''}>{dl.report} report due {time(dl.due_at)}: {dl.state}</li>)}</ul>
              </div>
            ))}
          </section>
          <IssueCommand node={d.node} policy={policy.data} onIssued={handleIssued} />
          <section class='card' aria-label='Commands'><h3>Command history</h3><Json value={d.commands} /></section>
          <section class='card' aria-label='Last scan'><h3>Last scan</h3><Json value={d.scan} /></section>
          <section class='card' aria-label='Events'><h3>Events</h3><Json value={d.events} /></section>
          <section class='card' aria-label='Live'><h3>Live</h3><ul>{live.map((l, i) => <li key={i}><code>{l}</code></li>)}</ul></section>
        </>
      )}
    </div>
  )
}

function IssueCommand ({ node, policy, onIssued }: { node: NodeRow, policy: Policy | undefined, onIssued: () => void }) {
  const commands = policy?.profiles[node.os_profile]?.commands ?? {}
  const [command, setCommand] = useState('')
  const [args, setArgs] = useState('{}')
  const [error, setError] = useState<Error | undefined>(undefined)
  const [issued, setIssued] = useState<unknown>(null)
  const chosen = command === '' ? Object.keys(commands)[0] ?? '' : command
  const submit = async (): Promise<void> => {
    setError(undefined)
    let parsed: unknown
    try { parsed = JSON.parse(args) } catch (e) { setError(new Error(`Arguments are not JSON: ${(e as Error).message}`)); return }
    try {
      setIssued(await api('/api/fleet/commands', { method: 'POST', body: { node_id: node.node_id, command: chosen, args: parsed } }))
      onIssued()
    } catch (e) { setError(e as Error) }
  }
  return (
    <form class='card' aria-label='Issue a command' onSubmit={e => { e.preventDefault(); detach(submit()) }}>
      <h3>Issue a command</h3>
      {Object.keys(commands).length === 0 && <p>The {node.os_profile} profile's policy allows no command.</p>}
      <label>Command<select value={chosen} onChange={e => setCommand((e.target as HTMLSelectElement).value)}>{Object.keys(commands).map(c => <option key={c} value={c}>{c}</option>)}</select></label>
      <p>Policy for {chosen} (arguments must match before it is signed):</p>
      <Json value={commands[chosen]?.args ?? null} />
      <label for='cmd-args'>Arguments (JSON)</label>
      <textarea id='cmd-args' rows={3} value={args} onInput={e => setArgs((e.target as HTMLTextAreaElement).value)} />
      <button type='submit' disabled={chosen === ''}>Sign and issue</button>
      <ErrorBox error={error} />
      {issued !== null && <div role='status'><p>Issued:</p><Json value={issued} /></div>}
    </form>
  )
}
