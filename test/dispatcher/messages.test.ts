import { test } from 'node:test'
import assert from 'node:assert/strict'
import { isVigilError } from '../../src/errors.ts'
import {
  checkMessageShape, contentDisposition, decodeBase64, parseAppliedControlStatus, parseAttachEvidence, parseLegacyUpdate,
  parseLegacyUpload, parseRequirementAssessmentStatus, pythonQuote
} from '../../src/dispatcher/messages.ts'
import { parseSelector, parseValues } from '../../src/dispatcher/model.ts'
import { filenameOf } from '../fakes/ciso-assistant/server.ts'

const folder = '3f2504e0-4f89-41d3-9a0c-0305e82c3301'
const max = 1024 * 1024

function code (fn: () => unknown): string {
  try {
    fn()
  } catch (error) {
    if (isVigilError(error)) return `${error.code}: ${error.message}`
    throw error
  }
  return 'no error'
}

test('legacy update messages become checked commands, as the README samples read them', () => {
  assert.deepEqual(parseLegacyUpdate({ message_type: 'update_applied_control', selector: { ref_id: 'foo' }, values: { priority: '1' } }, 'applied-controls'), {
    kind: 'update', resource: 'applied-controls', selector: { filters: [['ref_id', 'foo']], target: 'single' }, values: { priority: 1 }
  })
  const multi = parseLegacyUpdate({
    message_type: 'update_requirement_assessment',
    selector: { compliance_assessment__ref_id: 'ISO_001', requirement__urn: 'urn:intuitem:risk:req_node:iso27001-2022:a.5.1', requirement__assessable: true, target: 'multiple' },
    values: { result: 'compliant', observation: 'checked by scanner' }
  }, 'requirement-assessments')
  assert.deepEqual(multi.kind === 'update' && multi.selector, {
    filters: [['compliance_assessment__ref_id', 'ISO_001'], ['requirement__urn', 'urn:intuitem:risk:req_node:iso27001-2022:a.5.1'], ['requirement__assessable', 'True']],
    target: 'multiple'
  })
  // Lists become repeated parameters, nulls are dropped, numbers are text.
  assert.deepEqual(parseSelector('applied-controls', { ref_id: ['a', 'b'], priority: 2, name: null }, 'selector').filters, [['ref_id', 'a'], ['ref_id', 'b'], ['priority', '2']])
})

test('a selector is refused before any call when it could widen the match or cannot match', () => {
  assert.match(code(() => parseLegacyUpdate({ selector: { ref_idd: 'foo' }, values: { status: 'active' } }, 'applied-controls')),
    /VGL_DISPATCHER_SELECTOR_INVALID: selector.ref_idd is not a filter of \/applied-controls\/: the backend ignores unknown filters/)
  assert.match(code(() => parseLegacyUpdate({ selector: { requirement__ref_id: 'A.5.1' }, values: { result: 'compliant' } }, 'requirement-assessments')),
    /requirement__ref_id was removed .* use requirement__urn/)
  assert.match(code(() => parseSelector('evidences', { ref_id: 'bar' }, 'selector')), /evidences have no ref_id/)
  assert.match(code(() => parseSelector('applied-controls', { folder: 'global/mydomain' }, 'selector')), /selector.folder must be a UUID/)
  assert.match(code(() => parseSelector('applied-controls', { status: 'done' }, 'selector')), /selector.status must be one of to_do, in_progress/)
  assert.match(code(() => parseSelector('applied-controls', { ref_id: 'x', target: 'all' }, 'selector')), /target must be "single" or "multiple"/)
  assert.match(code(() => parseSelector('applied-controls', { target: 'multiple' }, 'selector')), /has no filter: it would match every object/)
  assert.match(code(() => parseSelector('applied-controls', { ref_id: { nested: 1 } }, 'selector')), /must be a string, number, boolean or a list/)
  assert.match(code(() => parseLegacyUpdate({ selector: {}, values: { status: 'active' } }, 'applied-controls')), /No selector provided/)
  assert.match(code(() => parseLegacyUpdate({ selector: { ref_id: 'x' }, values: {} }, 'applied-controls')), /VGL_DISPATCHER_VALUES_INVALID: No update values provided/)
  assert.equal(parseSelector('applied-controls', { 'cf.team': 'blue', folder, id: `${folder},${folder}`, eta__lte: '2026-01-31' }, 'selector').filters.length, 4)
})

