/**
 * A real Apache Kafka (KRaft, no ZooKeeper) on loopback, for tests, benchmarks and local development.
 *
 *   npm run kafka                      one broker (combined broker + controller) on 127.0.0.1:19092
 *   npm run kafka -- --brokers 3       three brokers, replication factor 3, min.insync.replicas=2
 *   npm run kafka -- --port 19110 --data ./data/kafka
 *
 * As a module (the test orchestrator and bench/ use it):
 *
 *   const kafka = await startKafka({ brokers: 3 })
 *   process.env.TEST_KAFKA = kafka.bootstrap
 *   await kafka.killBroker(2)          // SIGKILL one JVM; startBroker(2) brings it back
 *   await kafka.stop()                 // stops every JVM, removes temp data
 *
 * The jars come from Maven Central through mvn, once (scripts/kafka/classpath.ts). Each JVM's
 * output goes to a log file (printed on start), never to the terminal. A JVM also dies when the
 * Node process that started it dies, even by SIGKILL: a watcher shell holds a pipe to Node.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, openSync, closeSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { Admin, FindCoordinatorKeyTypes } from '@platformatic/kafka'
import { cacheDir, kafkaRuntime, KafkaScriptError, kafkaVersion, type KafkaRuntime } from './kafka/classpath.ts'

export { KafkaScriptError, kafkaRuntime, kafkaVersion }

const host = '127.0.0.1'
const firstDefaultPort = 19092
const lastDefaultPort = 19199

export interface StartKafkaOptions {
  /** Number of brokers, each a combined broker + controller (default 1). */
  brokers?: number
  /** Client port of the first broker; the others follow. Default: the first free block from 19092. */
  port?: number
  /** Controller port of the first broker; the others follow. Default: right after the client ports. */
  controllerPort?: number
  /** Where the brokers keep their data; kept (and reused when formatted) when given, else a temp dir removed by stop(). */
  dataDir?: string
  /** Heap of each JVM in MiB (default 512 for one broker, 384 each for more). */
  heapMb?: number
  /** How long to wait for the cluster to answer (default 120 s). */
  readyTimeoutMs?: number
  /** Extra broker settings (server.properties keys), applied last. */
  config?: Record<string, string | number | boolean>
  /** Progress lines (resolving jars, starting); default: silent. */
  log?: (line: string) => void
  /**
   * Authentication on the client listener (the `bootstrap` ports): SASL PLAIN, SCRAM-SHA-256 and
   * SCRAM-SHA-512 for these users, over TLS when `tls` is set (a throwaway CA, see
   * KafkaCluster.caFile). Brokers then talk to each other on extra PLAINTEXT ports
   * (`internalBootstrap`), after the controller ports.
   *
   * `authorizer` turns on Kafka's StandardAuthorizer, so that ACLs are enforced on the client
   * listener: only `superUsers` (and the unauthenticated internal and controller listeners, whose
   * principal is ANONYMOUS) may act without an ACL. Off by default: every user may do anything.
   */
  security?: { users: Record<string, string>, tls?: boolean, authorizer?: { superUsers: string[] } }
}

export interface KafkaBroker {
  readonly nodeId: number
  readonly port: number
  readonly controllerPort: number
  /** `127.0.0.1:<port>`. */
  readonly address: string
  /** `127.0.0.1:<port>` of the PLAINTEXT listener the brokers use among themselves (= address without `security`). */
  readonly internalAddress: string
  /** The JVM's stdout and stderr. */
  readonly logFile: string
  /** The JVM's pid while it runs. */
  readonly pid: number | undefined
  readonly running: boolean
}

