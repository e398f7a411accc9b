/**
 * Audit: search with every filter of GET /v1/audit/events and cursor paging, a record's detail
 * with its chain position (_chain), and a verification over a range whose findings show their
 * file and position; findings export as NDJSON or CSV.
 */
import { detach } from '../detach.ts'
import { useState } from 'preact/hooks'
import { api, query } from '../api.ts'
import { href } from '../router.ts'
import { ErrorBox, Json, Notice, time } from '../ui.tsx'

const filters = ['type', 'outcome', 'component', 'correlation_id', 'tenant_id', 'source', 'action', 'resource_ref', 'subject_hash', 'reason_code', 'agent_name', 'tool_name', 'capability', 'user_email'] as const
const windows = ['', '5m', '15m', '30m', '1h', '6h', '12h', '24h', '7d']

interface QueryResult { records: Array<Record<string, unknown>>, total: number, truncated: boolean, next_cursor: string | null, skipped_files?: string[] }
interface Finding { store: string, kind: string, file?: string, position?: number, partition?: number, offset?: number, message: string }
interface Report { ok: boolean, store?: string, files?: number, records?: number, findings: Finding[], [k: string]: unknown }
interface VerifyResult { ok: boolean, reports: Report[] }

export function AuditPage ({ params }: { params: URLSearchParams }) {
  const tab = params.get('tab') === 'verify' ? 'verify' : 'search'
  return (
    <div>
      <nav class='tabs' aria-label='Audit views'>
        <a href={href('/audit')} aria-current={tab === 'search' ? 'page' : undefined}>Search</a>
        <a href={href('/audit', { tab: 'verify' })} aria-current={tab === 'verify' ? 'page' : undefined}>Verify</a>
      </nav>
      {tab === 'search' ? <Search /> : <Verify />}
    </div>
  )
}

function Search () {
  const [form, setForm] = useState<Record<string, string>>({ limit: '50' })
  const [pages, setPages] = useState<QueryResult[]>([])
  const [error, setError] = useState<Error | undefined>(undefined)
  const [opened, setOpened] = useState<Record<string, unknown> | null>(null)
  const run = async (cursor: string | null): Promise<void> => {
    setError(undefined)
    try {
      const result = await api<QueryResult>(`/v1/audit/events${query({ ...form, cursor })}`)
      setPages(cursor === null ? [result] : [...pages, result])
    } catch (e) { setError(e as Error); if (cursor === null) setPages([]) }
  }
  const input = (name: string, label: string) => (
    <label key={name}>{label}
      <input name={name} value={form[name] ?? ''} onInput={e => setForm({ ...form, [name]: (e.target as HTMLInputElement).value })} />
    </label>
  )
  const records = pages.flatMap(p => p.records)
  const last = pages.at(-1)
  return (
    <>
      <form class='filters' onSubmit={e => { e.preventDefault(); detach(run(null)) }}>
        {input('since', 'Since (ISO 8601)')}
        {input('until', 'Until (ISO 8601)')}
        <label>Window
          <select name='window' value={form.window ?? ''} onChange={e => setForm({ ...form, window: (e.target as HTMLSelectElement).value })}>
            {windows.map(w => <option key={w} value={w}>{w === '' ? 'none' : w}</option>)}
          </select>
        </label>
        {filters.map(f => input(f, f.replace(/_/g, ' ')))}
        {input('limit', 'Limit')}
        <button type='submit'>Search</button>
      </form>
      <ErrorBox error={error} />
      {last !== undefined && (
        <>
          <p role='status'>{last.total} record{last.total === 1 ? '' : 's'} match; showing {records.length}.</p>
          {(last.skipped_files?.length ?? 0) > 0 && <p class='error'>Damaged files were skipped: {last.skipped_files?.join(', ')}. <a href={href('/audit', { tab: 'verify' })}>Verify</a>.</p>}
          <div class='scroll'>
            <table>
              <thead><tr><th scope='col'>Time</th><th scope='col'>Type</th><th scope='col'>Outcome</th><th scope='col'>Actor</th><th scope='col'>Action</th><th scope='col'>Chain</th><th scope='col'>Detail</th></tr></thead>
              <tbody>
                {records.map((r, i) => {
                  const chain = r._chain as { p?: number, o?: number } | undefined
                  return (
                    <tr key={i}>
                      <td>{time(String(r.ts ?? r.timestamp ?? ''))}</td>
                      <td>{String(r.type ?? '')}</td>
                      <td>{String(r.outcome ?? '')}</td>
                      <td>{String(r.actor_ref ?? r.actor ?? r.user_email ?? r.agent_name ?? '')}</td>
                      <td>{String(r.action ?? '')}</td>
                      <td>{chain === undefined ? '' : `p${chain.p ?? '?'} @${chain.o ?? '?'}`}</td>
                      <td><button type='button' class='link' onClick={() => setOpened(r)}>Show</button></td>
                    </tr>
                  )
                })}
              </tbody>
            </table>
          </div>
          {last.next_cursor !== null && <button type='button' onClick={() => { detach(run(last.next_cursor)) }}>Next page</button>}
          {opened !== null && <section class='card' aria-label='Audit record'><h2>Record</h2><Json value={opened} /></section>}
        </>
      )}
    </>
  )
}