test('update values are checked against the models\' writable fields and enums', () => {
  assert.deepEqual(parseValues('applied-controls', { status: 'active', priority: '4', effort: 'XL', eta: '2026-02-28', progress_field: 50, link: 'https://x.example/doc' }),
    { status: 'active', priority: 4, effort: 'XL', eta: '2026-02-28', progress_field: 50, link: 'https://x.example/doc' })
  assert.deepEqual(parseValues('applied-controls', { status: '--', priority: null }), { status: '--', priority: null })
  const problems = code(() => parseValues('applied-controls', { status: 'done', priority: 5, eta: '2026-02-30', colour: 'red', progress_field: 101 }))
  assert.match(problems, /^VGL_DISPATCHER_VALUES_INVALID/)
  for (const part of [/values.status must be one of "to_do"/, /values.priority must be one of 1, 2, 3, 4/, /values.eta must be a date/, /values.colour is not a writable field/, /values.progress_field must be a whole number from 0 to 100/]) {
    assert.match(problems, part)
  }
  assert.deepEqual(parseValues('requirement-assessments', { result: 'non_compliant', status: 'done', extended_result: 'minor_nonconformity', respondent_alignment: 'yes', is_scored: true, score: 3 }),
    { result: 'non_compliant', status: 'done', extended_result: 'minor_nonconformity', respondent_alignment: 'yes', is_scored: true, score: 3 })
  assert.match(code(() => parseValues('requirement-assessments', { result: 'pass' })), /values.result must be one of "not_assessed", "partially_compliant"/)
})

test('upload_attachment: base64 or S3, evidence selector forced to single, name defaults to file_name', () => {
  const command = parseLegacyUpload({
    message_type: 'upload_attachment',
    selector: { name: 'Sample evidence', target: 'multiple' },
    values: { applied_controls: { ref_id: 'foo' }, file_content: Buffer.from('hello').toString('base64'), file_name: 'sample.txt' }
  }, max)
  assert.equal(command.kind, 'attach')
  if (command.kind !== 'attach') return
  assert.deepEqual(command.evidenceSelector, { filters: [['name', 'Sample evidence']], target: 'single' })
  assert.equal(command.file.kind === 'inline' && command.file.bytes.toString(), 'hello')
  assert.deepEqual(command.appliedControls, { filters: [['ref_id', 'foo']], target: 'single' })
  const s3 = parseLegacyUpload({ selector: {}, values: { file_s3_bucket: 'evidence-bucket', file_name: 'reports/q1.pdf' } }, max)
  assert.deepEqual(s3.kind === 'attach' && [s3.evidenceSelector, s3.evidenceName, s3.file], [null, 'reports/q1.pdf', { kind: 's3', bucket: 'evidence-bucket', key: 'reports/q1.pdf' }])
  assert.match(code(() => parseLegacyUpload({ values: { file_name: 'a.txt' } }, max)), /VGL_DISPATCHER_ATTACHMENT_INVALID: values has neither file_content/)
  assert.match(code(() => parseLegacyUpload({ values: { file_content: 'aGk=' } }, max)), /values.file_name is required/)
  assert.match(code(() => parseLegacyUpload({ values: { file_name: 'a.txt', file_content: '' } }, max)), /file_content is empty/)
  assert.match(code(() => parseLegacyUpload({ values: { file_name: 'a.txt', file_content: 'not base64!' } }, max)), /not valid standard base64/)
  assert.match(code(() => decodeBase64(Buffer.alloc(2000).toString('base64'), 'f', 1000)), /more than dispatcher.maxAttachmentBytes/)
  assert.match(code(() => parseLegacyUpload({ values: { file_name: 'a.txt', file_s3_bucket: 'Bad_Bucket' } }, max)), /must be an S3 bucket name/)
})