export interface KafkaCluster {
  /** Comma-separated `host:port` list of every broker, for bootstrap.servers or kafka:// URLs. */
  readonly bootstrap: string
  /** The same for the unauthenticated PLAINTEXT listeners (= bootstrap without `security`). */
  readonly internalBootstrap: string
  /** PEM file of the CA that signed the brokers' certificates, with `security.tls`. */
  readonly caFile: string | undefined
  readonly brokers: readonly KafkaBroker[]
  readonly dataDir: string
  /** Stops every JVM (SIGTERM, then SIGKILL after 10 s) and removes temp data. Idempotent. */
  stop (): Promise<void>
  /** Kills one broker's JVM with SIGKILL (index from 0) and waits for it to exit. */
  killBroker (index: number): Promise<void>
  /** Starts a stopped broker again and waits until the cluster lists it. */
  startBroker (index: number): Promise<void>
}

interface BrokerState {
  nodeId: number
  port: number
  controllerPort: number
  address: string
  internalAddress: string
  dir: string
  logFile: string
  /** Whether the broker should be running (false after kill or stop). */
  wanted: boolean
  child: ChildProcess | undefined
  pid: number | undefined
  exited: Promise<number | null> | undefined
}

export async function startKafka (options: StartKafkaOptions = {}): Promise<KafkaCluster> {
  const count = options.brokers ?? 1
  if (!Number.isInteger(count) || count < 1 || count > 9) {
    throw new KafkaScriptError('KAFKA_BAD_OPTION', `brokers must be an integer from 1 to 9, got ${count}`, 'Use --brokers 1 or --brokers 3.')
  }
  const log = options.log ?? (() => {})
  const runtime = await kafkaRuntime({ log })
  // Auto-picked ports can race with another start on the same machine: try the next block then.
  for (let attempt = 0; ; attempt++) {
    const ports = await choosePorts(count, options, attempt)
    try {
      return await startCluster(runtime, count, ports, options, log)
    } catch (error) {
      const retry = options.port === undefined && attempt < 3 && error instanceof KafkaScriptError && error.code === 'KAFKA_PORT_IN_USE'
      if (!retry) throw error
      log(`ports ${ports.port}… were taken meanwhile; trying the next ones`)
    }
  }
}

interface Ports { port: number, controllerPort: number }

/** Client ports, then controller ports, then (with `security`) internal PLAINTEXT ports. */
async function choosePorts (count: number, options: StartKafkaOptions, attempt: number): Promise<Ports> {
  const kinds = options.security === undefined ? 2 : 3
  const portsOf = (port: number, controllerPort: number) => [
    ...Array.from({ length: count }, (_, i) => port + i),
    ...Array.from({ length: (kinds - 1) * count }, (_, i) => controllerPort + i)
  ]
  if (options.port !== undefined) {
    const controllerPort = options.controllerPort ?? options.port + count
    const busy = (await Promise.all(portsOf(options.port, controllerPort).map(async p => await isPortFree(p) ? undefined : p))).filter(p => p !== undefined)
    if (busy.length > 0) {
      throw new KafkaScriptError('KAFKA_PORT_IN_USE', `port${busy.length > 1 ? 's' : ''} ${busy.join(', ')} on ${host} already in use`,
        'Another Kafka may be running (stop it), or pick other ports with --port N (and --controller-port N).')
    }
    return { port: options.port, controllerPort }
  }
  let skipped = 0
  for (let port = firstDefaultPort; port + kinds * count - 1 <= lastDefaultPort; port += kinds * count) {
    const controllerPort = options.controllerPort ?? port + count
    const free = await Promise.all(portsOf(port, controllerPort).map(isPortFree))
    if (free.every(Boolean) && skipped++ >= attempt) return { port, controllerPort }
  }
  throw new KafkaScriptError('KAFKA_PORT_IN_USE', `no ${kinds * count} free ports between ${firstDefaultPort} and ${lastDefaultPort}`,
    'Stop Kafkas you no longer need, or choose ports with --port N.')
}

function isPortFree (port: number): Promise<boolean> {
  return new Promise(resolve => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)))
  })
}

