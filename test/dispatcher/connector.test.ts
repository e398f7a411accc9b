import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { DeadLetterStore } from '../../src/pipeline/dlq.ts'
import { DlqHeader, headerText } from '../../src/pipeline/dead-letter.ts'
import { backends, committedLag, readAll, waitFor } from '../pipeline/helpers.ts'
import { avro, legacy, startConnector, startSeededFake, subjects, urn } from './setup.ts'

for (const backend of backends) {
  describe(`CISO Assistant connector on ${backend.name}`, { skip: backend.skip, timeout: 120_000 }, () => {
    test('each of the six message types reaches the API and changes its state as the backend would', async (t) => {
      const opened = await backend.open(t)
      const { fake, ids } = await startSeededFake(t)
      const { connector, schema, topic, dlq, config, captured } = await startConnector(opened, fake)
      const pdf = Buffer.from('%PDF-1.7 fake report')
      const scan = Buffer.from('{"findings":[]}')
      await opened.log.produce(topic, [
        legacy({ message_type: 'update_applied_control', selector: { ref_id: 'AC-1' }, values: { status: 'in_progress', priority: '2' } }, 'AC-1'),
        legacy({ message_type: 'update_requirement_assessment', selector: { compliance_assessment__ref_id: 'ISO_001', requirement__urn: urn('a.5.1') }, values: { result: 'compliant' } }),
        legacy({ message_type: 'upload_attachment', selector: {}, values: { file_content: pdf.toString('base64'), file_name: 'rapport final (v2).pdf', applied_controls: { ref_id: 'AC-1' } } }, 'AC-1'),
        await avro(schema, subjects.appliedControlStatus, { event_type: 'update_applied_control_status', selector: { filters: { ref_id: 'AC-2' }, target: 'single' }, values: { status: 'active', observation: 'restored', eta: null, progress_field: null } }, 'AC-2'),
        await avro(schema, subjects.requirementAssessmentStatus, {
          event_type: 'update_requirement_assessment_status',
          selector: { filters: { compliance_assessment__ref_id: 'ISO_001', requirement__urn: urn('a.5.2') }, target: 'single' },
          values: { result: 'non_compliant', status: 'done', extended_result: 'minor_nonconformity', observation: 'gap found', score: null, is_scored: null, documentation_score: null }
        }),
        await avro(schema, subjects.attachEvidence, {
          event_type: 'attach_evidence_to_applied_control',
          evidence: { filters: {}, name: 'Backup scan' },
          file_name: 'scan.json',
          file_content: scan,
          file_s3_bucket: null,
          applied_controls: { filters: { ref_id: 'AC-2' }, target: 'single' }
        }, 'AC-2')
      ])
      await connector.start()
      await waitFor(async () => await committedLag(opened.log, config.dispatcher.group, topic) === 0 && connector.pipeline.stats().succeeded === 6, 'six messages applied')

      const ac1 = fake.appliedControls.get(ids.ac1)
      assert.equal(ac1?.status, 'in_progress')
      assert.equal(ac1?.priority, 2)
      assert.equal(fake.requirementAssessments.get(ids.ra1)?.result, 'compliant')
      const report = [...fake.evidences.values()].find(e => e.name === 'rapport final (v2).pdf')
      assert.ok(report !== undefined, 'the evidence was created, named after the file')
      assert.equal(report.folder, fake.root.id)
      assert.deepEqual(report.revisions.map(r => [r.version, r.attachment?.name, r.attachment?.bytes.toString()]), [[1, 'rapport final (v2).pdf', pdf.toString()]])
      assert.deepEqual(ac1?.evidences, [report.id], 'linked to AC-1')

      const ac2 = fake.appliedControls.get(ids.ac2)
      assert.deepEqual([ac2?.status, ac2?.progress_field, ac2?.observation], ['active', 100, 'restored'])
      const ra2 = fake.requirementAssessments.get(ids.ra2)
      assert.deepEqual([ra2?.result, ra2?.status, ra2?.extended_result, ra2?.observation], ['non_compliant', 'done', 'minor_nonconformity', 'gap found'])
      const backupScan = [...fake.evidences.values()].find(e => e.name === 'Backup scan')
      assert.equal(backupScan?.revisions[0]?.attachment?.bytes.toString(), scan.toString())
      assert.deepEqual(ac2?.evidences, [backupScan?.id])
      assert.equal(fake.appliedControls.get(ids.ac3)?.status, '--', 'nothing else changed')
      assert.equal((await readAll(opened.log, dlq)).length, 0)

      // The upload is the dispatcher's: raw bytes, no Content-Type, the name encoded as Python's quote().
      const upload = fake.requests.find(r => r.path.endsWith('/upload/') && r.body.equals(pdf))
      assert.equal(upload?.headers['content-type'], undefined)
      assert.match(String(upload?.headers['content-disposition']), /^attachment; filename=rapport%20final%20%28v2%29\.pdf;/)
      const create = fake.requests.find(r => r.method === 'POST' && r.path === '/api/evidences/')
      assert.equal(create?.headers['content-type'], 'application/x-www-form-urlencoded')

      // One INFO line per record, with the fields the issue lists, and never the token.
      const processed = captured.lines().filter(l => l.msg === 'record processed')
      assert.equal(processed.length, 6)
      for (const line of processed) {
        for (const field of ['event_type', 'pipeline', 'topic', 'partition', 'offset', 'attempt', 'outcome', 'durationMs']) assert.ok(field in line, `${field} logged`)
      }
      assert.ok(processed.some(l => typeof l.event_id === 'string'), 'event_id of seed-000 events is logged')
      assert.doesNotMatch(captured.text(), new RegExp(fake.token))
    })

    test('with the API failing transiently for a while, every record is applied exactly once, in per-key order', async (t) => {
      const opened = await backend.open(t)
      const { fake } = await startSeededFake(t)
      const keys = Array.from({ length: 8 }, (_, i) => `K-${i}`)
      const controls = new Map(keys.map(k => [k, fake.addAppliedControl({ name: `control ${k}`, ref_id: k }).id]))
      const { connector, topic, config } = await startConnector(opened, fake, { api: { requestTimeoutMs: 250 }, concurrency: 4 }, { retry: { maxAttempts: 20 } })
      const perKey = 5
      const records = []
      for (let seq = 0; seq < perKey; seq++) {
        for (const key of keys) records.push(legacy({ message_type: 'update_applied_control', selector: { ref_id: key }, values: { observation: `seq-${seq}` } }, key))
      }
      await opened.log.produce(topic, records)
      fake.inject({ kind: 'status', status: 503, retryAfter: '0', times: 4 })
      fake.inject({ kind: 'status', status: 429, retryAfter: '0', times: 3 })
      fake.inject({ kind: 'status', status: 502, times: 2, match: r => r.method === 'PATCH' })
      fake.inject({ kind: 'timeout', times: 2 })
      fake.inject({ kind: 'reset', times: 3 })
      await connector.start()
      await waitFor(async () => await committedLag(opened.log, config.dispatcher.group, topic) === 0, 'all committed')
      assert.equal(fake.faulted, 14, 'every injected fault was hit')
      for (const key of keys) {
        const patches = fake.mutationsOf(controls.get(key) as string).map(m => (m.body as { observation: string }).observation)
        assert.deepEqual(patches, Array.from({ length: perKey }, (_, i) => `seq-${i}`), `${key}: each applied once, in order`)
      }
      assert.equal(connector.pipeline.stats().deadLettered, 0)
      assert.ok(connector.pipeline.stats().retried >= 14)
    })

    test('permanent failures land in the DLQ with context, the pipeline goes on, and a redrive after the fix applies them', async (t) => {
      const opened = await backend.open(t)
      const { fake, ids } = await startSeededFake(t)
      const { connector, topic, dlq, config } = await startConnector(opened, fake)
      await opened.log.produce(topic, [
        legacy({ message_type: 'update_applied_control', selector: { ref_id: 'AC-NEW' }, values: { status: 'active' } }, 'AC-NEW'),
        legacy({ message_type: 'update_requirement_assessment', selector: { compliance_assessment__ref_id: 'LOCKED_001', requirement__urn: urn('a.5.1') }, values: { result: 'compliant' } }),
        legacy({ message_type: 'update_applied_control', selector: { ref_idd: 'AC-1' }, values: { status: 'active' } }),
        legacy({ message_type: 'update_applied_control', selector: { ref_id: 'AC-1' }, values: { status: 'finished' } }),
        legacy({ message_type: 'update_applied_control', selector: { name: 'Backups', search: 'Backups', target: 'single' }, values: { status: 'active' } }),
        legacy({ message_type: 'update_requirement_assessment', selector: { requirement__ref_id: 'A.5.1' }, values: { result: 'compliant' } }),
        legacy({ message_type: 'update_applied_control', selector: { search: 'Backups' }, values: { status: 'on_hold' } }),
        legacy({ message_type: 'update_applied_control', selector: { ref_id: 'AC-3' }, values: { status: 'degraded' } })
      ])
      await connector.start()
      await waitFor(async () => await committedLag(opened.log, config.dispatcher.group, topic) === 0, 'all committed')
      assert.equal(fake.appliedControls.get(ids.ac3)?.status, 'degraded', 'the pipeline kept going')
      assert.equal(fake.appliedControls.get(ids.ac2)?.status, 'active', 'a selector narrowed to one match applies')
      const letters = await readAll(opened.log, dlq)
      const messageOf = (code: string) => letters.filter(r => headerText(r.headers, DlqHeader.errorCode) === code).map(r => headerText(r.headers, DlqHeader.errorMessage)).join(' | ')
      assert.deepEqual(letters.map(r => headerText(r.headers, DlqHeader.errorCode)).sort(), [
        'VGL_DISPATCHER_HTTP_REJECTED',
        'VGL_DISPATCHER_NO_MATCH',
        'VGL_DISPATCHER_SELECTOR_INVALID',
        'VGL_DISPATCHER_SELECTOR_INVALID',
        'VGL_DISPATCHER_TOO_MANY_MATCHES',
        'VGL_DISPATCHER_VALUES_INVALID'
      ])
      assert.match(messageOf('VGL_DISPATCHER_NO_MATCH'), /0 matches/)
      assert.match(messageOf('VGL_DISPATCHER_HTTP_REJECTED'), /answered 400: .*Cannot modify the requirement when the audit is locked/)
      assert.match(messageOf('VGL_DISPATCHER_TOO_MANY_MATCHES'), /but 2 match/)
      assert.match(messageOf('VGL_DISPATCHER_SELECTOR_INVALID'), /ref_idd is not a filter .* \| .*use requirement__urn/)
      assert.match(messageOf('VGL_DISPATCHER_VALUES_INVALID'), /values.status must be one of/)
      assert.equal(fake.requests.filter(r => r.query.includes('ref_idd') || r.query.includes('requirement__ref_id')).length, 0, 'refused selectors made no call')
      for (const letter of letters) {
        assert.equal(headerText(letter.headers, DlqHeader.attempts), '1', 'permanent: no retry')
        assert.equal(headerText(letter.headers, DlqHeader.pipeline), 'ciso-assistant')
        assert.equal(headerText(letter.headers, DlqHeader.topic), topic)
        assert.ok(headerText(letter.headers, DlqHeader.eventType)?.startsWith('update_'))
      }

      // Fix the causes, then redrive what failed because of them.
      fake.addAppliedControl({ name: 'New control', ref_id: 'AC-NEW' })
      const lockedAudit = fake.complianceAssessments.get(ids.locked)
      if (lockedAudit !== undefined) lockedAudit.is_locked = false
      const store = new DeadLetterStore(opened.log, { maxRedrives: config.pipelines.deadLetter.maxRedrives })
      const listed = await store.list(dlq, { errorCode: 'VGL_DISPATCHER_NO_MATCH' })
      assert.equal(listed.total, 1)
      const rejected = letters.find(r => headerText(r.headers, DlqHeader.errorCode) === 'VGL_DISPATCHER_HTTP_REJECTED')
      const result = await store.redrive({ deadLetterTopic: dlq, ids: [(listed.items[0] as { id: string }).id, `${dlq}:${rejected?.partition ?? -1}:${rejected?.offset ?? -1}`] })
      assert.equal(result.redriven, 2)
      await waitFor(() => fake.requirementAssessments.get(ids.lockedRa)?.result === 'compliant' && [...fake.appliedControls.values()].some(c => c.ref_id === 'AC-NEW' && c.status === 'active'), 'redriven records applied')
      const again = await store.redrive({ deadLetterTopic: dlq, filter: { errorCode: 'VGL_DISPATCHER_NO_MATCH' } })
      assert.deepEqual(again.outcomes.map(o => o.code), ['VGL_DLQ_ALREADY_REDRIVEN'], 'the same dead letter is not redriven twice')
      await waitFor(async () => await committedLag(opened.log, config.dispatcher.group, topic) === 0, 'all committed')
      assert.equal((await readAll(opened.log, dlq)).length, 6, 'no new dead letter')
    })

    test('poison records never stop the connector: garbage, an unknown schema id, non-objects, unknown types', async (t) => {
      const opened = await backend.open(t)
      const { fake, ids } = await startSeededFake(t)
      const { connector, topic, dlq, config } = await startConnector(opened, fake)
      const unknownId = Buffer.concat([Buffer.from([0]), Buffer.from([0x7f, 0xff, 0xff, 0x00]), Buffer.from('body')])
      await opened.log.produce(topic, [
        { value: Buffer.from([0xde, 0xad, 0xbe, 0xef]) },
        { value: unknownId },
        { value: Buffer.from([0, 0, 0]) },
        { value: Buffer.from('[1,2,3]') },
        { value: Buffer.from('"update_applied_control"') },
        { value: Buffer.alloc(0) },
        { value: null },
        legacy({ message_type: 'delete_everything', selector: { ref_id: 'AC-1' }, values: {} }),
        legacy({ event_type: 'update_applied_control_status', selector: 'AC-1', values: { status: 'active' } }),
        legacy({ message_type: 'update_applied_control', selector: { ref_id: 'AC-1' }, values: { status: 'active' } })
      ])
      await connector.start()
      await waitFor(async () => await committedLag(opened.log, config.dispatcher.group, topic) === 0, 'all committed')
      assert.equal(fake.appliedControls.get(ids.ac1)?.status, 'active')
      const letters = await readAll(opened.log, dlq)
      assert.deepEqual(letters.map(r => headerText(r.headers, DlqHeader.errorCode)).sort(), [
        'VGL_DISPATCHER_MESSAGE_INVALID',
        'VGL_DISPATCHER_MESSAGE_INVALID',
        'VGL_DISPATCHER_MESSAGE_INVALID',
        'VGL_PIPELINE_DECODE_FAILED',
        'VGL_PIPELINE_DECODE_FAILED',
        'VGL_PIPELINE_DECODE_FAILED',
        'VGL_PIPELINE_DECODE_FAILED',
        'VGL_PIPELINE_NO_ROUTE',
        'VGL_SCHEMA_SERDE_UNKNOWN_ID'
      ])
      const kept = letters.find(r => headerText(r.headers, DlqHeader.errorCode) === 'VGL_SCHEMA_SERDE_UNKNOWN_ID')
      assert.deepEqual(kept?.value, unknownId, 'the original bytes are kept')
    })

    test('redelivery creates no duplicate evidence and no duplicate link', async (t) => {
      const opened = await backend.open(t)
      const { fake, ids } = await startSeededFake(t)
      const { connector, topic, config } = await startConnector(opened, fake)
      const message = { message_type: 'upload_attachment', selector: {}, values: { name: 'Quarterly review', file_content: Buffer.from('v1').toString('base64'), file_name: 'review.txt', applied_controls: { ref_id: 'AC-1' } } }
      await opened.log.produce(topic, [legacy(message, 'AC-1'), legacy(message, 'AC-1'), legacy({ ...message, values: { ...message.values, file_content: Buffer.from('v2').toString('base64') } }, 'AC-1')])
      await connector.start()
      await waitFor(async () => await committedLag(opened.log, config.dispatcher.group, topic) === 0, 'all committed')
      const named = [...fake.evidences.values()].filter(e => e.name === 'Quarterly review')
      assert.equal(named.length, 1, 'one evidence, however often the message comes')
      assert.equal(fake.mutations.filter(m => m.kind === 'create').length, 1)
      assert.equal(named[0]?.revisions.length, 1)
      assert.equal(named[0]?.revisions[0]?.attachment?.bytes.toString(), 'v2', 'the latest upload replaces the attachment')
      assert.deepEqual(fake.appliedControls.get(ids.ac1)?.evidences, [named[0]?.id], 'linked once')
    })

    test('the legacy errors topic receives the dispatcher\'s {message, error} record for each dead letter', async (t) => {
      const opened = await backend.open(t)
      const { fake } = await startSeededFake(t)
      const errorsTopic = `errors-${Date.now()}-${backend.name}`
      const { connector, topic, config } = await startConnector(opened, fake, { errorsTopic })
      const message = { message_type: 'update_applied_control', selector: { ref_id: 'nope' }, values: { status: 'active' } }
      await opened.log.produce(topic, [legacy(message)])
      await connector.start()
      await waitFor(async () => await committedLag(opened.log, config.dispatcher.group, topic) === 0, 'all committed')
      await waitFor(async () => (await opened.log.admin.listTopics()).includes(errorsTopic) && (await readAll(opened.log, errorsTopic)).length === 1, 'error record written')
      const [record] = await readAll(opened.log, errorsTopic)
      const body = JSON.parse(String(record?.value)) as { message: unknown, error: string }
      assert.deepEqual(body.message, message)
      assert.match(body.error, /no object of \/applied-controls\/ matches/)
    })
  })
}
