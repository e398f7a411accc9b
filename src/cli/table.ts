import type { Writable } from 'node:stream'

/** Left-aligned columns separated by two spaces, like kubectl and kafka-consumer-groups. */
export function printTable (out: Writable, header: string[], rows: Array<Array<string | number>>): void {
  const cells = [header, ...rows.map(r => r.map(String))]
  const widths = header.map((_, i) => Math.max(...cells.map(r => (r[i] ?? '').length)))
  out.write(cells.map(r => r.map((c, i) => i === r.length - 1 ? c : (c ?? '').padEnd(widths[i] ?? 0)).join('  ')).join('\n') + '\n')
}
