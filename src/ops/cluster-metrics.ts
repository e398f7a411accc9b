/**
 * The gauges the DORA alerts need, computed when Prometheus scrapes /metrics (one read of the
 * cluster per scrape, shared by every gauge):
 * - consumer lag per group and partition (both backends, from the log's admin);
 * - under-replicated and offline partitions per topic, and how long a replica has been out of
 *   sync (Kafka, from the cluster's metadata: a replica missing from the ISR is behind its
 *   leader; the time since a scrape first saw it missing is the replication lag this process
 *   can measure without the brokers' JMX);
 * - the schema registry's availability (Vigil's own: its `_schemas` topic answers; external:
 *   GET /subjects answers 200);
 * - the disk use of the embedded log's volume.
 * Dead letters and pipeline stalls come from the pipelines' own metrics (vigil_pipeline_*).
 */
import { statfs } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import type { Admin } from '@platformatic/kafka'
import { Gauge } from 'prom-client'
import { parseLogUrl } from '../log/open.ts'
import type { Log } from '../log/types.ts'
import type { ServerComponent, ServerContext } from '../server.ts'

interface Snapshot {
  lag: Array<{ group: string, topic: string, partition: number, lag: number }>
  underReplicated: Map<string, number>
  offline: Map<string, number>
  outOfSyncSeconds: Array<{ topic: string, partition: number, seconds: number }>
  brokers: number | undefined
  registryUp: number
  disk: { used: number, total: number } | undefined
}

