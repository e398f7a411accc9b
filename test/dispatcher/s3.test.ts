import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { startS3 } from '../../scripts/s3.ts'
import { DlqHeader, headerText } from '../../src/pipeline/dead-letter.ts'
import { committedLag, embedded, readAll, waitFor } from '../pipeline/helpers.ts'
import { avro, legacy, startConnector, startSeededFake, subjects } from './setup.ts'

test('attachments are read from S3 (file_s3_bucket, key = file_name) on an S3-compatible server', { timeout: 120_000 }, async (t) => {
  let s3: Awaited<ReturnType<typeof startS3>>
  try {
    s3 = await startS3({ bucket: 'evidence' })
  } catch (error) {
    t.skip(`no S3-compatible server (scripts/s3.ts): ${(error as Error).message.split('\n')[0] ?? ''}`)
    return
  }
  t.after(() => s3.stop())
  const client = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } })
  t.after(() => client.destroy())
  const pdf = Buffer.from('%PDF-1.4 audit report from S3')
  await client.send(new PutObjectCommand({ Bucket: 'evidence', Key: 'reports/2026/q1 report.pdf', Body: pdf }))
  await client.send(new PutObjectCommand({ Bucket: 'evidence', Key: 'scan.csv', Body: 'host,finding\n' }))

  const opened = await embedded().open(t)
  const { fake, ids } = await startSeededFake(t)
  const { connector, topic, dlq, config, schema } = await startConnector(opened, fake, {
    s3: { url: s3.endpoint, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, region: s3.region }
  })
  await opened.log.produce(topic, [
    legacy({ message_type: 'upload_attachment', selector: {}, values: { file_s3_bucket: 'evidence', file_name: 'reports/2026/q1 report.pdf', applied_controls: { ref_id: 'AC-1' } } }),
    await avro(schema, subjects.attachEvidence, {
      event_type: 'attach_evidence_to_applied_control',
      evidence: { filters: {}, name: 'Scan results' },
      file_name: 'scan.csv',
      file_content: null,
      file_s3_bucket: 'evidence',
      applied_controls: { filters: { ref_id: 'AC-2' }, target: 'single' }
    }),
    legacy({ message_type: 'upload_attachment', selector: {}, values: { file_s3_bucket: 'evidence', file_name: 'missing.pdf' } })
  ])
  await connector.start()
  await waitFor(async () => await committedLag(opened.log, config.dispatcher.group, topic) === 0, 'all committed')

  const report = [...fake.evidences.values()].find(e => e.name === 'reports/2026/q1 report.pdf')
  assert.deepEqual(report?.revisions[0]?.attachment?.bytes, pdf)
  assert.equal(report?.revisions[0]?.attachment?.name, 'reports/2026/q1 report.pdf')
  assert.deepEqual(fake.appliedControls.get(ids.ac1)?.evidences, [report?.id])
  const scan = [...fake.evidences.values()].find(e => e.name === 'Scan results')
  assert.equal(scan?.revisions[0]?.attachment?.bytes.toString(), 'host,finding\n')
  assert.deepEqual(fake.appliedControls.get(ids.ac2)?.evidences, [scan?.id])

  const letters = await readAll(opened.log, dlq)
  assert.deepEqual(letters.map(r => headerText(r.headers, DlqHeader.errorCode)), ['VGL_DISPATCHER_S3_NOT_FOUND'])
  assert.match(headerText(letters[0]?.headers ?? [], DlqHeader.errorMessage) ?? '', /s3:\/\/evidence\/missing.pdf does not exist/)
  assert.equal(fake.evidences.size, 2, 'no evidence created for the missing file')
})
