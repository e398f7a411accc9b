/**
 * The metric names a real `vigil serve` (every component, embedded log) lists at GET /metrics,
 * plus the pipelines' (registered once a pipeline runs, so taken from their own set here).
 */
import { Registry } from 'prom-client'
import { pipelineMetrics } from '../../src/pipeline/metrics.ts'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { serverComponents } from '../../src/components.ts'
import { validateConfig } from '../../src/config/load.ts'
import { createLogger } from '../../src/logger.ts'
import { startServer } from '../../src/server.ts'

export async function exportedMetricNames (): Promise<Set<string>> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-metrics-'))
  const config = validateConfig({ log: { url: `embedded:${join(dir, 'vigil.db')}` }, server: { port: 0 } })
  const server = await startServer(config, { logger: createLogger({ logging: { level: 'silent' } }), components: serverComponents })
  try {
    await server.ready
    const text = await (await fetch(`${server.url}/metrics`)).text()
    const pipelines = new Registry()
    pipelineMetrics(pipelines)
    const names = [...text.matchAll(/^# TYPE (\S+) /gm)].map(m => m[1] as string)
    return new Set([...names, ...pipelines.getMetricsAsArray().map(m => m.name)])
  } finally {
    await server.close()
    rmSync(dir, { recursive: true, force: true })
  }
}
