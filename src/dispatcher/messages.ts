/**
 * The observation messages the connector accepts, in both formats, turned into checked commands.
 *
 * Legacy (CISO Assistant's dispatcher, JSON): `{message_type, selector, values}` with
 * - `update_applied_control` / `update_requirement_assessment`: selector → GET, values → PATCH each;
 * - `upload_attachment`: selector (of evidences; empty: create one named values.name or
 *   values.file_name), values.file_content (base64) or values.file_s3_bucket (key: file_name),
 *   values.applied_controls (a selector of controls to link).
 *
 * Seed 000 (Avro, Confluent-framed; or the same fields as JSON): the envelope `event_id`,
 * `event_type`, `version`, … with schemas/ciso-assistant/*.avsc:
 * - `update_applied_control_status`: selector {filters, target}, values {status, observation, eta, progress_field};
 * - `update_requirement_assessment_status`: selector {filters, target}, values {result, status, …};
 * - `attach_evidence_to_applied_control`: evidence {filters, name}, file_name, file_content (bytes)
 *   or file_s3_bucket, applied_controls {filters, target}.
 * The generic envelope (schemas/vigil/event-envelope.avsc) carrying one of these as JSON text in
 * `payload` is accepted too. Null fields are not sent to the backend.
 */
import { VigilError } from '../errors.ts'
import { describe, parseSelector, parseValues, type Selector } from './model.ts'

export const legacyTypes = ['update_applied_control', 'update_requirement_assessment', 'upload_attachment'] as const
export const eventTypes = ['update_applied_control_status', 'update_requirement_assessment_status', 'attach_evidence_to_applied_control'] as const
export type MessageType = typeof legacyTypes[number] | typeof eventTypes[number]

export type FileSource =
  | { kind: 'inline', bytes: Buffer }
  | { kind: 's3', bucket: string, key: string }

export type Command =
  | { kind: 'update', resource: 'applied-controls' | 'requirement-assessments', selector: Selector, values: Record<string, unknown> }
  | {
    kind: 'attach'
    /** null: find the evidence by name, or create it. */
    evidenceSelector: Selector | null
    evidenceName: string
    fileName: string
    file: FileSource
    /** null: link to no control. */
    appliedControls: Selector | null
  }

/** The route of a decoded message: its message_type (legacy) or event_type (seed 000). */
export function messageTypeOf (value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const v = value as Record<string, unknown>
  if (typeof v.message_type === 'string') return v.message_type
  if (typeof v.event_type === 'string') return v.event_type
  return undefined
}

/** Checks a decoded message's outer shape; throws VGL_DISPATCHER_MESSAGE_INVALID. */
export function checkMessageShape (value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Buffer.isBuffer(value)) {
    throw new VigilError('VGL_DISPATCHER_MESSAGE_INVALID', `message must be a JSON object, got ${describe(value)}`, {})
  }
  if (messageTypeOf(value) === undefined) {
    throw new VigilError('VGL_DISPATCHER_MESSAGE_INVALID', 'message has neither a message_type (legacy dispatcher format) nor an event_type (seed 000 envelope)', { field: 'message_type' })
  }
  return value as Record<string, unknown>
}

function invalid (message: string, field: string): VigilError {
  return new VigilError('VGL_DISPATCHER_MESSAGE_INVALID', message, { field })
}

function isEmptyObject (value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0)
}

