/**
 * Reads a desired-state file (YAML or JSON; JSON is YAML), validates it against
 * DesiredStateSchema, checks the rules a schema cannot say (names unique, every topic a service
 * names is declared, schema files readable), and resolves it into a DesiredState. Every problem
 * names its line and key, all of them in one VGL_OPS_FILE_INVALID.
 */
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { Ajv, type ErrorObject } from 'ajv'
import { LineCounter, parseDocument, isNode, type Document } from 'yaml'
import { VigilError } from '../errors.ts'
import { aclsOf, dedupeAcls, principalOf } from './acls.ts'
import {
  DesiredStateSchema, type DesiredAcl, type DesiredState, type DesiredStateFile, type DesiredSubject,
  type DesiredTopic, type DesiredUser, type TopicEntry
} from './desired-state.ts'

const ajv = new Ajv({ strict: true, allErrors: true, strictTypes: false })
const validate = ajv.compile<DesiredStateFile>(DesiredStateSchema)

export interface Problem { line: number | undefined, key: string, message: string }

export function loadDesiredState (file: string): DesiredState {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (cause) {
    throw new VigilError('VGL_OPS_FILE_INVALID', `desired-state file ${file} cannot be read: ${(cause as Error).message}`, { file, cause })
  }
  return parseDesiredState(text, file)
}

/** Parses the text of a desired-state file; `file` names it in errors and anchors relative schema paths. */
export function parseDesiredState (text: string, file: string): DesiredState {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
  const lineOf = (pointer: string) => lineOfPointer(doc, lineCounter, pointer)
  const problems: Problem[] = doc.errors.map(e => ({ line: lineCounter.linePos(e.pos[0]).line, key: '', message: e.message.split('\n')[0] ?? e.message }))
  if (problems.length > 0) throw invalid(file, problems)
  const data: unknown = doc.toJS()
  if (!validate(data)) throw invalid(file, schemaProblems(validate.errors ?? [], lineOf))
  const state = resolveState(data, file, lineOf, problems)
  if (problems.length > 0) throw invalid(file, problems)
  return state
}

function invalid (file: string, problems: Problem[]): VigilError {
  const lines = problems.map(p => `${file}${p.line === undefined ? '' : `:${p.line}`}: ${p.key === '' ? '' : `${p.key}: `}${p.message}`)
  return new VigilError('VGL_OPS_FILE_INVALID', `desired-state file ${file} is invalid:\n  ${lines.join('\n  ')}`, { file, problems })
}

/** `/topics/3/partitions` → the line of that node (or of its key); undefined when the path is not in the file. */
function lineOfPointer (doc: Document, counter: LineCounter, pointer: string): number | undefined {
  const path = pointer.split('/').slice(1).map(p => p.replace(/~1/g, '/').replace(/~0/g, '~')).map(p => /^\d+$/.test(p) ? Number(p) : p)
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true)
    if (isNode(node) && node.range !== undefined && node.range !== null) return counter.linePos(node.range[0]).line
  }
  return undefined
}

/** Readable key: `topics[3].partitions` (with the topic's name when known: `topics[3] (agent-events).partitions`). */
function keyOf (pointer: string): string {
  return pointer.split('/').slice(1).reduce((out, part) => /^\d+$/.test(part) ? `${out}[${part}]` : out === '' ? part : `${out}.${part}`, '')
}

