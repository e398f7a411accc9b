/** Small pieces every page uses: loading a resource, showing its error, a chart. */
import { useEffect, useRef, useState } from 'preact/hooks'
import type { ComponentChildren } from 'preact'
import UPlot from 'uplot'
import { ApiError } from './api.ts'

export interface Loaded<T> {
  data: T | undefined
  error: Error | undefined
  loading: boolean
  reload: () => void
}

/** Runs `load` when `deps` change (and on reload()), keeping the last data while reloading. */
export function useLoad<T> (load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined, error: Error | undefined, loading: boolean }>({ data: undefined, error: undefined, loading: true })
  const [tick, setTick] = useState(0)
  useEffect(() => {
    const abort = new AbortController()
    setState(s => ({ ...s, loading: true }))
    load(abort.signal).then(
      data => { if (!abort.signal.aborted) setState({ data, error: undefined, loading: false }) },
      (error: Error) => { if (!abort.signal.aborted) setState(s => ({ data: s.data, error, loading: false })) }
    )
    return () => abort.abort()
  }, [...deps, tick])
  return { ...state, reload: () => setTick(t => t + 1) }
}

export function ErrorBox ({ error }: { error: Error | undefined | null }) {
  if (error === undefined || error === null) return null
  const code = error instanceof ApiError && error.code !== undefined ? ` (${error.code})` : ''
  return <p class='error' role='alert'>{error.message}{code}</p>
}

export function Notice ({ children }: { children: ComponentChildren }) {
  return <p class='notice' role='status'>{children}</p>
}

export function Card ({ title, children, tone }: { title: string, children: ComponentChildren, tone?: 'ok' | 'bad' | undefined }) {
  return (
    <section class={`card ${tone ?? ''}`} aria-label={title}>
      <h2>{title}</h2>
      {children}
    </section>
  )
}

export function Json ({ value }: { value: unknown }) {
  return <pre class='json' tabIndex={0}>{JSON.stringify(value, null, 2)}</pre>
}

export function time (ms: number | string | null | undefined): string {
  if (ms === null || ms === undefined || ms === '') return ''
  const d = new Date(typeof ms === 'number' ? ms : Date.parse(ms))
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z')
}

export interface Series {
  label: string
  values: number[]
}

/** A time-series plot through uPlot; x are epoch seconds. */
export function Chart ({ title, x, series, height = 160 }: { title: string, x: number[], series: Series[], height?: number }) {
  const box = useRef<HTMLDivElement>(null)
  const plot = useRef<UPlot | null>(null)
  const shape = series.map(s => s.label).join('\u0000')
  useEffect(() => {
    const el = box.current
    if (el === null) return
    const colours = ['#1d5fd1', '#b3261e', '#1b7f3b', '#8a4f00', '#6b3fa0']
    const opts: UPlot.Options = {
      title,
      width: Math.max(200, el.clientWidth),
      height,
      series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: colours[i % colours.length] as string, width: 2 }))],
      axes: [{ stroke: '#333' }, { stroke: '#333' }]
    }
    plot.current = new UPlot(opts, [x, ...series.map(s => s.values)], el)
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(200, el.clientWidth), height }))
    resize.observe(el)
    return () => { resize.disconnect(); plot.current?.destroy(); plot.current = null }
  }, [shape, title, height])
  useEffect(() => { plot.current?.setData([x, ...series.map(s => s.values)]) })
  return <div class='chart' ref={box} role='img' aria-label={`${title}: ${series.map(s => `${s.label} ${s.values.at(-1) ?? 0}`).join(', ')}`} />
}
