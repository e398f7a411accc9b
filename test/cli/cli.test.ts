import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { cli, type CliResult } from './harness.ts'

const vigilBin = new URL('../../bin/vigil.js', import.meta.url).pathname
const kafka = process.env.TEST_KAFKA

/** Runs the real `vigil` executable in a child process. */
function spawnVigil (args: string[], input = '', env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [vigilBin, ...args], { env: { PATH: process.env.PATH ?? '', ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c) => { stdout += String(c) })
    child.stderr.on('data', (c) => { stderr += String(c) })
    child.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }))
    child.stdin.end(input)
  })
}

function tempDb (): string {
  return `embedded:${join(mkdtempSync(join(tmpdir(), 'vigil-cli-')), 'vigil.db')}`
}

const backends: Array<[string, () => string, string | false]> = [
  ['embedded', tempDb, false],
  ['kafka', () => `kafka://${kafka}`, kafka === undefined ? 'TEST_KAFKA not set (npm test starts Kafka)' : false]
]

for (const [name, logUrl, skip] of backends) {
  describe(`vigil CLI on the ${name} log`, { skip }, () => {
    test('round trip: produce NDJSON from stdin, consume it from the beginning', async () => {
      const log = logUrl()
      const topic = `cli-${randomUUID()}`
      assert.equal((await spawnVigil(['topics', 'create', topic, '--partitions', '2', '--log', log])).code, 0)
      const produced = await spawnVigil(['produce', '--topic', topic, '--log', log], '{"a":1}\n{"a":2}\n')
      assert.equal(produced.code, 0, produced.stderr)
      assert.equal(JSON.parse(produced.stdout).produced, 2)
      const consumed = await spawnVigil(['consume', '--topic', topic, '--from-beginning', '--max', '2', '--log', log])
      assert.equal(consumed.code, 0, consumed.stderr)
      const records = consumed.stdout.trim().split('\n').map(line => JSON.parse(line))
      assert.deepEqual(records.map(r => r.value).sort((x, y) => x.a - y.a), [{ a: 1 }, { a: 2 }])
      for (const r of records) {
        assert.equal(r.topic, topic)
        assert.equal(r.valueFormat, 'json')
        assert.ok(Number.isInteger(r.partition) && Number.isInteger(r.offset) && Number.isInteger(r.timestamp))
        assert.deepEqual(r.headers, [])
      }
    })

    test('keys from a field, headers, and a group that resumes where it committed', async () => {
      const log = logUrl()
      const topic = `cli-${randomUUID()}`
      const group = `g-${randomUUID()}`
      await cli(['topics', 'create', topic, '--partitions', '3', '--log', log])
      const input = Array.from({ length: 6 }, (_, i) => JSON.stringify({ node: { id: `n${i % 2}` }, i })).join('\n')
      const produced = await cli(['produce', '--topic', topic, '--key-field', 'node.id', '--header', 'source=test', '--log', log], input)
      assert.equal(produced.code, 0, produced.stderr)
      const first = await cli(['consume', '--topic', topic, '--group', group, '--from-beginning', '--max', '4', '--log', log])
      assert.equal(first.code, 0, first.stderr)
      const rest = await cli(['consume', '--topic', topic, '--group', group, '--from-beginning', '--max', '2', '--log', log])
      const all = [...first.stdout.trim().split('\n'), ...rest.stdout.trim().split('\n')].map(l => JSON.parse(l))
      assert.deepEqual(all.map(r => r.value.i).sort(), [0, 1, 2, 3, 4, 5])
      for (const r of all) {
        assert.equal(r.key, r.value.node.id)
        assert.deepEqual(r.headers, [['source', 'test']])
      }
      const groups = await cli(['groups', 'describe', group, '--json', '--log', log])
      assert.equal(JSON.parse(groups.stdout).totalLag, 0)
      assert.ok((await cli(['groups', 'list', '--log', log])).stdout.split('\n').includes(group))
    })

    test('topics list, describe and delete', async () => {
      const log = logUrl()
      const topic = `cli-${randomUUID()}`
      const created = await cli(['topics', 'create', topic, '--partitions', '2', '--retention-ms', '60000', '--cleanup-policy', 'compact', '--log', log])
      assert.equal(created.code, 0, created.stderr)
      assert.ok((await cli(['topics', 'list', '--log', log])).stdout.split('\n').includes(topic))
      const described = JSON.parse((await cli(['topics', 'describe', topic, '--json', '--log', log])).stdout)
      assert.equal(described.config.partitions, 2)
      assert.equal(described.config.cleanupPolicy, 'compact')
      assert.equal(described.config.retentionMs, 60000)
      assert.match((await cli(['topics', 'describe', topic, '--log', log])).stdout, /PARTITION\s+LOW\s+HIGH/)
      assert.equal((await cli(['topics', 'delete', topic, '--log', log])).code, 0)
    })

    test('an unknown topic and a record over the topic\'s max size are coded errors with a non-zero exit', async () => {
      const log = logUrl()
      const missing = await spawnVigil(['produce', '--topic', `missing-${randomUUID()}`, '--log', log], '{"a":1}\n')
      assert.equal(missing.code, 1)
      assert.match(missing.stderr, /error VGL_LOG_TOPIC_NOT_FOUND: .*missing-/)
      assert.match(missing.stderr, /hint: Create it with `vigil topics create/)
      const consumeMissing = await cli(['consume', '--topic', `missing-${randomUUID()}`, '--max', '1', '--log', log])
      assert.equal(consumeMissing.code, 1)
      assert.match(consumeMissing.stderr, /VGL_LOG_TOPIC_NOT_FOUND/)

      const topic = `cli-${randomUUID()}`
      await cli(['topics', 'create', topic, '--max-message-bytes', '1000', '--log', log])
      const big = await cli(['produce', '--topic', topic, '--log', log], `{"ok":1}\n${JSON.stringify({ pad: 'x'.repeat(5000) })}\n`)
      assert.equal(big.code, 1)
      assert.match(big.stderr, /error VGL_LOG_RECORD_TOO_LARGE/)
      assert.match(big.stderr, /hint: /)
    })
  })
}

describe('vigil CLI with schemas', () => {
  test('produce --schema encodes NDJSON to Avro; consume decodes it back; a mismatching line is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-cli-'))
    const log = `embedded:${join(dir, 'vigil.db')}`
    // No `vigil serve` on this port: the CLI uses the registry on the log directly.
    const env = { VIGIL_SERVER_PORT: '1' }
    writeFileSync(join(dir, 'reading.avsc'), JSON.stringify({
      type: 'record', name: 'Reading', namespace: 'test', fields: [{ name: 'sensor', type: 'string' }, { name: 'value', type: 'double' }]
    }))
    const topic = `readings-${randomUUID()}`
    await cli(['topics', 'create', topic, '--log', log], '', env)
    const registered = await cli(['schemas', 'register', `${topic}-value`, join(dir, 'reading.avsc'), '--log', log], '', env)
    assert.equal(registered.code, 0, registered.stderr)
    const produced = await cli(['produce', '--topic', topic, '--schema', `${topic}-value`, '--log', log], '{"sensor":"s1","value":1.5}\n{"sensor":"s2","value":2}\n', env)
    assert.equal(produced.code, 0, produced.stderr)
    const consumed = await cli(['consume', '--topic', topic, '--from-beginning', '--max', '2', '--log', log], '', env)
    assert.equal(consumed.code, 0, consumed.stderr)
    const records = consumed.stdout.trim().split('\n').map(line => JSON.parse(line))
    assert.deepEqual(records.map(r => [r.valueFormat, r.value, r.subject]), [
      ['avro', { sensor: 's1', value: 1.5 }, `${topic}-value`],
      ['avro', { sensor: 's2', value: 2 }, `${topic}-value`]
    ])
    const bad = await cli(['produce', '--topic', topic, '--schema', `${topic}-value`, '--log', log], '{"sensor":"s3","value":"high"}\n', env)
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /line 1: .*value/)
  })
})

describe('vigil CLI: bad input', () => {
  test('a malformed config file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-cli-'))
    writeFileSync(join(dir, 'bad.json'), '{"server": {"port": "eighty"}}')
    const result = await spawnVigil(['topics', 'list', '--config', join(dir, 'bad.json')])
    assert.equal(result.code, 1)
    assert.match(result.stderr, /error VGL_CONFIG_INVALID: invalid configuration: server\.port must be integer/)
    assert.match(result.stderr, /hint: .*docs\/config\.md/)
    writeFileSync(join(dir, 'broken.json'), '{"server": ')
    const broken = await cli(['topics', 'list', '--config', join(dir, 'broken.json')])
    assert.equal(broken.code, 1)
    assert.match(broken.stderr, /VGL_CONFIG_FILE_UNREADABLE: config file .*broken\.json is not valid JSON/)
  })

  test('an unreachable broker', async () => {
    const result = await cli(['topics', 'list', '--log', 'kafka://127.0.0.1:1'], '', { VIGIL_LOG_KAFKA_CONNECT_TIMEOUT_MS: '1000' })
    assert.equal(result.code, 1)
    assert.match(result.stderr, /error VGL_LOG_UNREACHABLE/)
    assert.match(result.stderr, /127\.0\.0\.1:1/)
  })

  test('a bad log URL, a bad flag value, a missing required flag, and input that is not JSON', async () => {
    const badUrl = await cli(['topics', 'list', '--log', 'postgres://x'])
    assert.equal(badUrl.code, 1)
    assert.match(badUrl.stderr, /VGL_LOG_URL_INVALID: log URL postgres:\/\/x must start with embedded: or kafka:\/\//)
    const badFlag = await cli(['topics', 'create', 't', '--partitions', 'many', '--log', tempDb()])
    assert.equal(badFlag.code, 2)
    assert.match(badFlag.stderr, /--partitions must be a whole number/)
    const missing = await cli(['produce', '--log', tempDb()])
    assert.equal(missing.code, 2)
    assert.match(missing.stderr, /required option '--topic <topic>' not specified/)
    const log = tempDb()
    const topic = `cli-${randomUUID()}`
    await cli(['topics', 'create', topic, '--log', log])
    const notJson = await cli(['produce', '--topic', topic, '--log', log], '{"a":1}\nnot json\n')
    assert.equal(notJson.code, 1)
    assert.match(notJson.stderr, /VGL_CLI_INPUT_INVALID: line 2 is not JSON/)
    const unknownCommand = await cli(['frobnicate'])
    assert.equal(unknownCommand.code, 2)
  })
})

describe('vigil serve', () => {
  test('serves /readyz 200 on the embedded log, and stops cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, [vigilBin, 'serve', '--port', '0', '--log', tempDb()], { env: { PATH: process.env.PATH ?? '', VIGIL_LOGGING_LEVEL: 'warn' } })
    let stdout = ''
    child.stdout.on('data', (c) => { stdout += String(c) })
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
    const url = await waitFor(() => /serving on (http:\/\/\S+)/.exec(stdout)?.[1])
    assert.equal((await fetch(`${url}/healthz`)).status, 200)
    await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200 || undefined)
    assert.match(await (await fetch(`${url}/metrics`)).text(), /vigil_log_up 1/)
    // server.idleHelperThreads (default true): V8's helper threads yield to requests.
    if (hasChrt()) await waitFor(() => (policies => policies.length > 0 && policies.every(policy => policy === 5))(helperPolicies(child.pid as number)) || undefined, 10_000)
    child.kill('SIGTERM')
    assert.equal(await exited, 0)
  })

  test('keeps serving with /readyz 503 naming the cause while the broker is unreachable', async () => {
    const child = spawn(process.execPath, [vigilBin, 'serve', '--port', '0', '--log', 'kafka://127.0.0.1:1'], {
      env: { PATH: process.env.PATH ?? '', VIGIL_LOGGING_LEVEL: 'silent', VIGIL_LOG_KAFKA_CONNECT_TIMEOUT_MS: '500' }
    })
    let stdout = ''
    child.stdout.on('data', (c) => { stdout += String(c) })
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
    const url = await waitFor(() => /serving on (http:\/\/\S+)/.exec(stdout)?.[1])
    const body = await waitFor(async () => {
      const response = await fetch(`${url}/readyz`)
      const json = await response.json() as { checks: { log: string | null } }
      return response.status === 503 && /VGL_LOG_UNREACHABLE/.test(json.checks.log ?? '') ? json : undefined
    })
    assert.match(body.checks.log ?? '', /127\.0\.0\.1:1/)
    assert.equal((await fetch(`${url}/healthz`)).status, 200)
    child.kill('SIGTERM')
    assert.equal(await exited, 0)
  })
})

function hasChrt (): boolean {
  try {
    return process.platform === 'linux' && execFileSync('chrt', ['--version'], { stdio: 'ignore' }) !== undefined
  } catch {
    return false
  }
}

/** The scheduling policy of each V8Worker thread of a process (field 41 of its stat line). */
function helperPolicies (pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).filter(tid => readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim() === 'V8Worker').map(tid => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38])
  })
}

async function waitFor<T> (probe: () => T | undefined | Promise<T | undefined>, deadlineMs = 30_000): Promise<T> {
  const deadline = Date.now() + deadlineMs
  for (;;) {
    try {
      const value = await probe()
      if (value !== undefined && value !== false) return value
    } catch {}
    if (Date.now() > deadline) assert.fail('timed out')
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}