/** The body of an envelope whose typed fields travel as JSON text in `payload`. */
function bodyOf (message: Record<string, unknown>): Record<string, unknown> {
  if (typeof message.payload === 'string' && !('selector' in message) && !('file_name' in message)) {
    let parsed: unknown
    try {
      parsed = JSON.parse(message.payload)
    } catch (cause) {
      throw new VigilError('VGL_DISPATCHER_MESSAGE_INVALID', `payload is not JSON text: ${(cause as Error).message}`, { field: 'payload', cause })
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalid(`payload must hold a JSON object, got ${describe(parsed)}`, 'payload')
    return { ...message, ...parsed as Record<string, unknown> }
  }
  return message
}

// ---- legacy -------------------------------------------------------------------------------------

export function parseLegacyUpdate (message: Record<string, unknown>, resource: 'applied-controls' | 'requirement-assessments'): Command {
  if (isEmptyObject(message.selector)) throw new VigilError('VGL_DISPATCHER_SELECTOR_INVALID', 'No selector provided.', { field: 'selector' })
  if (isEmptyObject(message.values)) throw new VigilError('VGL_DISPATCHER_VALUES_INVALID', 'No update values provided in the message.', { field: 'values' })
  return { kind: 'update', resource, selector: parseSelector(resource, message.selector, 'selector'), values: parseValues(resource, message.values) }
}

export function parseLegacyUpload (message: Record<string, unknown>, maxBytes: number): Command {
  const values = message.values
  if (typeof values !== 'object' || values === null || Array.isArray(values)) throw invalid(`values must be an object, got ${describe(values)}`, 'values')
  const v = values as Record<string, unknown>
  const fileName = requireFileName(v.file_name, 'values.file_name')
  let file: FileSource
  if ('file_content' in v) file = { kind: 'inline', bytes: decodeBase64(v.file_content, 'values.file_content', maxBytes) }
  else if ('file_s3_bucket' in v) file = s3Source(v.file_s3_bucket, v.file_s3_key, fileName, 'values')
  else throw new VigilError('VGL_DISPATCHER_ATTACHMENT_INVALID', 'values has neither file_content (base64) nor file_s3_bucket', { field: 'values.file_content' })
  const name = v.name === undefined || v.name === null ? fileName : requireText(v.name, 'values.name')
  // The dispatcher forces target "single" on the evidence selector.
  const evidenceSelector = isEmptyObject(message.selector) ? null : { ...parseSelector('evidences', message.selector, 'selector'), target: 'single' as const }
  const appliedControls = v.applied_controls === undefined || v.applied_controls === null ? null : parseSelector('applied-controls', v.applied_controls, 'values.applied_controls')
  return { kind: 'attach', evidenceSelector, evidenceName: name, fileName, file, appliedControls }
}

// ---- seed 000 (Avro or JSON) --------------------------------------------------------------------

function parseTypedSelector (resource: 'applied-controls' | 'requirement-assessments' | 'evidences', raw: unknown, where: string): Selector {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid(`${where} must be {filters, target}, got ${describe(raw)}`, where)
  const s = raw as { filters?: unknown, target?: unknown }
  if (typeof s.filters !== 'object' || s.filters === null || Array.isArray(s.filters)) throw invalid(`${where}.filters must be a map of filter name to value, got ${describe(s.filters)}`, `${where}.filters`)
  const filters = s.filters instanceof Map ? Object.fromEntries(s.filters) : s.filters as Record<string, unknown>
  return parseSelector(resource, { ...filters, target: s.target ?? 'single' }, `${where}.filters`)
}

/** Drops nulls: fields left null are not sent. */
function nonNull (values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== null && v !== undefined))
}

function valuesObject (raw: unknown, where: string): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid(`${where} must be an object, got ${describe(raw)}`, where)
  return raw as Record<string, unknown>
}

export function parseAppliedControlStatus (message: Record<string, unknown>): Command {
  const body = bodyOf(message)
  const values = nonNull(valuesObject(body.values, 'values'))
  // The Avro enum cannot hold "--": its symbol is "undefined".
  if (values.status === 'undefined') values.status = '--'
  if (values.eta instanceof Date) values.eta = values.eta.toISOString().slice(0, 10)
  return { kind: 'update', resource: 'applied-controls', selector: parseTypedSelector('applied-controls', body.selector, 'selector'), values: parseValues('applied-controls', values) }
}

export function parseRequirementAssessmentStatus (message: Record<string, unknown>): Command {
  const body = bodyOf(message)
  const values = nonNull(valuesObject(body.values, 'values'))
  return { kind: 'update', resource: 'requirement-assessments', selector: parseTypedSelector('requirement-assessments', body.selector, 'selector'), values: parseValues('requirement-assessments', values) }
}

