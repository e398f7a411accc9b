/**
 * `npm test`: everything CI checks, in one command.
 *   1. lint and type check;
 *   2. a real Apache Kafka (KRaft, one broker on loopback, jars from Maven Central via mvn);
 *   3. every test file under test/ with TEST_KAFKA pointing at that broker, so the log
 *      contract suite and the integration tests run against both backends;
 *   4. the broker is stopped whatever happened.
 * Arguments are passed to `node --test` instead of the default file list, e.g.
 * `npm test -- test/log/*.test.ts`. Set TEST_KAFKA=host:port to use a running broker.
 */
import { spawn } from 'node:child_process'
import { existsSync, globSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startKafka, type KafkaCluster } from './kafka.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const bin = (name: string) => `${root}node_modules/.bin/${name}`

function run (command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, env, stdio: 'inherit' })
    child.on('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 128)))
    child.on('error', (error) => { console.error(`cannot run ${command}: ${error.message}`); resolve(1) })
  })
}

/** Counts of every test run, read from a TAP copy of each run's report. */
const counts = { pass: 0, fail: 0, skipped: 0 }
const tapDir = mkdtempSync(join(tmpdir(), 'vigil-test-'))

async function runTests (args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const tapFile = join(tapDir, `run-${counts.pass + counts.fail + counts.skipped}-${Date.now()}.tap`)
  const code = await run(process.execPath, [
    '--test', '--test-timeout=300000',
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tapFile}`,
    ...args
  ], env)
  const tap = existsSync(tapFile) ? readFileSync(tapFile, 'utf8') : ''
  for (const key of ['pass', 'fail', 'skipped'] as const) {
    counts[key] += Number(new RegExp(`^# ${key} (\\d+)$`, 'm').exec(tap)?.[1] ?? 0)
  }
  return code
}

function step (name: string): void {
  console.log(`\n=== ${name}`)
}

/**
 * Tests that start their own multi-broker cluster: on a 2-core machine, running them beside the
 * rest makes a broker failover take longer than the client's request timeout, so they run after.
 */
const soloTests = ['test/log/kafka-cluster.test.ts', 'test/ops/kafka-apply.test.ts']

const failures: string[] = []
const testArgs = process.argv.slice(2)

if (testArgs.length === 0) {
  step('lint (eslint)')
  if (await run(bin('eslint'), ['.']) !== 0) failures.push('lint')
  step('type check (tsc)')
  if (await run(bin('tsc'), ['-p', '.']) !== 0) failures.push('typecheck')
  // The console's browser sources have their own tsconfig (DOM, JSX).
  if (await run(bin('tsc'), ['-p', 'console']) !== 0) failures.push('typecheck (console)')
}

let kafka: KafkaCluster | undefined
let bootstrap = process.env.TEST_KAFKA
const stopKafka = async () => { await kafka?.stop() }
process.once('SIGINT', () => { stopKafka().finally(() => process.exit(130)) })
process.once('SIGTERM', () => { stopKafka().finally(() => process.exit(143)) })

try {
  if (bootstrap === undefined) {
    step('starting Apache Kafka (scripts/kafka.ts)')
    kafka = await startKafka({ log: line => console.log(`  ${line}`) })
    bootstrap = kafka.bootstrap
    console.log(`  Kafka ready at ${bootstrap}`)
  }
  const env = { ...process.env, TEST_KAFKA: bootstrap }
  const files = testArgs.length > 0 ? testArgs : globSync('test/**/*.test.ts', { cwd: root }).sort()
  const shared = files.filter(f => !soloTests.includes(f))
  const solo = files.filter(f => soloTests.includes(f))
  step(`tests (node --test), Kafka at ${bootstrap}`)
  if (await runTests(['--test-concurrency=2', ...shared], env) !== 0) failures.push('tests')
  if (solo.length > 0) {
    step(`tests that run alone: ${solo.join(', ')}`)
    if (await runTests(['--test-concurrency=1', ...solo], env) !== 0) failures.push('solo tests')
  }
} catch (error) {
  console.error(`test run failed: ${(error as Error).message}`)
  failures.push('setup')
} finally {
  await stopKafka()
  rmSync(tapDir, { recursive: true, force: true })
}

console.log(`\n${counts.pass} passed, ${counts.fail} failed, ${counts.skipped} skipped`)

if (failures.length > 0) {
  console.error(`\nnpm test failed: ${failures.join(', ')}`)
  process.exitCode = 1
} else {
  console.log('\nnpm test passed')
}
