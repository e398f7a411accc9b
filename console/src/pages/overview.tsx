/**
 * Overview: the log, the pipelines' throughput and lag (live plots from /metrics), dead letters
 * by topic, nodes needing attention, audit ingest and verification. Red cards link to the page
 * where the problem is fixed.
 */
import { detach } from '../detach.ts'
import { Fragment } from 'preact'
import { useEffect, useRef, useState } from 'preact/hooks'
import { api } from '../api.ts'
import { fleetSummary } from '../fleet-state.ts'
import { parsePrometheus, sumBy } from '../prometheus.ts'
import { href } from '../router.ts'
import { Card, Chart, ErrorBox, useLoad, type Series } from '../ui.tsx'

interface LogInfo { kind: string, url: string, topics: number }
interface Ready { status: string, checks: Record<string, string | null> }
interface DlqTopics { topics: Array<{ topic: string, records: number }> }

const pointsKept = 60
const pollMs = 2000

interface Point { t: number, succeeded: Map<string, number>, lag: Map<string, number>, audit: number }

/** Per-pipeline throughput (records/s, from the succeeded counter) and lag, sampled every 2 s. */
function usePipelineSeries (): { x: number[], throughput: Series[], lag: Series[], auditRate: Series[], verifications: Map<string, number>, error: Error | undefined } {
  const history = useRef<Point[]>([])
  const [, redraw] = useState(0)
  const [error, setError] = useState<Error | undefined>(undefined)
  const [verifications, setVerifications] = useState(new Map<string, number>())
  useEffect(() => {
    let stopped = false
    const sample = async (): Promise<void> => {
      try {
        const samples = parsePrometheus(await api<string>('/metrics', { text: true }))
        const point: Point = {
          t: Date.now() / 1000,
          succeeded: sumBy(samples, 'vigil_pipeline_records_succeeded_total', 'pipeline'),
          lag: sumBy(samples, 'vigil_pipeline_consumer_lag', 'pipeline'),
          audit: [...sumBy(samples, 'vigil_audit_events_accepted_total', '').values()].reduce((a, b) => a + b, 0)
        }
        setVerifications(sumBy(samples, 'vigil_audit_verifications_total', 'result'))
        history.current = [...history.current, point].slice(-pointsKept - 1)
        setError(undefined)
      } catch (e) {
        setError(e as Error)
      }
      if (!stopped) redraw(n => n + 1)
    }
    detach(sample())
    const timer = setInterval(() => { detach(sample()) }, pollMs)
    return () => { stopped = true; clearInterval(timer) }
  }, [])
  const points = history.current
  const rates = points.slice(1)
  const pipelines = new Set<string>()
  for (const p of points) { for (const k of p.succeeded.keys()) pipelines.add(k); for (const k of p.lag.keys()) pipelines.add(k) }
  const rate = (i: number, f: (p: Point) => number): number => {
    const a = points[i]!; const b = points[i + 1]!
    return Math.max(0, (f(b) - f(a)) / Math.max(0.001, b.t - a.t))
  }
  const names = [...pipelines].sort()
  return {
    x: rates.map(p => p.t),
    throughput: names.map(name => ({ label: name, values: rates.map((_, i) => Math.round(rate(i, p => p.succeeded.get(name) ?? 0) * 10) / 10) })),
    lag: names.map(name => ({ label: name, values: rates.map(p => p.lag.get(name) ?? 0) })),
    auditRate: [{ label: 'accepted/s', values: rates.map((_, i) => Math.round(rate(i, p => p.audit) * 10) / 10) }],
    verifications,
    error
  }
}

