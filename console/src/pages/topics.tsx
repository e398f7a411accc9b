/**
 * Topics and groups: every topic with partitions, offsets and retention, a sample of its newest
 * records decoded, and consumer groups with lag per partition (the log API of src/console).
 */
import { api } from '../api.ts'
import { href } from '../router.ts'
import { ErrorBox, Json, time, useLoad } from '../ui.tsx'

interface TopicRow { name: string, partitions: number, records: number, retentionMs: number, retentionBytes: number, cleanupPolicy: string }
interface TopicDescription { name: string, config: Record<string, unknown>, partitions: Array<{ partition: number, lowOffset: number, highOffset: number }> }
interface Sample { records: Array<{ partition: number, offset: number, timestamp: number, key: string | null, value: { format: string, value: unknown } | null }> }
interface GroupRow { group: string, state: string, members: number, totalLag: number }
interface Group { group: string, state: string, offsets: Array<{ topic: string, partition: number, committedOffset: number | null, highOffset: number, lag: number }> }

export function TopicsPage ({ params }: { params: URLSearchParams }) {
  const topics = useLoad(() => api<{ topics: TopicRow[] }>('/v1/log/topics'), [])
  const groups = useLoad(() => api<{ groups: GroupRow[] }>('/v1/log/groups'), [])
  const topic = params.get('topic')
  const group = params.get('group')
  return (
    <div>
      <ErrorBox error={topics.error ?? groups.error} />
      <div class='grid two'>
        <section class='card' aria-label='Topics'>
          <h2>Topics</h2>
          <div class='scroll'>
            <table>
              <thead><tr><th scope='col'>Topic</th><th scope='col'>Partitions</th><th scope='col'>Records</th><th scope='col'>Retention</th><th scope='col'>Cleanup</th></tr></thead>
              <tbody>
                {(topics.data?.topics ?? []).map(t => (
                  <tr key={t.name}>
                    <td><a href={href('/topics', { topic: t.name })}>{t.name}</a></td>
                    <td>{t.partitions}</td><td>{t.records}</td>
                    <td>{retention(t.retentionMs, t.retentionBytes)}</td><td>{t.cleanupPolicy}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
        <section class='card' aria-label='Consumer groups'>
          <h2>Consumer groups</h2>
          <div class='scroll'>
            <table>
              <thead><tr><th scope='col'>Group</th><th scope='col'>State</th><th scope='col'>Members</th><th scope='col'>Lag</th></tr></thead>
              <tbody>
                {(groups.data?.groups ?? []).map(g => (
                  <tr key={g.group} class={g.totalLag > 0 ? 'warn' : ''}>
                    <td><a href={href('/topics', { group: g.group })}>{g.group}</a></td><td>{g.state}</td><td>{g.members}</td><td>{g.totalLag}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      </div>
      {topic !== null && <TopicDetail topic={topic} />}
      {group !== null && <GroupDetail group={group} />}
    </div>
  )
}

function TopicDetail ({ topic }: { topic: string }) {
  const d = useLoad(() => api<TopicDescription>(`/v1/log/topics/${encodeURIComponent(topic)}`), [topic])
  const sample = useLoad(() => api<Sample>(`/v1/log/topics/${encodeURIComponent(topic)}/records?limit=10`), [topic])
  return (
    <section class='card' aria-label={`Topic ${topic}`}>
      <h2>Topic {topic}</h2>
      <ErrorBox error={d.error ?? sample.error} />
      {d.data !== undefined && (
        <>
          <table>
            <thead><tr><th scope='col'>Partition</th><th scope='col'>Low offset</th><th scope='col'>High offset</th><th scope='col'>Records</th></tr></thead>
            <tbody>{d.data.partitions.map(p => <tr key={p.partition}><td>{p.partition}</td><td>{p.lowOffset}</td><td>{p.highOffset}</td><td>{p.highOffset - p.lowOffset}</td></tr>)}</tbody>
          </table>
          <h3>Config</h3>
          <Json value={d.data.config} />
        </>
      )}
      <h3>Newest records</h3>
      {sample.data?.records.length === 0 && <p>The topic holds no records.</p>}
      {(sample.data?.records ?? []).map(r => (
        <details key={`${r.partition}:${r.offset}`}>
          <summary>{r.partition}:{r.offset} at {time(r.timestamp)}{r.key === null ? '' : ` key ${r.key}`} ({r.value?.format ?? 'null'})</summary>
          <Json value={r.value?.value ?? null} />
        </details>
      ))}
    </section>
  )
}

function GroupDetail ({ group }: { group: string }) {
  const d = useLoad(() => api<Group>(`/v1/log/groups/${encodeURIComponent(group)}`), [group])
  return (
    <section class='card' aria-label={`Group ${group}`}>
      <h2>Group {group}</h2>
      <ErrorBox error={d.error} />
      {d.data !== undefined && (
        <table>
          <thead><tr><th scope='col'>Topic</th><th scope='col'>Partition</th><th scope='col'>Committed</th><th scope='col'>High offset</th><th scope='col'>Lag</th></tr></thead>
          <tbody>{d.data.offsets.map(o => <tr key={`${o.topic}:${o.partition}`}><td>{o.topic}</td><td>{o.partition}</td><td>{o.committedOffset ?? 'none'}</td><td>{o.highOffset}</td><td>{o.lag}</td></tr>)}</tbody>
        </table>
      )}
    </section>
  )
}

function retention (ms: number, bytes: number): string {
  const time = ms < 0 ? 'forever' : ms % 86_400_000 === 0 ? `${ms / 86_400_000} d` : ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : `${ms} ms`
  return bytes < 0 ? time : `${time}, ${bytes} B/partition`
}