function schemaProblems (errors: ErrorObject[], lineOf: (pointer: string) => number | undefined): Problem[] {
  // One problem per place: Ajv reports every branch of a union; the first message per path is
  // enough to fix it, and an unknown key is named by itself.
  const byPath = new Map<string, Problem>()
  for (const e of errors) {
    const pointer = e.keyword === 'additionalProperties' ? `${e.instancePath}/${String(e.params.additionalProperty)}` : e.instancePath
    if (byPath.has(pointer)) continue
    let message = e.message ?? 'is invalid'
    if (e.keyword === 'additionalProperties') message = 'unknown key'
    else if (e.keyword === 'required') message = `missing key ${String(e.params.missingProperty)}`
    else if (e.keyword === 'enum' || e.keyword === 'const') message = `must be ${JSON.stringify(e.params.allowedValues ?? e.params.allowedValue)}`
    byPath.set(pointer, { line: lineOf(pointer), key: keyOf(pointer), message })
  }
  // A union's "must match a schema in anyOf" adds nothing when a branch's error names the place.
  const out = [...byPath.entries()].filter(([pointer, p]) => !(p.message.includes('anyOf') && [...byPath.keys()].some(k => k !== pointer && k.startsWith(pointer))))
  return out.map(([, p]) => p)
}

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, y: 365 * 86_400_000 }
const sizeUnits: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }

export function durationMs (value: number | string): number {
  if (typeof value === 'number') return value
  if (value === 'forever' || value === '-1') return -1
  const match = /^(\d+)(ms|s|m|h|d|y)$/.exec(value)
  return Number(match?.[1]) * (durationUnits[match?.[2] ?? 'ms'] ?? 1)
}

export function sizeBytes (value: number | string): number {
  if (typeof value === 'number') return value
  const match = /^(\d+)(B|KB|MB|GB)$/.exec(value)
  return Number(match?.[1]) * (sizeUnits[match?.[2] ?? 'B'] ?? 1)
}

function resolveState (data: DesiredStateFile, file: string, lineOf: (pointer: string) => number | undefined, problems: Problem[]): DesiredState {
  const problem = (pointer: string, message: string) => problems.push({ line: lineOf(pointer), key: keyOf(pointer), message })
  const defaults = data.defaults ?? {}
  const topics: DesiredTopic[] = []
  const subjects: DesiredSubject[] = []
  const names = new Map<string, string>()
  const declare = (name: string, pointer: string) => {
    const earlier = names.get(name)
    if (earlier !== undefined) problem(pointer, `topic ${name} is declared twice (also at line ${lineOf(earlier) ?? '?'})`)
    names.set(name, pointer)
  }
  data.topics.forEach((entry, i) => {
    const pointer = `/topics/${i}`
    declare(entry.name, `${pointer}/name`)
    const topic = resolveTopic(entry, defaults, pointer)
    topics.push(topic)
    if (entry.deadLetter !== undefined && entry.deadLetter !== false) {
      const settings = entry.deadLetter === true ? {} : entry.deadLetter
      const dlqName = settings.name ?? `${entry.name}-dlq`
      declare(dlqName, `${pointer}/deadLetter`)
      // A dead-letter topic keeps what failed long enough to redrive it, and accepts what its
      // topic accepts plus the envelope's headers.
      const dlq = resolveTopic({
        name: dlqName,
        partitions: settings.partitions ?? entry.partitions,
        ...(entry.replicationFactor === undefined ? {} : { replicationFactor: entry.replicationFactor }),
        ...(entry.minInsyncReplicas === undefined ? {} : { minInsyncReplicas: entry.minInsyncReplicas }),
        ...(entry.compression === undefined ? {} : { compression: entry.compression }),
        retention: settings.retention ?? entry.retention ?? '30d',
        cleanupPolicy: 'delete',
        ...(settings.maxMessageSize ?? entry.maxMessageSize) === undefined ? {} : { maxMessageSize: settings.maxMessageSize ?? entry.maxMessageSize }
      }, defaults, `${pointer}/deadLetter`)
      dlq.deadLetterOf = entry.name
      topics.push(dlq)
    }
    if (entry.subject !== undefined) {
      const schemas: DesiredSubject['schemas'] = []
      entry.subject.schemas.forEach((schemaFile, j) => {
        const path = resolve(dirname(file), schemaFile)
        try {
          schemas.push({ file: schemaFile, text: readFileSync(path, 'utf8') })
        } catch (cause) {
          problem(`${pointer}/subject/schemas/${j}`, `schema file ${schemaFile} cannot be read (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message})`)
        }
      })
      subjects.push({
        subject: entry.subject.name ?? `${entry.name}-value`,
        topic: entry.name,
        compatibility: entry.subject.compatibility,
        schemaType: entry.subject.schemaType ?? 'AVRO',
        schemas,
        pointer: `${pointer}/subject`
      })
    }
    if ((topic.replicationFactor ?? Infinity) < (Number(topic.configs['min.insync.replicas'] ?? 1))) {
      problem(`${pointer}/minInsyncReplicas`, `min.insync.replicas ${topic.configs['min.insync.replicas']} is more than the replication factor ${topic.replicationFactor}: no acks=all write could succeed`)
    }
  })

  const acls: DesiredAcl[] = []
  const users: DesiredUser[] = []
  const principals = new Set<string>()
  const serviceNames = new Set<string>()
  for (const [i, service] of (data.services ?? []).entries()) {
    const pointer = `/services/${i}`
    if (serviceNames.has(service.name)) problem(`${pointer}/name`, `service ${service.name} is declared twice`)
    serviceNames.add(service.name)
    const known = (topic: string, at: string) => { if (!names.has(topic)) problem(at, `topic ${topic} is not declared in topics`) }
    service.produces?.forEach((t, j) => known(t, `${pointer}/produces/${j}`))
    service.consumes?.forEach((c, j) => c.topics.forEach((t, k) => known(t, `${pointer}/consumes/${j}/topics/${k}`)))
    if (service.admin !== true && (service.produces ?? []).length === 0 && (service.consumes ?? []).length === 0) {
      problem(pointer, `service ${service.name} produces and consumes nothing and is no admin: it would get no ACL`)
    }
    principals.add(principalOf(service))
    acls.push(...aclsOf(service, topics))
    if (service.scram !== undefined) users.push({ user: service.user ?? service.name, mechanism: service.scram.mechanism, passwordEnv: service.scram.passwordEnv, pointer: `${pointer}/scram` })
  }
  return { file, topics, subjects, acls: dedupeAcls(acls), users, principals: [...principals], lineOf }
}

