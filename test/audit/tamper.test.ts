/**
 * Tamper detection: `vigil audit verify` (CLI) and GET /v1/audit/verify name the file and the
 * position when one line of a stored .ndjson.gz is edited, deleted or swapped, and when one row
 * of a Parquet object is changed.
 */
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { cp, readdir, readFile, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { Writable } from 'node:stream'
import { gunzipSync, gzipSync } from 'node:zlib'
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { parquetMetadata, parquetReadObjects } from 'hyparquet'
import { parquetWriteBuffer } from 'hyparquet-writer'
import { runCli } from '../../src/cli/main.ts'
import { sharedS3, startAuditServer, stopSharedS3, tempDir, waitArchived } from './helpers.ts'

after(stopSharedS3)

function events (n: number, tag: string): Array<Record<string, unknown>> {
  const base = Date.now() - 60_000
  return Array.from({ length: n }, (_, i) => ({ type: 'auth', outcome: i % 2 === 0 ? 'allow' : 'deny', action: `act-${i}`, tag, ts: new Date(base + i * 10).toISOString() }))
}

async function filesUnder (dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.ndjson.gz')) out.push(join(entry.parentPath, entry.name))
  }
  return out.sort()
}

async function verifyCli (dir: string, auditRoot: string, since?: string): Promise<{ code: number, out: string, json: any }> {
  const configFile = join(dir, `config-${Math.random().toString(16).slice(2)}.json`)
  await writeFile(configFile, JSON.stringify({ audit: { backend: 'local', local: { path: auditRoot }, checkpoint: { keyFile: join(dir, 'key.pem') } } }))
  let out = ''
  const stdout = new Writable({ write (c, _e, d) { out += String(c); d() } })
  const stderr = new Writable({ write (_c, _e, d) { d() } })
  const args = ['--config', configFile, 'audit', 'verify', '--json', ...(since === undefined ? [] : ['--since', since])]
  const code = await runCli(args, { stdout, stderr, env: {} })
  let text = ''
  const plain = new Writable({ write (c, _e, d) { text += String(c); d() } })
  await runCli(['--config', configFile, 'audit', 'verify', ...(since === undefined ? [] : ['--since', since])], { stdout: plain, stderr, env: {} })
  return { code, out: text, json: JSON.parse(out) }
}

test('local NDJSON.gz: an edited, deleted or swapped line is reported with its file and position', async (t) => {
  const a = await startAuditServer(t, 'local')
  await a.post(events(40, 'x'))
  await waitArchived(a, 40)
  await a.close()
  const root = join(a.dir, 'audit')
  const clean = await verifyCli(a.dir, root)
  assert.equal(clean.code, 0, clean.out)
  assert.equal(clean.json.ok, true)
  assert.ok(clean.json.reports[0].checkpoints >= 1, 'a signed checkpoint was written at stop')

  const cases: Array<[string, (lines: string[]) => string[], (f: any) => boolean]> = [
    ['edited', lines => { const r = JSON.parse(lines[5] as string); r.outcome = 'allow-forged'; lines[5] = JSON.stringify(r); return lines }, f => f.kind === 'modified' && f.position === 5],
    ['deleted', lines => lines.filter((_, i) => i !== 7), f => f.kind === 'missing' && f.position === 7],
    ['swapped', lines => { const x = lines[3] as string; lines[3] = lines[4] as string; lines[4] = x; return lines }, f => f.kind === 'reordered' && f.position === 3]
  ]
  for (const [name, change, expected] of cases) {
    const dir = await tempDir(t)
    const copy = join(dir, 'audit')
    await cp(root, copy, { recursive: true })
    const file = (await filesUnder(copy))[0] as string
    const lines = gunzipSync(await readFile(file)).toString().split('\n').filter(l => l !== '')
    const manifest = lines.pop() as string
    await writeFile(file, gzipSync([...change(lines), manifest].join('\n') + '\n'))
    const result = await verifyCli(a.dir, copy)
    assert.equal(result.code, 1, `${name}: verify exits 1`)
    const findings = result.json.reports[0].findings
    const rel = relative(copy, file)
    assert.ok(findings.some((f: any) => f.file === rel && expected(f)), `${name}: ${JSON.stringify(findings)}`)
    assert.match(result.out, new RegExp(`${rel.replaceAll('.', '\\.')}, position`), `${name}: the CLI names the file and position`)
  }
})

