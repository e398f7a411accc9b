/**
 * `npm test`: everything CI checks, in one command.
 *   1. lint and type check;
 *   2. a real Apache Kafka (KRaft, one broker on loopback, jars from Maven Central via mvn);
 *   3. every test file under test/ with VIGIL_TEST_KAFKA pointing at that broker, so the log
 *      contract suite and the integration tests run against both backends;
 *   4. the broker is stopped whatever happened.
 * Arguments are passed to `node --test` instead of the default file list, e.g.
 * `npm test -- test/log/*.test.ts`. Set VIGIL_TEST_KAFKA=host:port to use a running broker.
 */
import { spawn } from 'node:child_process'
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

function step (name: string): void {
  console.log(`\n=== ${name}`)
}

const failures: string[] = []
const testArgs = process.argv.slice(2)

if (testArgs.length === 0) {
  step('lint (eslint)')
  if (await run(bin('eslint'), ['.']) !== 0) failures.push('lint')
  step('type check (tsc)')
  if (await run(bin('tsc'), ['-p', '.']) !== 0) failures.push('typecheck')
}

let kafka: KafkaCluster | undefined
let bootstrap = process.env.VIGIL_TEST_KAFKA
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
  step(`tests (node --test), Kafka at ${bootstrap}`)
  const files = testArgs.length > 0 ? testArgs : ['test/**/*.test.ts']
  const code = await run(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=600000', ...files], {
    ...process.env,
    VIGIL_TEST_KAFKA: bootstrap
  })
  if (code !== 0) failures.push('tests')
} catch (error) {
  console.error(`test run failed: ${(error as Error).message}`)
  failures.push('setup')
} finally {
  await stopKafka()
}

if (failures.length > 0) {
  console.error(`\nnpm test failed: ${failures.join(', ')}`)
  process.exitCode = 1
} else {
  console.log('\nnpm test passed')
}