test('seed 000 events (Avro-decoded values or JSON) become the same commands', () => {
  const status = parseAppliedControlStatus({
    event_id: '0d7f0b8e-5d43-4b0f-9d7e-2b9c6a1f4e11',
    event_type: 'update_applied_control_status',
    version: 1,
    selector: { filters: { ref_id: 'AC-1' }, target: 'single' },
    values: { status: 'undefined', observation: null, eta: '2026-03-01', progress_field: null }
  })
  assert.deepEqual(status, { kind: 'update', resource: 'applied-controls', selector: { filters: [['ref_id', 'AC-1']], target: 'single' }, values: { status: '--', eta: '2026-03-01' } })
  const ra = parseRequirementAssessmentStatus({
    event_type: 'update_requirement_assessment_status',
    selector: { filters: new Map([['compliance_assessment__ref_id', 'ISO_001']]), target: 'multiple' },
    values: { result: 'compliant', status: null, extended_result: null, observation: 'ok', score: null, is_scored: null, documentation_score: null }
  })
  assert.deepEqual(ra.kind === 'update' && [ra.selector, ra.values], [{ filters: [['compliance_assessment__ref_id', 'ISO_001']], target: 'multiple' }, { result: 'compliant', observation: 'ok' }])
  const attach = parseAttachEvidence({
    event_type: 'attach_evidence_to_applied_control',
    evidence: { filters: {}, name: 'Scan report' },
    file_name: 'scan.json',
    file_content: Buffer.from('{"ok":true}'),
    file_s3_bucket: null,
    applied_controls: { filters: { ref_id: 'AC-1' }, target: 'single' }
  }, max)
  assert.deepEqual(attach.kind === 'attach' && [attach.evidenceSelector, attach.evidenceName, attach.fileName], [null, 'Scan report', 'scan.json'])
  // The generic envelope with the body as JSON text in payload.
  const enveloped = parseAppliedControlStatus({ event_type: 'update_applied_control_status', payload: JSON.stringify({ selector: { filters: { ref_id: 'AC-2' } }, values: { status: 'active' } }) })
  assert.deepEqual(enveloped.kind === 'update' && enveloped.values, { status: 'active' })
  assert.match(code(() => parseAppliedControlStatus({ event_type: 'update_applied_control_status', selector: { filters: { owner: 'bob' } }, values: { status: 'active' } })), /selector.filters.owner must be a UUID/)
})

test('message shape: not an object, or no type, is a coded validation failure', () => {
  assert.match(code(() => checkMessageShape([])), /VGL_DISPATCHER_MESSAGE_INVALID: message must be a JSON object, got a list/)
  assert.match(code(() => checkMessageShape('x')), /got "x"/)
  assert.match(code(() => checkMessageShape({ selector: {} })), /neither a message_type .* nor an event_type/)
})

test('Content-Disposition encodes the name as Python quote() does, and the backend reads back the real name', () => {
  assert.equal(pythonQuote('rapport final (v2)!.pdf'), 'rapport%20final%20%28v2%29%21.pdf')
  assert.equal(pythonQuote("it's*here/über.txt"), 'it%27s%2Ahere/%C3%BCber.txt')
  assert.equal(pythonQuote('a-b_c.d~e'), 'a-b_c.d~e')
  const header = contentDisposition('rapport final (v2)!.pdf')
  assert.equal(header, "attachment; filename=rapport%20final%20%28v2%29%21.pdf; filename*=utf-8''rapport%20final%20%28v2%29%21.pdf")
  assert.equal(filenameOf(header), 'rapport final (v2)!.pdf')
  // The original dispatcher's header alone: the backend keeps the quoted text.
  assert.equal(filenameOf('attachment; filename=rapport%20final.pdf'), 'rapport%20final.pdf')
})
