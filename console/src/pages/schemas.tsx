/**
 * Schemas: subjects and their versions, a line diff between two versions, the compatibility
 * level, and a check of a pasted schema against the subject (the registry names the offending
 * field). Reads the Confluent REST API at the registry's prefix.
 */
import { detach } from '../detach.ts'
import { useState } from 'preact/hooks'
import { diffLines } from 'diff'
import { api } from '../api.ts'
import { href } from '../router.ts'
import { ErrorBox, Notice, useLoad } from '../ui.tsx'

interface ConsoleConfig { registryPrefix: string | null }
interface SchemaVersion { subject: string, version: number, id: number, schemaType?: string, schema: string }
interface Compatibility { is_compatible: boolean, messages?: string[] }

export function SchemasPage ({ params }: { params: URLSearchParams }) {
  const config = useLoad(() => api<ConsoleConfig>('/v1/console/config'), [])
  const prefix = config.data?.registryPrefix
  const subjects = useLoad(async () => prefix === undefined || prefix === null ? undefined : await api<string[]>(`${prefix}/subjects`), [prefix])
  const subject = params.get('subject') ?? ''
  if (config.data !== undefined && prefix === null) return <Notice>This server uses an external schema registry (schemaRegistry.url); open its own console.</Notice>
  return (
    <div class='split'>
      <nav aria-label='Subjects' class='side'>
        <ErrorBox error={config.error ?? subjects.error} />
        {subjects.data?.length === 0 && <p>No subjects registered.</p>}
        <ul>
          {(subjects.data ?? []).slice().sort().map(s => <li key={s}><a href={href('/schemas', { subject: s })} aria-current={s === subject ? 'page' : undefined}>{s}</a></li>)}
        </ul>
      </nav>
      {prefix !== undefined && prefix !== null && subject !== '' && <Subject prefix={prefix} subject={subject} />}
      {subject === '' && <Notice>Pick a subject.</Notice>}
    </div>
  )
}

function Subject ({ prefix, subject }: { prefix: string, subject: string }) {
  const base = `${prefix}/subjects/${encodeURIComponent(subject)}`
  const versions = useLoad(() => api<number[]>(`${base}/versions`), [subject])
  const level = useLoad(async () => {
    try {
      return (await api<{ compatibilityLevel: string }>(`${prefix}/config/${encodeURIComponent(subject)}?defaultToGlobal=true`)).compatibilityLevel
    } catch {
      return (await api<{ compatibilityLevel: string }>(`${prefix}/config`)).compatibilityLevel
    }
  }, [subject])
  const list = versions.data ?? []
  const [left, setLeft] = useState<number | null>(null)
  const [right, setRight] = useState<number | null>(null)
  const a = left ?? list.at(-2) ?? list.at(-1) ?? null
  const b = right ?? list.at(-1) ?? null
  const pair = useLoad(async () => {
    if (a === null || b === null) return undefined
    const [x, y] = await Promise.all([a, b].map(v => api<SchemaVersion>(`${base}/versions/${v}`)))
    return [x!, y!] as const
  }, [subject, a, b])
  const pick = (value: number | null, set: (v: number) => void, label: string) => (
    <label>{label}
      <select value={value ?? ''} onChange={e => set(Number((e.target as HTMLSelectElement).value))}>
        {list.map(v => <option key={v} value={v}>{v}</option>)}
      </select>
    </label>
  )
  return (
    <section class='main' aria-label={`Subject ${subject}`}>
      <h2>{subject}</h2>
      <ErrorBox error={versions.error ?? level.error ?? pair.error} />
      <p>Versions: {list.join(', ')}. Compatibility level: <strong data-testid='compat-level'>{level.data ?? '…'}</strong>.</p>
      <div class='filters'>{pick(a, setLeft, 'From version')}{pick(b, setRight, 'To version')}</div>
      {pair.data !== undefined && <Diff from={pretty(pair.data[0].schema)} to={pretty(pair.data[1].schema)} />}
      <Check base={prefix} subject={subject} schemaType={pair.data?.[1].schemaType ?? 'AVRO'} />
    </section>
  )
}

function Diff ({ from, to }: { from: string, to: string }) {
  const parts = diffLines(from, to)
  return (
    <pre class='diff' tabIndex={0} aria-label='Schema diff'>
      {parts.map((p, i) => <span key={i} class={p.added ? 'add' : p.removed ? 'del' : ''}>{p.value.split('\n').filter((l, j, all) => j < all.length - 1 || l !== '').map(l => `${p.added ? '+ ' : p.removed ? '- ' : '  '}${l}\n`).join('')}</span>)}
    </pre>
  )
}

function Check ({ base, subject, schemaType }: { base: string, subject: string, schemaType: string }) {
  const [text, setText] = useState('')
  const [result, setResult] = useState<Compatibility | null>(null)
  const [error, setError] = useState<Error | undefined>(undefined)
  const run = async (): Promise<void> => {
    setResult(null); setError(undefined)
    try {
      JSON.parse(text)
    } catch (e) {
      setError(new Error(`The pasted schema is not JSON: ${(e as Error).message}`))
      return
    }
    try {
      setResult(await api<Compatibility>(`${base}/compatibility/subjects/${encodeURIComponent(subject)}/versions/latest?verbose=true`, { method: 'POST', body: { schema: text, schemaType } }))
    } catch (e) { setError(e as Error) }
  }
  return (
    <form class='check' onSubmit={e => { e.preventDefault(); detach(run()) }}>
      <label for='pasted'>Check a schema against {subject} (latest version)</label>
      <textarea id='pasted' rows={8} value={text} onInput={e => setText((e.target as HTMLTextAreaElement).value)} />
      <button type='submit'>Check compatibility</button>
      <ErrorBox error={error} />
      {result !== null && (
        <div role='status' class={result.is_compatible ? 'success' : 'error'} data-testid='compat-result'>
          <p>{result.is_compatible ? 'Compatible.' : 'Not compatible.'}</p>
          {(result.messages ?? []).length > 0 && <ul>{result.messages?.map((m, i) => <li key={i}>{m}</li>)}</ul>}
        </div>
      )}
    </form>
  )
}

function pretty (schema: string): string {
  try { return JSON.stringify(JSON.parse(schema), null, 2) } catch { return schema }
}
