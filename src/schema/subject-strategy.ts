/**
 * Subject name strategies, as Confluent's serializers name them:
 * - TopicNameStrategy (default): `<topic>-value` (or `-key`): one schema lineage per topic.
 * - RecordNameStrategy: the record's full name: one lineage per record type, across topics.
 * - TopicRecordNameStrategy: `<topic>-<full record name>`: per record type, per topic.
 */
import { VigilError } from '../errors.ts'

export const allowedSubjectNameStrategies = ['TopicNameStrategy', 'RecordNameStrategy', 'TopicRecordNameStrategy'] as const
export type SubjectNameStrategy = typeof allowedSubjectNameStrategies[number]

export interface SubjectNameInput {
  topic: string
  /** Full name of the record (namespace.name); needed by the record strategies. */
  recordName?: string | undefined
  /** Name the key's subject instead of the value's (TopicNameStrategy only). */
  isKey?: boolean
}

export function subjectName (strategy: SubjectNameStrategy, input: SubjectNameInput): string {
  switch (strategy) {
    case 'TopicNameStrategy':
      return `${input.topic}-${input.isKey === true ? 'key' : 'value'}`
    case 'RecordNameStrategy':
      return requireRecordName(strategy, input)
    case 'TopicRecordNameStrategy':
      return `${input.topic}-${requireRecordName(strategy, input)}`
    default:
      throw new VigilError('VGL_SCHEMA_SUBJECT_INVALID', `Unknown subject name strategy ${JSON.stringify(strategy)}`, {
        hint: `Use one of ${allowedSubjectNameStrategies.join(', ')}.`
      })
  }
}

function requireRecordName (strategy: SubjectNameStrategy, input: SubjectNameInput): string {
  if (input.recordName === undefined || input.recordName === '') {
    throw new VigilError('VGL_SCHEMA_SUBJECT_INVALID', `${strategy} needs the record's full name (topic ${input.topic})`, {
      topic: input.topic,
      hint: 'Give the subject explicitly, or use a named Avro record (JSON Schema: a "title").'
    })
  }
  return input.recordName
}