export function createClusterMetricsComponent (context: ServerContext): ServerComponent {
  const { config, metrics } = context
  const registers = [metrics.registry]
  let log: Log | undefined
  let pending: Promise<Snapshot> | undefined
  let takenAt = 0
  // Partition → when a scrape first saw a replica missing from its ISR.
  const outOfSyncSince = new Map<string, number>()
  // Kept so that stop() can take them off the registry (a test may build several servers on one).
  const registered: Gauge[] = []

  const snapshot = (): Promise<Snapshot> => {
    // Every gauge's collect asks; the first one of a scrape reads the cluster.
    if (pending === undefined || Date.now() - takenAt > 1000) {
      takenAt = Date.now()
      pending = read()
    }
    return pending
  }

  async function read (): Promise<Snapshot> {
    const out: Snapshot = { lag: [], underReplicated: new Map(), offline: new Map(), outOfSyncSeconds: [], brokers: undefined, registryUp: 0, disk: undefined }
    if (log === undefined) return out
    const [lag, cluster, registryUp, disk] = await Promise.all([readLag(log), readCluster(log), registryAnswers(log), diskUse()])
    Object.assign(out, { lag, registryUp, disk }, cluster)
    return out
  }

  async function readLag (on: Log): Promise<Snapshot['lag']> {
    const out: Snapshot['lag'] = []
    const groups = await on.admin.listGroups().catch(() => [])
    for (const group of groups) {
      const described = await on.admin.describeGroup(group).catch(() => undefined)
      for (const o of described?.offsets ?? []) out.push({ group, topic: o.topic, partition: o.partition, lag: o.lag })
    }
    return out
  }

  async function readCluster (on: Log): Promise<Pick<Snapshot, 'underReplicated' | 'offline' | 'outOfSyncSeconds' | 'brokers'>> {
    const out = { underReplicated: new Map<string, number>(), offline: new Map<string, number>(), outOfSyncSeconds: [] as Snapshot['outOfSyncSeconds'], brokers: undefined as number | undefined }
    const admin = (on as Log & { adminClient?: () => Admin }).adminClient?.()
    if (admin === undefined) return out
    try {
      const topics = await admin.listTopics({ includeInternals: true })
      const metadata = await admin.metadata({ topics, forceUpdate: true })
      out.brokers = metadata.brokers.size
      const now = Date.now()
      const seen = new Set<string>()
      for (const [name, topic] of metadata.topics) {
        let under = 0
        let offline = 0
        topic.partitions.forEach((p, partition) => {
          if (p === undefined) return
          if (p.leader < 0) offline++
          if (p.isr.length < p.replicas.length) {
            under++
            const key = `${name}\0${partition}`
            seen.add(key)
            const since = outOfSyncSince.get(key) ?? now
            outOfSyncSince.set(key, since)
            out.outOfSyncSeconds.push({ topic: name, partition, seconds: (now - since) / 1000 })
          }
        })
        out.underReplicated.set(name, under)
        out.offline.set(name, offline)
      }
      for (const key of outOfSyncSince.keys()) if (!seen.has(key)) outOfSyncSince.delete(key)
    } catch {
      // The cluster does not answer: vigil_log_up says so; these gauges keep no stale values.
    }
    return out
  }

  async function registryAnswers (on: Log): Promise<number> {
    const sr = config.schemaRegistry
    try {
      if (sr.url === '') {
        await on.admin.describeTopic(sr.topic)
        return 1
      }
      const headers: Record<string, string> = {}
      if (sr.username !== '') headers.authorization = `Basic ${Buffer.from(`${sr.username}:${sr.password}`).toString('base64')}`
      const response = await fetch(new URL('subjects', sr.url.endsWith('/') ? sr.url : `${sr.url}/`), { headers, signal: AbortSignal.timeout(sr.requestTimeoutMs) })
      await response.body?.cancel()
      return response.ok ? 1 : 0
    } catch {
      return 0
    }
  }

  async function diskUse (): Promise<Snapshot['disk']> {
    const location = parseLogUrl(config.log.url)
    if (location.kind !== 'embedded') return undefined
    try {
      const stats = await statfs(dirname(resolve(location.path)))
      const total = stats.blocks * stats.bsize
      return { total, used: total - stats.bavail * stats.bsize }
    } catch {
      return undefined
    }
  }

  registered.push(new Gauge({
    name: 'vigil_consumer_group_lag',
    help: 'Records a consumer group has not committed yet, per group, topic and partition (high watermark minus committed offset).',
    labelNames: ['group', 'topic', 'partition'],
    registers,
    async collect () {
      this.reset()
      for (const l of (await snapshot()).lag) this.set({ group: l.group, topic: l.topic, partition: String(l.partition) }, l.lag)
    }
  }))
  registered.push(new Gauge({
    name: 'vigil_cluster_under_replicated_partitions',
    help: 'Kafka: partitions of a topic with a replica missing from the in-sync set (from the cluster metadata).',
    labelNames: ['topic'],
    registers,
    async collect () {
      this.reset()
      for (const [topic, n] of (await snapshot()).underReplicated) this.set({ topic }, n)
    }
  }))
  registered.push(new Gauge({
    name: 'vigil_cluster_offline_partitions',
    help: 'Kafka: partitions of a topic with no leader (unreadable and unwritable).',
    labelNames: ['topic'],
    registers,
    async collect () {
      this.reset()
      for (const [topic, n] of (await snapshot()).offline) this.set({ topic }, n)
    }
  }))
  registered.push(new Gauge({
    name: 'vigil_cluster_replication_lag_seconds',
    help: 'Kafka: how long a replica of the partition has been out of the in-sync set, as seen by this process\'s scrapes (absent while every replica is in sync).',
    labelNames: ['topic', 'partition'],
    registers,
    async collect () {
      this.reset()
      for (const s of (await snapshot()).outOfSyncSeconds) this.set({ topic: s.topic, partition: String(s.partition) }, s.seconds)
    }
  }))
  registered.push(new Gauge({
    name: 'vigil_cluster_brokers',
    help: 'Kafka: brokers in the cluster metadata (alive and registered); 0 on the embedded log.',
    registers,
    async collect () {
      this.reset()
      const brokers = (await snapshot()).brokers
      if (brokers !== undefined) this.set(brokers)
    }
  }))
  registered.push(new Gauge({
    name: 'vigil_schema_registry_up',
    help: '1 while the schema registry answers (Vigil\'s own: its topic is readable; external: GET /subjects is 200), 0 otherwise.',
    registers,
    async collect () { this.set((await snapshot()).registryUp) }
  }))
  registered.push(new Gauge({
    name: 'vigil_log_disk_used_ratio',
    help: 'Embedded log: the used fraction (0 to 1) of the volume that holds the log\'s file.',
    registers,
    async collect () {
      this.reset()
      const disk = (await snapshot()).disk
      if (disk !== undefined && disk.total > 0) this.set(disk.used / disk.total)
    }
  }))
  registered.push(new Gauge({
    name: 'vigil_log_disk_used_bytes',
    help: 'Embedded log: bytes used on the volume that holds the log\'s file.',
    registers,
    async collect () {
      this.reset()
      const disk = (await snapshot()).disk
      if (disk !== undefined) this.set(disk.used)
    }
  }))

  return {
    name: 'cluster-metrics',
    async start (connected) { log = connected },
    async stop () {
      log = undefined
      for (const gauge of registered) metrics.registry.removeSingleMetric((gauge as unknown as { name: string }).name)
    }
  }
}