export function parseAttachEvidence (message: Record<string, unknown>, maxBytes: number): Command {
  const body = bodyOf(message)
  const fileName = requireFileName(body.file_name, 'file_name')
  let file: FileSource
  if (body.file_content !== undefined && body.file_content !== null) {
    file = Buffer.isBuffer(body.file_content)
      ? { kind: 'inline', bytes: checkSize(body.file_content, 'file_content', maxBytes) }
      : { kind: 'inline', bytes: decodeBase64(body.file_content, 'file_content', maxBytes) }
    if (file.bytes.length === 0) throw new VigilError('VGL_DISPATCHER_ATTACHMENT_INVALID', 'file_content is empty', { field: 'file_content' })
  } else if (body.file_s3_bucket !== undefined && body.file_s3_bucket !== null) {
    file = s3Source(body.file_s3_bucket, body.file_s3_key, fileName, '')
  } else {
    throw new VigilError('VGL_DISPATCHER_ATTACHMENT_INVALID', 'the event has neither file_content nor file_s3_bucket', { field: 'file_content' })
  }
  const evidence = body.evidence === undefined || body.evidence === null ? {} : valuesObject(body.evidence, 'evidence')
  const filters = evidence.filters instanceof Map ? Object.fromEntries(evidence.filters) : evidence.filters
  const evidenceSelector = isEmptyObject(filters) ? null : { ...parseSelector('evidences', filters, 'evidence.filters'), target: 'single' as const }
  const evidenceName = evidence.name === undefined || evidence.name === null ? fileName : requireText(evidence.name, 'evidence.name')
  const appliedControls = body.applied_controls === undefined || body.applied_controls === null ? null : parseTypedSelector('applied-controls', body.applied_controls, 'applied_controls')
  return { kind: 'attach', evidenceSelector, evidenceName, fileName, file, appliedControls }
}

// ---- attachments --------------------------------------------------------------------------------

function requireText (value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw invalid(`${field} must be a non-empty string, got ${describe(value)}`, field)
  return value
}

function requireFileName (value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new VigilError('VGL_DISPATCHER_ATTACHMENT_INVALID', `${field} is required (a non-empty string), got ${describe(value)}`, { field })
  }
  return value
}

function s3Source (bucket: unknown, key: unknown, fileName: string, where: string): FileSource {
  const prefix = where === '' ? '' : `${where}.`
  if (typeof bucket !== 'string' || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new VigilError('VGL_DISPATCHER_ATTACHMENT_INVALID', `${prefix}file_s3_bucket must be an S3 bucket name, got ${describe(bucket)}`, { field: `${prefix}file_s3_bucket` })
  }
  if (key !== undefined && key !== null && (typeof key !== 'string' || key === '')) {
    throw new VigilError('VGL_DISPATCHER_ATTACHMENT_INVALID', `${prefix}file_s3_key must be a non-empty string, got ${describe(key)}`, { field: `${prefix}file_s3_key` })
  }
  // The dispatcher opens "<bucket>/<file_name>": the key is file_name unless file_s3_key says otherwise.
  return { kind: 's3', bucket, key: typeof key === 'string' ? key : fileName }
}

const base64Pattern = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** Standard base64 (whitespace ignored); empty or malformed content is refused. */
export function decodeBase64 (value: unknown, field: string, maxBytes: number): Buffer {
  if (typeof value !== 'string') throw new VigilError('VGL_DISPATCHER_ATTACHMENT_INVALID', `${field} must be a base64 string, got ${describe(value)}`, { field })
  const compact = value.replace(/\s+/g, '')
  if (compact === '') throw new VigilError('VGL_DISPATCHER_ATTACHMENT_INVALID', `${field} is empty`, { field })
  if (!base64Pattern.test(compact)) throw new VigilError('VGL_DISPATCHER_ATTACHMENT_INVALID', `${field} is not valid standard base64`, { field })
  if (compact.length / 4 * 3 > maxBytes + 2) throw tooLarge(field, Math.floor(compact.length / 4 * 3), maxBytes)
  return checkSize(Buffer.from(compact, 'base64'), field, maxBytes)
}

export function checkSize (bytes: Buffer, field: string, maxBytes: number): Buffer {
  if (bytes.length > maxBytes) throw tooLarge(field, bytes.length, maxBytes)
  return bytes
}

function tooLarge (field: string, size: number, maxBytes: number): VigilError {
  return new VigilError('VGL_DISPATCHER_ATTACHMENT_INVALID', `${field} holds ${size} bytes, more than dispatcher.maxAttachmentBytes (${maxBytes})`, { field, size, maxAttachmentBytes: maxBytes })
}

/**
 * Python's urllib.parse.quote(name) (safe "/"), which the dispatcher puts in Content-Disposition:
 * letters, digits, `_.-~` and `/` stay; everything else, `!'()*` included, is percent-encoded (UTF-8).
 */
export function pythonQuote (name: string): string {
  return encodeURIComponent(name)
    .replace(/[!'()*]/g, c => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%2F/g, '/')
}

/** The upload header: the dispatcher's `filename=<quote(name)>`, plus RFC 5987 `filename*` so the backend stores the real name. */
export function contentDisposition (fileName: string): string {
  const quoted = pythonQuote(fileName)
  return `attachment; filename=${quoted}; filename*=utf-8''${quoted}`
}