async function startCluster (runtime: KafkaRuntime, count: number, ports: Ports, options: StartKafkaOptions, log: (line: string) => void): Promise<KafkaCluster> {
  const temporary = options.dataDir === undefined
  const dataDir = temporary ? await mkdtemp(join(tmpdir(), 'vigil-kafka-')) : resolve(options.dataDir as string)
  const logDir = temporary ? join(cacheDir, 'logs') : join(dataDir, 'logs')
  await mkdir(logDir, { recursive: true })

  const brokers: BrokerState[] = Array.from({ length: count }, (_, i) => ({
    nodeId: i + 1,
    port: ports.port + i,
    controllerPort: ports.controllerPort + i,
    address: `${host}:${ports.port + i}`,
    internalAddress: `${host}:${options.security === undefined ? ports.port + i : ports.controllerPort + count + i}`,
    dir: join(dataDir, `node-${i + 1}`),
    logFile: join(logDir, `broker-${ports.port + i}.log`),
    wanted: false,
    child: undefined,
    pid: undefined,
    exited: undefined
  }))
  const bootstrap = brokers.map(b => b.address).join(',')
  const tlsDir = options.security?.tls === true ? join(dataDir, 'tls') : undefined
  let stopped = false

  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    // Temp data is thrown away, so there is nothing to shut down cleanly for: SIGKILL is instant,
    // while a controlled shutdown of several brokers stalls once the controller quorum is gone.
    await Promise.all(brokers.map(b => temporary ? stopBroker(b, 'SIGKILL', 0) : stopBroker(b, 'SIGTERM', 10_000)))
    if (temporary) await rm(dataDir, { recursive: true, force: true, maxRetries: 3 })
  }

  try {
    const clusterId = await clusterIdOf(dataDir)
    const voters = brokers.map(b => `${b.nodeId}@${host}:${b.controllerPort}`).join(',')
    if (tlsDir !== undefined && !existsSync(join(tlsDir, 'server.pem'))) await makeCertificates(tlsDir)
    await Promise.all(brokers.map(async b => {
      await mkdir(b.dir, { recursive: true })
      await writeFile(b.logFile, '')
      await writeFile(join(b.dir, 'server.properties'), serverProperties(b, count, voters, options.config, options.security, tlsDir))
      if (!existsSync(join(b.dir, 'data', 'meta.properties'))) await format(runtime, b, clusterId, options.security?.users ?? {})
    }))
    log(`starting ${count} Kafka ${kafkaVersion} broker${count > 1 ? 's' : ''} on ${bootstrap} (logs: ${brokers.map(b => b.logFile).join(', ')})`)
    const heapMb = options.heapMb ?? (count === 1 ? 512 : 384)
    for (const b of brokers) await launch(runtime, b, heapMb)
    await waitReady(brokers, options.readyTimeoutMs ?? 120_000)
  } catch (error) {
    await stop()
    throw error
  }

  const view = (b: BrokerState): KafkaBroker => ({
    nodeId: b.nodeId,
    port: b.port,
    controllerPort: b.controllerPort,
    address: b.address,
    internalAddress: b.internalAddress,
    logFile: b.logFile,
    get pid () { return b.pid },
    get running () { return b.child !== undefined }
  })
  const brokerAt = (index: number): BrokerState => {
    const b = brokers[index]
    if (b === undefined) throw new RangeError(`no broker at index ${index} (there are ${count})`)
    return b
  }
  return {
    bootstrap,
    internalBootstrap: brokers.map(b => b.internalAddress).join(','),
    caFile: tlsDir === undefined ? undefined : join(tlsDir, 'ca.pem'),
    brokers: brokers.map(view),
    dataDir,
    stop,
    killBroker: async index => { await stopBroker(brokerAt(index), 'SIGKILL', 10_000) },
    startBroker: async index => {
      const b = brokerAt(index)
      if (b.child !== undefined) return
      await launch(runtime, b, options.heapMb ?? (count === 1 ? 512 : 384))
      await waitReady(brokers, options.readyTimeoutMs ?? 120_000)
    }
  }
}

async function clusterIdOf (dataDir: string): Promise<string> {
  const file = join(dataDir, 'cluster.id')
  try {
    return (await readFile(file, 'utf8')).trim()
  } catch {
    // Kafka's Uuid.randomUuid(): 16 random bytes in URL-safe base64, never starting with '-'.
    let id: string
    do id = randomBytes(16).toString('base64url'); while (id.startsWith('-'))
    await writeFile(file, id + '\n')
    return id
  }
}