export function OverviewPage () {
  const log = useLoad(() => api<LogInfo>('/v1/log'), [])
  const ready = useLoad(async () => {
    const response = await fetch('/readyz')
    return await response.json() as Ready
  }, [])
  const dlq = useLoad(() => api<DlqTopics>('/dlq'), [])
  const fleet = useLoad(fleetSummary, [])
  const audit = useLoad(() => api<Record<string, unknown>>('/v1/audit/status'), [])
  const series = usePipelineSeries()
  const deadLetters = (dlq.data?.topics ?? []).filter(t => t.records > 0)
  const tampered = series.verifications.get('tampered') ?? 0
  const verifiedOk = series.verifications.get('ok') ?? 0

  return (
    <div class='grid'>
      <Card title='Log' tone={ready.data?.status === 'ready' ? 'ok' : ready.data === undefined ? undefined : 'bad'}>
        <ErrorBox error={log.error} />
        {log.data !== undefined && (
          <dl>
            <dt>Backend</dt><dd data-testid='log-kind'>{log.data.kind}</dd>
            <dt>Location</dt><dd><code>{log.data.url}</code></dd>
            <dt>Topics</dt><dd><a href={href('/topics')}>{log.data.topics}</a></dd>
          </dl>
        )}
        {ready.data !== undefined && (
          <ul class='checks'>
            {Object.entries(ready.data.checks).map(([name, problem]) => (
              <li key={name} class={problem === null ? 'ok' : 'bad'}>{name}: {problem ?? 'ready'}</li>
            ))}
          </ul>
        )}
      </Card>

      <Card title='Dead letters' tone={deadLetters.length > 0 ? 'bad' : dlq.data === undefined ? undefined : 'ok'}>
        <ErrorBox error={dlq.error} />
        {dlq.data !== undefined && deadLetters.length === 0 && <p>No dead letters.</p>}
        {deadLetters.length > 0 && (
          <ul>
            {deadLetters.map(t => <li key={t.topic}><a class='bad' href={href('/dead-letters', { topic: t.topic })}>{t.topic}: {t.records} record{t.records === 1 ? '' : 's'}</a></li>)}
          </ul>
        )}
      </Card>

      <Card title='Fleet' tone={fleet.data === null || fleet.data === undefined ? undefined : fleet.data.attention > 0 ? 'bad' : 'ok'}>
        <ErrorBox error={fleet.error} />
        {fleet.data === null && <p data-testid='fleet-disabled'>Fleet not enabled on this server.</p>}
        {fleet.data !== null && fleet.data !== undefined && (
          <p>
            {fleet.data.total} nodes, {fleet.data.healthy} healthy,{' '}
            {fleet.data.attention > 0
              ? <a class='bad' href={href('/fleet', { state: 'attention' })}>{fleet.data.attention} need attention</a>
              : '0 need attention'}
          </p>
        )}
      </Card>

      <Card title='Audit trail' tone={tampered > 0 ? 'bad' : audit.data === undefined ? undefined : 'ok'}>
        <ErrorBox error={audit.error} />
        {audit.data !== undefined && (
          <dl>
            {Object.entries(audit.data).filter(([, v]) => typeof v !== 'object').slice(0, 6).map(([k, v]) => <Fragment key={k}><dt>{k}</dt><dd>{String(v)}</dd></Fragment>)}
          </dl>
        )}
        <p>
          Verifications since start: {verifiedOk} ok
          {tampered > 0 ? <>, <a class='bad' href={href('/audit', { tab: 'verify' })}>{tampered} found tampering</a></> : ', none found tampering'}
          {' '}(<a href={href('/audit', { tab: 'verify' })}>run one</a>)
        </p>
        {series.x.length > 1 && <Chart title='Audit ingest (events/s)' x={series.x} series={series.auditRate} height={120} />}
      </Card>

      <Card title='Pipelines'>
        <ErrorBox error={series.error} />
        {series.throughput.length === 0 && <p>No pipeline has handled a record since the server started.</p>}
        {series.throughput.length > 0 && series.x.length > 1 && (
          <>
            <Chart title='Throughput (records/s)' x={series.x} series={series.throughput} />
            <Chart title='Consumer lag (records)' x={series.x} series={series.lag} />
          </>
        )}
      </Card>
    </div>
  )
}