test('local: rewriting a file and its manifest consistently is still caught by the chain and the signed checkpoint', async (t) => {
  const a = await startAuditServer(t, 'local')
  await a.post(events(20, 'y'))
  await waitArchived(a, 20)
  await a.close()
  const root = join(a.dir, 'audit')
  const file = (await filesUnder(root))[0] as string
  const lines = gunzipSync(await readFile(file)).toString().split('\n').filter(l => l !== '')
  const manifest = JSON.parse(lines.pop() as string)._manifest
  // Drop the last record and fix the manifest's count, offsets, last hash and Merkle root.
  const { merkleRoot } = await import('../../src/audit/integrity.ts')
  const kept = lines.slice(0, -1)
  const hashes = kept.map(l => JSON.parse(l)._chain.hash)
  Object.assign(manifest, { count: kept.length, offsets: [[manifest.offsets[0][0], manifest.offsets[0][1] - 1]], last_offset: manifest.last_offset - 1, last_hash: hashes.at(-1), merkle_root: merkleRoot(hashes) })
  await writeFile(file, gzipSync([...kept, JSON.stringify({ _manifest: manifest })].join('\n') + '\n'))
  const result = await verifyCli(a.dir, root)
  assert.equal(result.code, 1)
  assert.ok(result.json.reports[0].findings.some((f: any) => f.kind === 'missing' || f.kind === 'checkpoint'), JSON.stringify(result.json.reports[0].findings))
})

test('S3 Parquet: one changed row (record_json, or only an index column) is reported with its key and row', async (t) => {
  const s3 = await sharedS3()
  const a = await startAuditServer(t, 's3')
  await a.post(events(30, 'z'))
  await waitArchived(a, 30)
  await a.close()
  const bucketName = (a.config.s3 as { bucket: string }).bucket
  const client = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } })
  t.after(() => client.destroy())
  const listed = await client.send(new ListObjectsV2Command({ Bucket: bucketName, Prefix: 'audit/' }))
  const key = (listed.Contents ?? []).map(o => o.Key as string).find(k => k.endsWith('.parquet')) as string
  assert.ok(key)
  const original = Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: bucketName, Key: key }))).Body?.transformToByteArray() as Uint8Array)

  const rewrite = async (edit: (rows: Array<Record<string, any>>) => void): Promise<void> => {
    const ab = original.buffer.slice(original.byteOffset, original.byteOffset + original.byteLength) as ArrayBuffer
    const metadata = parquetMetadata(ab)
    const rows = await parquetReadObjects({ file: ab, metadata })
    edit(rows)
    const names = Object.keys(rows[0] as object)
    const body = parquetWriteBuffer({
      columnData: names.map(name => ({ name, type: 'STRING' as const, data: rows.map(r => r[name] ?? null) })),
      kvMetadata: (metadata.key_value_metadata ?? []).map(kv => ({ key: kv.key, value: kv.value ?? '' }))
    })
    await client.send(new PutObjectCommand({ Bucket: bucketName, Key: key, Body: Buffer.from(body) }))
  }

  const verifyHttp = async (): Promise<any> => {
    const b = await startAuditServer(t, 's3', { s3: { bucket: bucketName } }, { dir: a.dir })
    const answer = await b.get('/v1/audit/verify')
    await b.close()
    return answer.body
  }
  assert.equal((await verifyHttp()).ok, true)

  await rewrite(rows => { const r = JSON.parse(rows[4]?.record_json); r.outcome = 'forged'; rows[4]!.record_json = JSON.stringify(r); rows[4]!.outcome = 'forged' })
  let report = await verifyHttp()
  assert.equal(report.ok, false)
  assert.ok(report.reports[0].findings.some((f: any) => f.kind === 'modified' && f.file === key && f.position === 4), JSON.stringify(report.reports[0].findings))

  await rewrite(rows => { rows[9]!.outcome = 'allow-forged' })
  report = await verifyHttp()
  assert.ok(report.reports[0].findings.some((f: any) => f.kind === 'modified' && f.file === key && f.position === 9 && /column outcome/.test(f.message)), JSON.stringify(report.reports[0].findings))
})