/** server.properties for one combined broker + controller, tuned for tests on a small machine. */
function serverProperties (b: BrokerState, count: number, voters: string, extra: StartKafkaOptions['config'] = {},
  security: StartKafkaOptions['security'] = undefined, tlsDir: string | undefined = undefined): string {
  const replication = Math.min(count, 3)
  const minIsr = count >= 3 ? 2 : 1
  const listeners: Record<string, string | number | boolean> = security === undefined
    ? {
        listeners: `PLAINTEXT://${host}:${b.port},CONTROLLER://${host}:${b.controllerPort}`,
        'advertised.listeners': `PLAINTEXT://${host}:${b.port}`,
        'inter.broker.listener.name': 'PLAINTEXT',
        'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT'
      }
    : securedListeners(b, security, tlsDir)
  const settings: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': b.nodeId,
    'controller.quorum.voters': voters,
    'controller.listener.names': 'CONTROLLER',
    ...listeners,
    'log.dirs': join(b.dir, 'data'),
    'num.network.threads': 2,
    'num.io.threads': 4,
    'num.partitions': 1,
    'default.replication.factor': replication,
    'min.insync.replicas': minIsr,
    'offsets.topic.replication.factor': replication,
    'offsets.topic.num.partitions': 10,
    'transaction.state.log.replication.factor': replication,
    'transaction.state.log.min.isr': minIsr,
    'transaction.state.log.num.partitions': 10,
    'share.coordinator.state.topic.replication.factor': replication,
    'share.coordinator.state.topic.min.isr': minIsr,
    'group.initial.rebalance.delay.ms': 0,
    // A killed broker is fenced (and its partitions get new leaders) after 6 s instead of 9 s.
    'broker.session.timeout.ms': 6000,
    'broker.heartbeat.interval.ms': 1000,
    'auto.create.topics.enable': false,
    'delete.topic.enable': true,
    // Retention and compaction act within seconds, so tests can watch them.
    'log.retention.check.interval.ms': 1000,
    'log.initial.task.delay.ms': 1000,
    'log.segment.delete.delay.ms': 1000,
    'log.cleaner.backoff.ms': 500,
    'log.cleaner.threads': 1,
    'log.cleaner.dedupe.buffer.size': 16 * 1024 * 1024,
    'file.delete.delay.ms': 1000,
    ...extra
  }
  return Object.entries(settings).map(([k, v]) => `${k}=${String(v)}`).join('\n') + '\n'
}

/** A SASL (PLAIN, SCRAM) client listener, over TLS when asked; the brokers talk PLAINTEXT among themselves. */
function securedListeners (b: BrokerState, security: NonNullable<StartKafkaOptions['security']>, tlsDir: string | undefined): Record<string, string> {
  const protocol = tlsDir === undefined ? 'SASL_PLAINTEXT' : 'SASL_SSL'
  const plainUsers = Object.entries(security.users).map(([user, password]) => `user_${user}="${password}"`).join(' ')
  const settings: Record<string, string> = {
    listeners: `CLIENT://${host}:${b.port},INTERNAL://${b.internalAddress},CONTROLLER://${host}:${b.controllerPort}`,
    'advertised.listeners': `CLIENT://${host}:${b.port},INTERNAL://${b.internalAddress}`,
    'inter.broker.listener.name': 'INTERNAL',
    'listener.security.protocol.map': `CLIENT:${protocol},INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT`,
    'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
    'listener.name.client.plain.sasl.jaas.config': `org.apache.kafka.common.security.plain.PlainLoginModule required ${plainUsers};`,
    'listener.name.client.scram-sha-256.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
    'listener.name.client.scram-sha-512.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required;'
  }
  if (security.authorizer !== undefined) {
    settings['authorizer.class.name'] = 'org.apache.kafka.metadata.authorizer.StandardAuthorizer'
    settings['super.users'] = ['User:ANONYMOUS', ...security.authorizer.superUsers.map(u => `User:${u}`)].join(';')
  }
  if (tlsDir !== undefined) {
    settings['listener.name.client.ssl.keystore.type'] = 'PEM'
    settings['listener.name.client.ssl.keystore.location'] = join(tlsDir, 'server.pem')
  }
  return settings
}

