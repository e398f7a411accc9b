/**
 * Issue 17 §4: `verify` names what was lost. With a partition's newest file deleted, or a file in
 * the middle, GET /v1/audit/verify reports the missing range (first..last offset, count) and the
 * file that held it, on both backends. Files are deleted behind the store's back (rm, or S3
 * DeleteObject), as an intruder or an operator's mistake would.
 */
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3'
import type { AuditService } from '../../src/audit/service.ts'
import { fileHex } from '../../src/audit/store.ts'
import { sharedS3, startAuditServer, stopSharedS3, waitArchived, type AuditServer, type Backend } from './helpers.ts'

after(stopSharedS3)

/** Three batches of ten, archived one after the other: three files of partition 0, offsets 0–9, 10–19, 20–29. */
async function threeFiles (t: Parameters<typeof startAuditServer>[0], backend: Backend): Promise<{ a: AuditServer, files: string[] }> {
  const a = await startAuditServer(t, backend, { partitions: 1 })
  for (let round = 1; round <= 3; round++) {
    assert.equal((await a.post(Array.from({ length: 10 }, (_, i) => ({ type: 'auth', action: `r${round}-${i}` })))).status, 202)
    await waitArchived(a, round * 10)
  }
  const store = (a.service as AuditService).queryStore
  const withFirst = await Promise.all((await store.listAllFiles()).map(async f => ({ name: f.name, first: (await store.readManifest(f))?.first_offset ?? -1 })))
  const files = withFirst.sort((x, y) => x.first - y.first).map(f => f.name)
  assert.deepEqual(withFirst.map(f => f.first).sort((x, y) => x - y), [0, 10, 20])
  return { a, files }
}

async function deleteFile (a: AuditServer, backend: Backend, name: string): Promise<void> {
  if (backend === 'local') return await rm(join((a.config.local as { path: string }).path, name))
  const s3 = await sharedS3()
  const client = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } })
  try {
    await client.send(new DeleteObjectCommand({ Bucket: (a.config.s3 as { bucket: string }).bucket, Key: name }))
  } finally {
    client.destroy()
  }
}

async function missingFindings (a: AuditServer): Promise<any[]> {
  const answer = await a.get('/v1/audit/verify')
  assert.equal(answer.status, 200)
  assert.equal(answer.body.ok, false)
  return answer.body.reports[0].findings.filter((f: any) => f.kind === 'missing')
}

for (const backend of ['local', 's3'] as const) {
  test(`[${backend}] verify: a deleted newest file is reported as its whole range, with the file's full name`, async (t) => {
    const { a, files } = await threeFiles(t, backend)
    await deleteFile(a, backend, files[2] as string)
    const missing = await missingFindings(a)
    assert.equal(missing.length, 1, JSON.stringify(missing))
    assert.deepEqual(missing[0].range, { first: 20, last: 29, count: 10 })
    assert.equal(missing[0].partition, 0)
    assert.equal(missing[0].lostFile, files[2], 'the archiver\'s last batch names the file')
    assert.match(missing[0].message, /offsets 20\.\.29 of partition 0 \(10 records\)/)
    assert.ok(missing[0].message.includes(files[2] as string))
  })

  test(`[${backend}] verify: a deleted middle file is reported as its range and that file, not the next one`, async (t) => {
    const { a, files } = await threeFiles(t, backend)
    await deleteFile(a, backend, files[1] as string)
    const missing = await missingFindings(a)
    assert.equal(missing.length, 1, JSON.stringify(missing))
    assert.deepEqual(missing[0].range, { first: 10, last: 19, count: 10 })
    assert.notEqual(missing[0].file, files[2], 'not the next file')
    // Not the last batch: the name's time part is known to nothing but the file; its hex (from
    // its first offset) is, and picks out exactly the deleted file.
    const hex = fileHex((a.config as { topic?: string }).topic ?? 'audit-events', 0, 10)
    assert.ok((files[1] as string).includes(`-${hex}.`))
    const pattern = new RegExp('^' + String(missing[0].lostFile).replace(/[.]/g, '\\.').replace(/\*/g, '.*') + '$')
    assert.match((files[1] as string).split('/').pop() as string, pattern)
    for (const other of [files[0], files[2]]) assert.doesNotMatch((other as string).split('/').pop() as string, pattern)
    assert.match(missing[0].message, /offsets 10\.\.19 of partition 0 \(10 records\)/)
  })
}
