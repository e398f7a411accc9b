/** Reads the few series the overview plots out of /metrics' Prometheus text. */
export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

export function parsePrometheus (text: string): Sample[] {
  const out: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)/.exec(line)
    if (m === null) continue
    const labels: Record<string, string> = {}
    const body = m[3]
    if (body !== undefined) {
      for (const l of body.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, '$1')
    }
    out.push({ name: m[1] as string, labels, value: Number(m[4]) })
  }
  return out
}

/** Sum of a metric's samples grouped by one label. */
export function sumBy (samples: readonly Sample[], name: string, label: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const s of samples) {
    if (s.name !== name) continue
    const key = s.labels[label] ?? ''
    out.set(key, (out.get(key) ?? 0) + s.value)
  }
  return out
}