/** A throwaway CA and a certificate for 127.0.0.1/localhost signed by it (openssl). */
async function makeCertificates (dir: string): Promise<void> {
  await mkdir(dir, { recursive: true })
  const openssl = (...args: string[]) => new Promise<void>((resolve, reject) => {
    const child = spawn('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    child.stderr.on('data', (chunk: Buffer) => { err += chunk.toString() })
    child.once('error', cause => reject(new KafkaScriptError('KAFKA_TLS_FAILED', `cannot run openssl: ${cause.message}`, 'Install openssl, or start Kafka without TLS.', cause)))
    child.once('close', code => code === 0 ? resolve() : reject(new KafkaScriptError('KAFKA_TLS_FAILED', `openssl ${args[0]} failed: ${err}`, 'Check the openssl installation.')))
  })
  await writeFile(join(dir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
  await openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '30', '-subj', '/CN=vigil-test-ca')
  await openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1')
  await openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '30', '-extfile', 'san.cnf')
  // Kafka's PEM keystore: the (PKCS#8, unencrypted) key followed by the certificate chain.
  const pem = (await readFile(join(dir, 'server.key'), 'utf8')) + (await readFile(join(dir, 'server.crt'), 'utf8')) + (await readFile(join(dir, 'ca.pem'), 'utf8'))
  await writeFile(join(dir, 'server.pem'), pem)
}

async function format (runtime: KafkaRuntime, b: BrokerState, clusterId: string, users: Record<string, string>): Promise<void> {
  const scram = Object.entries(users).flatMap(([name, password]) => ['SCRAM-SHA-256', 'SCRAM-SHA-512'].flatMap(mechanism =>
    ['--add-scram', `${mechanism}=[name=${name},password=${password}]`]))
  const args = [
    '-Xmx256m', '-XX:TieredStopAtLevel=1', `-Dlog4j2.configurationFile=${runtime.log4jToolsConfig}`,
    '-cp', runtime.classpath, 'kafka.tools.StorageTool',
    'format', '--cluster-id', clusterId, '--config', join(b.dir, 'server.properties'), '--ignore-formatted', ...scram
  ]
  const output: Buffer[] = []
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(runtime.java, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk))
    child.once('error', reject)
    child.once('close', resolve)
  })
  if (code !== 0) {
    throw new KafkaScriptError('KAFKA_FORMAT_FAILED', `formatting KRaft storage in ${b.dir} failed (exit ${code}):\n${Buffer.concat(output).toString().trim()}`,
      'Remove the data directory if it belongs to another cluster, or start without --data to use a temp one.')
  }
}

/**
 * Starts one JVM under a small shell: the shell echoes the JVM's pid, and a watcher kills the JVM
 * when our end of its stdin pipe closes, which happens when this Node process dies.
 */
const launcher = `exec 3<&0
"$@" </dev/null >>"$VIGIL_KAFKA_LOG" 2>&1 &
jpid=$!
echo "$jpid"
(while read -r _ <&3; do :; done; kill -9 "$jpid" 2>/dev/null) &
wait "$jpid"
`

/** Where each running broker is described (`broker-<port>.json`), so other processes (tests) can find its JVM. */
export const runDir = join(cacheDir, 'run')

export interface BrokerRunFile {
  pid: number
  nodeId: number
  port: number
  controllerPort: number
  logFile: string
  /** The Node process that started it (the JVM dies with it). */
  owner: number
}

/** The run file of the broker listening on `port`, if this script started one there. */
export async function findBroker (port: number): Promise<BrokerRunFile | undefined> {
  try {
    const file = JSON.parse(await readFile(join(runDir, `broker-${port}.json`), 'utf8')) as BrokerRunFile
    process.kill(file.pid, 0)
    return file
  } catch {
    return undefined
  }
}

