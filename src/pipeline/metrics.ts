/**
 * Prometheus metrics of every pipeline, registered once per registry (so several pipelines and
 * several servers in one process do not collide). Counters and the latency histogram are
 * labelled by pipeline, topic and event_type.
 *
 * Hot path: prom-client hashes the labels on every inc()/observe(), even through labels()
 * children, which costs more than handling a record. So each (pipeline, topic, event_type) keeps
 * plain numbers (`RecordStats`) that the runtime bumps; they reach prom-client when /metrics is
 * scraped (counters through their collect() hook, the histogram as a collector of its own).
 * Consumer lag and dead-letter topic sizes are read from the log at scrape time.
 */
import { Counter, Gauge, type Registry } from 'prom-client'
import type { Log } from '../log/types.ts'

type Labels = 'pipeline' | 'topic' | 'event_type'

/** Upper bounds of the handler latency histogram (seconds). */
export const durationBuckets = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const

class Distribution {
  readonly counts = new Float64Array(durationBuckets.length)
  sum = 0
  count = 0

  observe (seconds: number): void {
    this.sum += seconds
    this.count++
    for (let i = 0; i < durationBuckets.length; i++) {
      if (seconds <= (durationBuckets[i] as number)) {
        this.counts[i] = (this.counts[i] ?? 0) + 1
        return
      }
    }
  }
}

/** Plain counters of one (pipeline, topic, event_type); bumped by the runtime, read at scrape time. */
export class RecordStats {
  readonly labels: Record<Labels, string>
  consumed = 0
  succeeded = 0
  retried = 0
  deadLettered = 0
  parked = 0
  readonly durationOk = new Distribution()
  readonly durationDead = new Distribution()
  readonly flushed = { consumed: 0, succeeded: 0, retried: 0, deadLettered: 0, parked: 0 }

  constructor (labels: Record<Labels, string>) {
    this.labels = labels
  }
}

export interface PipelineMetricSet {
  /** The stats of one (pipeline, topic, event_type), created on first use. */
  statsFor (pipeline: string, topic: string, eventType: string): RecordStats
  inFlight: Gauge<'pipeline'>
  lag: Gauge<'pipeline' | 'group' | 'topic' | 'partition'>
  dlqSize: Gauge<'pipeline' | 'topic'>
  /** Pipelines whose lag and dead-letter sizes are read at scrape time. */
  sources: Set<LagSource>
}

export interface LagSource {
  pipeline: string
  group: string
  log: Log
  deadLetterTopics (): string[]
}

/** Most (pipeline, topic, event_type) series kept; beyond it, records count under event_type "(other)". */
const maxSeries = 10_000

const sets = new WeakMap<Registry, PipelineMetricSet>()

export function pipelineMetrics (registry: Registry): PipelineMetricSet {
  let set = sets.get(registry)
  if (set !== undefined) return set
  const sources = new Set<LagSource>()
  const stats = new Map<string, RecordStats>()
  const labelNames: Labels[] = ['pipeline', 'topic', 'event_type']

  type Field = 'consumed' | 'succeeded' | 'retried' | 'deadLettered' | 'parked'
  const counter = (name: string, help: string, field: Field) => new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect () {
      for (const s of stats.values()) {
        const delta = s[field] - s.flushed[field]
        if (delta > 0) {
          this.inc(s.labels, delta)
          s.flushed[field] = s[field]
        }
      }
    }
  })
  counter('vigil_pipeline_records_consumed_total', 'Records a pipeline took from its topics (counted at the first attempt).', 'consumed')
  counter('vigil_pipeline_records_succeeded_total', 'Records whose handler succeeded.', 'succeeded')
  counter('vigil_pipeline_records_retried_total', 'Failed attempts that were retried.', 'retried')
  counter('vigil_pipeline_records_dead_lettered_total', 'Records written to a dead-letter topic (parked ones included).', 'deadLettered')
  counter('vigil_pipeline_records_parked_total', 'Dead letters parked because they failed again after the maximum number of redrives.', 'parked')

  const histogramName = 'vigil_pipeline_handler_duration_seconds'
  const histogramHelp = 'Time from a record\'s first attempt to its outcome (succeeded or dead-lettered), retries included.'
  registry.registerMetric({
    name: histogramName,
    help: histogramHelp,
    type: 'histogram',
    aggregator: 'sum',
    get () {
      const values: Array<{ labels: Record<string, string | number>, value: number, metricName: string }> = []
      for (const s of stats.values()) {
        for (const [outcome, d] of [['succeeded', s.durationOk], ['dead-lettered', s.durationDead]] as const) {
          if (d.count === 0) continue
          const labels = { ...s.labels, outcome }
          let cumulative = 0
          durationBuckets.forEach((le, i) => {
            cumulative += d.counts[i] as number
            values.push({ labels: { ...labels, le }, value: cumulative, metricName: `${histogramName}_bucket` })
          })
          values.push({ labels: { ...labels, le: '+Inf' }, value: d.count, metricName: `${histogramName}_bucket` })
          values.push({ labels, value: d.sum, metricName: `${histogramName}_sum` })
          values.push({ labels, value: d.count, metricName: `${histogramName}_count` })
        }
      }
      return { name: histogramName, help: histogramHelp, type: 'histogram', values, aggregator: 'sum' }
    },
    reset () {}
  } as never)

  set = {
    sources,
    statsFor (pipeline, topic, eventType) {
      const key = `${pipeline}\u0000${topic}\u0000${eventType}`
      let s = stats.get(key)
      if (s === undefined) {
        if (stats.size >= maxSeries) return this.statsFor(pipeline, topic, '(other)')
        s = new RecordStats({ pipeline, topic, event_type: eventType })
        stats.set(key, s)
      }
      return s
    },
    inFlight: new Gauge({ name: 'vigil_pipeline_records_in_flight', help: 'Records polled and not yet finished.', labelNames: ['pipeline'], registers: [registry] }),
    lag: new Gauge({
      name: 'vigil_pipeline_consumer_lag',
      help: 'Records not yet committed by the pipeline\'s consumer group, per partition.',
      labelNames: ['pipeline', 'group', 'topic', 'partition'],
      registers: [registry],
      async collect () {
        this.reset()
        await Promise.all([...sources].map(async (source) => {
          try {
            const group = await source.log.admin.describeGroup(source.group)
            for (const p of group.offsets) this.set({ pipeline: source.pipeline, group: source.group, topic: p.topic, partition: String(p.partition) }, p.lag)
          } catch {
            // The group may not exist yet (nothing committed); no series then.
          }
        }))
      }
    }),
    dlqSize: new Gauge({
      name: 'vigil_pipeline_dlq_records',
      help: 'Records stored in a pipeline\'s dead-letter topic.',
      labelNames: ['pipeline', 'topic'],
      registers: [registry],
      async collect () {
        this.reset()
        await Promise.all([...sources].flatMap(source => source.deadLetterTopics().map(async (topic) => {
          try {
            const description = await source.log.admin.describeTopic(topic)
            this.set({ pipeline: source.pipeline, topic }, description.partitions.reduce((n, p) => n + p.highOffset - p.lowOffset, 0))
          } catch {
            this.set({ pipeline: source.pipeline, topic }, 0)
          }
        })))
      }
    })
  }
  sets.set(registry, set)
  return set
}