function Verify () {
  const [since, setSince] = useState('')
  const [until, setUntil] = useState('')
  const [busy, setBusy] = useState(false)
  const [result, setResult] = useState<VerifyResult | null>(null)
  const [error, setError] = useState<Error | undefined>(undefined)
  const run = async (): Promise<void> => {
    setBusy(true); setError(undefined)
    try { setResult(await api<VerifyResult>(`/v1/audit/verify${query({ since, until })}`)) } catch (e) { setError(e as Error); setResult(null) } finally { setBusy(false) }
  }
  const findings = result?.reports.flatMap(r => r.findings) ?? []
  return (
    <>
      <form class='filters' onSubmit={e => { e.preventDefault(); detach(run()) }}>
        <label>Since (ISO 8601)<input name='since' value={since} onInput={e => setSince((e.target as HTMLInputElement).value)} /></label>
        <label>Until (ISO 8601)<input name='until' value={until} onInput={e => setUntil((e.target as HTMLInputElement).value)} /></label>
        <button type='submit' disabled={busy}>{busy ? 'Verifying…' : 'Verify'}</button>
      </form>
      <ErrorBox error={error} />
      {result !== null && (
        <>
          <p role='status' class={result.ok ? 'success' : 'error'} data-testid='verify-result'>
            {result.ok ? 'Verified: no record was changed, removed, inserted or reordered.' : `Tampering found: ${findings.length} finding${findings.length === 1 ? '' : 's'}.`}
          </p>
          {result.reports.map((r, i) => <p key={i}>Store {String(r.store ?? i)}: {String(r.files ?? '?')} files, {String(r.records ?? '?')} records, {r.ok ? 'ok' : 'tampered'}.</p>)}
          {findings.length > 0 && (
            <>
              <div class='actions'>
                <button type='button' onClick={() => download('audit-findings.ndjson', findings.map(f => JSON.stringify(f)).join('\n') + '\n', 'application/x-ndjson')}>Export NDJSON</button>
                <button type='button' onClick={() => download('audit-findings.csv', toCsv(findings), 'text/csv')}>Export CSV</button>
              </div>
              <div class='scroll'>
                <table>
                  <thead><tr><th scope='col'>Kind</th><th scope='col'>File</th><th scope='col'>Position</th><th scope='col'>Partition:offset</th><th scope='col'>What</th></tr></thead>
                  <tbody>
                    {findings.map((f, i) => (
                      <tr key={i} class='bad'>
                        <td>{f.kind}</td><td><code>{f.file ?? ''}</code></td><td>{f.position ?? ''}</td>
                        <td>{f.partition === undefined ? '' : `${f.partition}:${f.offset ?? ''}`}</td><td>{f.message}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </>
          )}
        </>
      )}
      {result === null && error === undefined && <Notice>Verification recomputes every record's hash and chain link in the range and checks the signed checkpoints.</Notice>}
    </>
  )
}

const csvColumns = ['store', 'kind', 'file', 'position', 'partition', 'offset', 'message'] as const

export function toCsv (findings: readonly Finding[]): string {
  const cell = (v: unknown): string => {
    const s = v === undefined || v === null ? '' : String(v)
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
  }
  return [csvColumns.join(','), ...findings.map(f => csvColumns.map(c => cell(f[c])).join(','))].join('\n') + '\n'
}

function download (name: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }))
  const a = document.createElement('a')
  a.href = url
  a.download = name
  a.click()
  setTimeout(() => URL.revokeObjectURL(url), 1000)
}