async function launch (runtime: KafkaRuntime, b: BrokerState, heapMb: number): Promise<void> {
  closeSync(openSync(b.logFile, 'a'))
  b.wanted = true
  const jvm = [
    runtime.java,
    `-Xms${Math.min(256, heapMb)}m`, `-Xmx${heapMb}m`,
    '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-XX:InitiatingHeapOccupancyPercent=35', '-XX:+ExplicitGCInvokesConcurrent',
    '-XX:ParallelGCThreads=2', '-XX:ConcGCThreads=1', '-XX:MaxInlineLevel=15',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${runtime.log4jConfig}`,
    `-Dkafka.logs.dir=${b.dir}`,
    '-cp', runtime.classpath,
    'kafka.Kafka', join(b.dir, 'server.properties')
  ]
  const child = spawn('sh', ['-c', launcher, 'vigil-kafka', ...jvm], {
    stdio: ['pipe', 'pipe', 'ignore'],
    env: { ...process.env, VIGIL_KAFKA_LOG: b.logFile }
  })
  b.child = child
  const runFile = join(runDir, `broker-${b.port}.json`)
  b.exited = new Promise(resolve => child.once('exit', code => {
    child.stdin.destroy()
    b.child = undefined
    b.pid = undefined
    rm(runFile, { force: true }).finally(() => resolve(code))
  }))
  b.pid = await new Promise<number | undefined>(resolve => {
    let text = ''
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString()
      if (text.includes('\n')) resolve(Number(text.trim()))
    })
    child.once('exit', () => resolve(undefined))
  })
  if (b.pid !== undefined && b.child !== undefined) {
    const info: BrokerRunFile = { pid: b.pid, nodeId: b.nodeId, port: b.port, controllerPort: b.controllerPort, logFile: b.logFile, owner: process.pid }
    await mkdir(runDir, { recursive: true })
    await writeFile(runFile, JSON.stringify(info, null, 2) + '\n')
  }
}

async function stopBroker (b: BrokerState, signal: 'SIGTERM' | 'SIGKILL', graceMs: number): Promise<void> {
  b.wanted = false
  if (b.child === undefined || b.exited === undefined) return
  const exited = b.exited
  const signalJvm = (s: NodeJS.Signals) => {
    try { if (b.pid !== undefined) process.kill(b.pid, s) } catch { /* already gone */ }
  }
  signalJvm(signal)
  const timer = signal === 'SIGKILL' ? undefined : setTimeout(() => signalJvm('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}

async function waitReady (brokers: BrokerState[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  const running = brokers.filter(b => b.wanted)
  // One client per broker: each must answer by itself (the cluster's metadata still lists a
  // broker for a few seconds after it was killed, so asking any one of them is not enough).
  const admins = running.map(b => new Admin({ clientId: 'vigil-kafka-script', bootstrapBrokers: [b.internalAddress], retries: 0, connectTimeout: 1000, timeout: 5000 }))
  let lastError: unknown
  try {
    while (Date.now() < deadline) {
      const dead = brokers.find(b => b.wanted && b.child === undefined)
      if (dead !== undefined) {
        const tail = await logTail(dead.logFile)
        const inUse = /BindException|Address already in use/.test(tail)
        throw new KafkaScriptError(inUse ? 'KAFKA_PORT_IN_USE' : 'KAFKA_START_FAILED',
          `broker ${dead.nodeId} (${dead.address}) exited while starting; last lines of ${dead.logFile}:\n${tail}`,
          inUse ? 'Another process holds the port: pick others with --port N.' : 'Read the log file above; remove --data DIR if it holds an incompatible cluster.')
      }
      try {
        const answers = await Promise.all(admins.map(admin => admin.metadata({ topics: [], forceUpdate: true })))
        if (answers.every(metadata => metadata.brokers.size >= running.length)) {
          // Creating the offsets topic now (with every broker up) lets groups work at once, and
          // still work if a test later kills a broker.
          await admins[0]?.findCoordinator({ keyType: FindCoordinatorKeyTypes.GROUP, keys: ['vigil-kafka-ready'] })
          return
        }
      } catch (error) {
        lastError = error
      }
      await sleep(250)
    }
  } finally {
    await Promise.all(admins.map(admin => admin.close().catch(() => {})))
  }
  throw new KafkaScriptError('KAFKA_START_TIMEOUT', `Kafka on ${running.map(b => b.address).join(',')} did not become ready in ${timeoutMs} ms (${(lastError as Error | undefined)?.message ?? 'no answer'})`,
    `Read the broker logs (${running.map(b => b.logFile).join(', ')}); the machine may be too busy.`)
}

async function logTail (file: string, lines = 25): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      brokers: { type: 'string', default: '1' },
      port: { type: 'string' },
      'controller-port': { type: 'string' },
      data: { type: 'string' },
      heap: { type: 'string' },
      help: { type: 'boolean', short: 'h' }
    }
  })
  if (values.help === true) {
    process.stdout.write(`Usage: npm run kafka -- [--brokers N] [--port N] [--controller-port N] [--data DIR] [--heap MiB]

Runs Apache Kafka ${kafkaVersion} (KRaft) on ${host} until Ctrl-C.
  --brokers N          brokers (default 1); 3 gives replication factor 3 and min.insync.replicas=2
  --port N             client port of the first broker (default: first free from ${firstDefaultPort}); the rest follow
  --controller-port N  controller port of the first broker (default: after the client ports)
  --data DIR           keep data in DIR across runs (default: a temp dir, removed on exit)
  --heap MiB           heap of each JVM (default 512, or 384 with several brokers)
`)
    return
  }
  const int = (name: string, text: string | undefined): number | undefined => {
    if (text === undefined) return undefined
    const n = Number(text)
    if (!Number.isInteger(n) || n <= 0) throw new KafkaScriptError('KAFKA_BAD_OPTION', `--${name} must be a positive integer, got ${text}`, 'See npm run kafka -- --help.')
    return n
  }
  const options: StartKafkaOptions = { log: line => process.stderr.write(`kafka: ${line}\n`) }
  options.brokers = int('brokers', values.brokers) ?? 1
  const port = int('port', values.port)
  if (port !== undefined) options.port = port
  const controllerPort = int('controller-port', values['controller-port'])
  if (controllerPort !== undefined) options.controllerPort = controllerPort
  const heap = int('heap', values.heap)
  if (heap !== undefined) options.heapMb = heap
  if (values.data !== undefined) options.dataDir = values.data

  const cluster = await startKafka(options)
  process.stdout.write(`Kafka ${kafkaVersion} ready: ${cluster.bootstrap}\n` +
    `  log.url:  kafka://${cluster.bootstrap}\n` +
    `  tests:    TEST_KAFKA=${cluster.bootstrap}\n` +
    `  data:     ${cluster.dataDir}${options.dataDir === undefined ? ' (removed on exit)' : ''}\n` +
    `  logs:     ${cluster.brokers.map(b => b.logFile).join(', ')}\n` +
    'Press Ctrl-C to stop.\n')
  let stopping = false
  const shutdown = (signal: string) => {
    if (stopping) return
    stopping = true
    process.stderr.write(`kafka: ${signal}: stopping\n`)
    cluster.stop().then(() => process.exit(0), error => {
      process.stderr.write(`kafka: stop failed: ${(error as Error).message}\n`)
      process.exit(1)
    })
  }
  process.on('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  const watch = setInterval(() => {
    if (!stopping && cluster.brokers.every(b => !b.running)) {
      process.stderr.write('kafka: every broker has exited; see the logs above\n')
      clearInterval(watch)
      cluster.stop().finally(() => process.exit(1))
    }
  }, 1000)
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    process.stderr.write(`kafka: ${(error as Error).message}\n`)
    process.exit(1)
  })
}