function resolveTopic (entry: TopicEntry, defaults: NonNullable<DesiredStateFile['defaults']>, pointer: string): DesiredTopic {
  const retentionMs = durationMs(entry.retention ?? defaults.retention ?? '7d')
  const cleanupPolicy = entry.cleanupPolicy ?? 'delete'
  const maxMessageBytes = entry.maxMessageSize === undefined ? undefined : sizeBytes(entry.maxMessageSize)
  const configs: Record<string, string> = { 'cleanup.policy': cleanupPolicy }
  // A compacted topic keeps the latest value per key for ever: retention does not apply to it.
  configs['retention.ms'] = String(cleanupPolicy === 'compact' ? -1 : retentionMs)
  if (maxMessageBytes !== undefined) configs['max.message.bytes'] = String(maxMessageBytes)
  const compression = entry.compression ?? defaults.compression
  if (compression !== undefined) configs['compression.type'] = compression
  const minIsr = entry.minInsyncReplicas ?? defaults.minInsyncReplicas
  if (minIsr !== undefined) configs['min.insync.replicas'] = String(minIsr)
  if (entry.segment !== undefined) configs['segment.ms'] = String(durationMs(entry.segment))
  if (entry.minCleanableDirtyRatio !== undefined) configs['min.cleanable.dirty.ratio'] = String(entry.minCleanableDirtyRatio)
  return {
    name: entry.name,
    partitions: entry.partitions,
    replicationFactor: entry.replicationFactor ?? defaults.replicationFactor,
    configs,
    retentionMs: cleanupPolicy === 'compact' ? -1 : retentionMs,
    cleanupPolicy,
    maxMessageBytes,
    pointer
  }
}
