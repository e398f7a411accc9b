/**
 * What CISO Assistant's backend accepts, from ../shared/specs/ciso-assistant-dispatcher.md:
 * the filters of each list endpoint (django-filter ignores unknown names, which would widen a
 * selector's match, so the connector refuses them before any call), the writable fields of each
 * resource and their enums (backend/core/models.py).
 */
import { VigilError } from '../errors.ts'

export type Resource = 'applied-controls' | 'requirement-assessments' | 'evidences'

export const appliedControlStatuses = ['to_do', 'in_progress', 'on_hold', 'active', 'degraded', 'deprecated', '--'] as const
export const priorities = [1, 2, 3, 4] as const
export const efforts = ['XS', 'S', 'M', 'L', 'XL'] as const
export const controlImpacts = [1, 2, 3, 4, 5] as const
export const categories = ['policy', 'process', 'technical', 'physical', 'procedure'] as const
export const csfFunctions = ['govern', 'identify', 'protect', 'detect', 'respond', 'recover'] as const
export const requirementStatuses = ['to_do', 'in_progress', 'in_review', 'done'] as const
export const results = ['not_assessed', 'partially_compliant', 'non_compliant', 'compliant', 'not_applicable'] as const
export const extendedResults = ['major_nonconformity', 'minor_nonconformity', 'observation_sensitive_point', 'opportunity_for_improvement', 'good_practice'] as const
export const respondentAlignments = ['yes', 'no', 'in_progress', 'not_applicable'] as const
export const evidenceStatuses = ['draft', 'missing', 'in_review', 'approved', 'rejected', 'expired'] as const

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const datePattern = /^(\d{4})-(\d{2})-(\d{2})$/
const isoTimePattern = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/

type FilterCheck = (value: string) => string | undefined

const uuid: FilterCheck = v => uuidPattern.test(v) ? undefined : 'must be a UUID (the backend filters folders and related objects by id, not by name or path)'
const uuidList: FilterCheck = v => v.split(',').every(s => uuidPattern.test(s.trim())) ? undefined : 'must be comma-separated UUIDs'
const any: FilterCheck = () => undefined
const date: FilterCheck = v => isDate(v) ? undefined : 'must be a date YYYY-MM-DD'
const time: FilterCheck = v => isoTimePattern.test(v) ? undefined : 'must be an ISO-8601 date or time'
const int: FilterCheck = v => /^\d+$/.test(v) ? undefined : 'must be a whole number'
const boolean: FilterCheck = v => /^(true|false|1|0)$/i.test(v) ? undefined : 'must be True or False'
const oneOf = (allowed: readonly (string | number)[]): FilterCheck => v => allowed.some(a => String(a) === v) ? undefined : `must be one of ${allowed.join(', ')}`

/** AppliedControlFilterSet (backend/core/views.py). `cf.<key>` custom-field filters are also accepted. */
export const appliedControlFilters: Readonly<Record<string, FilterCheck>> = {
  ref_id: any,
  name: any,
  folder: uuid,
  status: oneOf(appliedControlStatuses),
  priority: oneOf(priorities),
  category: oneOf(categories),
  csf_function: oneOf(csfFunctions),
  effort: oneOf(efforts),
  control_impact: oneOf(controlImpacts),
  eta: date,
  eta__lte: date,
  eta__gte: date,
  eta__lt: date,
  eta__gt: date,
  eta__month: int,
  eta__year: int,
  evidences: uuid,
  owner: uuid,
  filtering_labels: uuid,
  compliance_assessments: uuid,
  id: uuidList,
  search: any
}

/** RequirementAssessmentViewSet.filterset_fields. */
export const requirementAssessmentFilters: Readonly<Record<string, FilterCheck>> = {
  folder: uuid,
  folder__name: any,
  evidences: uuid,
  compliance_assessment: uuid,
  applied_controls: uuid,
  security_exceptions: uuid,
  requirement__urn: any,
  result: oneOf(results),
  extended_result: oneOf(extendedResults),
  compliance_assessment__ref_id: any,
  compliance_assessment__perimeter: uuid,
  compliance_assessment__perimeter__name: any,
  compliance_assessment__assets__ref_id: any,
  requirement__assessable: boolean,
  created_at__gte: time,
  created_at__lt: time,
  updated_at__gte: time,
  updated_at__lt: time,
  search: any
}

/** Evidence filters. Evidences have no ref_id. */
export const evidenceFilters: Readonly<Record<string, FilterCheck>> = {
  folder: uuid,
  name: any,
  status: oneOf(evidenceStatuses),
  owner: uuid,
  applied_controls: uuid,
  requirement_assessments: uuid,
  expiry_date: date,
  filtering_labels: uuid
}

const filtersOf: Record<Resource, Readonly<Record<string, FilterCheck>>> = {
  'applied-controls': appliedControlFilters,
  'requirement-assessments': requirementAssessmentFilters,
  evidences: evidenceFilters
}

/** Filters people try that the backend does not have, with what to use instead. */
const knownMistakes: Record<Resource, Record<string, string>> = {
  'applied-controls': {},
  'requirement-assessments': {
    requirement__ref_id: 'requirement__ref_id was removed from CISO Assistant (PR #3523): use requirement__urn, e.g. urn:intuitem:risk:req_node:iso27001-2022:a.5.1'
  },
  evidences: { ref_id: 'evidences have no ref_id: select them by name (and folder)' }
}

export type Target = 'single' | 'multiple'

export interface Selector {
  /** Query parameters in order; a key may repeat (lists). */
  filters: Array<[string, string]>
  target: Target
}

/**
 * Builds a checked selector from a JSON object (the legacy format) or a string map (Avro):
 * every key except `target` is a filter. Values: strings as they are, numbers as text, booleans
 * as Python's True/False (what requests sends), lists as repeated parameters, null dropped.
 * Throws VGL_DISPATCHER_SELECTOR_INVALID naming the key.
 */
export function parseSelector (resource: Resource, raw: unknown, where: string, defaultTarget: Target = 'single'): Selector {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw selectorError(`${where} must be an object of filters, got ${describe(raw)}`, where)
  }
  const object = raw as Record<string, unknown>
  let target: Target = defaultTarget
  if ('target' in object && object.target !== undefined && object.target !== null) {
    if (object.target !== 'single' && object.target !== 'multiple') {
      throw selectorError(`${where}.target must be "single" or "multiple", got ${describe(object.target)}`, where)
    }
    target = object.target
  }
  const allowed = filtersOf[resource]
  const filters: Array<[string, string]> = []
  for (const [key, value] of Object.entries(object)) {
    if (key === 'target') continue
    const check = allowed[key] ?? (resource === 'applied-controls' && /^cf\.[A-Za-z0-9_-]+$/.test(key) ? any : undefined)
    if (check === undefined) {
      const mistake = knownMistakes[resource][key]
      throw selectorError(`${where}.${key} is not a filter of /${resource}/: ${mistake ?? `the backend ignores unknown filters, which would widen the match (known: ${Object.keys(allowed).join(', ')}${resource === 'applied-controls' ? ', cf.<key>' : ''})`}`, where, key)
    }
    const values = Array.isArray(value) ? value : [value]
    for (const item of values) {
      if (item === null || item === undefined) continue
      let text: string
      if (typeof item === 'string') text = item
      else if (typeof item === 'number' && Number.isFinite(item)) text = String(item)
      else if (typeof item === 'boolean') text = item ? 'True' : 'False'
      else throw selectorError(`${where}.${key} must be a string, number, boolean or a list of them, got ${describe(item)}`, where, key)
      const problem = check(text)
      if (problem !== undefined) throw selectorError(`${where}.${key} ${problem}, got ${JSON.stringify(text)}`, where, key)
      filters.push([key, text])
    }
  }
  if (filters.length === 0) throw selectorError(`${where} has no filter: it would match every object`, where)
  return { filters, target }
}

function selectorError (message: string, where: string, key?: string): VigilError {
  return new VigilError('VGL_DISPATCHER_SELECTOR_INVALID', message, { field: key === undefined ? where : `${where}.${key}` })
}

type ValueCheck = (value: unknown) => { ok: true, value: unknown } | { ok: false, problem: string }

const ok = (value: unknown) => ({ ok: true as const, value })
const bad = (problem: string) => ({ ok: false as const, problem })

function choice (allowed: readonly (string | number)[], nullable = false): ValueCheck {
  return (v) => {
    if (v === null && nullable) return ok(null)
    const hit = allowed.find(a => a === v || (typeof a === 'number' && typeof v === 'string' && /^\d+$/.test(v) && Number(v) === a))
    return hit === undefined ? bad(`must be one of ${allowed.map(a => JSON.stringify(a)).join(', ')}${nullable ? ' or null' : ''}`) : ok(hit)
  }
}

function text (nullable = false): ValueCheck {
  return v => typeof v === 'string' ? ok(v) : v === null && nullable ? ok(null) : bad('must be a string')
}

function dateValue (): ValueCheck {
  return v => v === null ? ok(null) : typeof v === 'string' && isDate(v) ? ok(v) : bad('must be a date YYYY-MM-DD or null')
}

function integer (min: number, max: number, nullable = false): ValueCheck {
  return (v) => {
    if (v === null && nullable) return ok(null)
    const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v
    return typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max ? ok(n) : bad(`must be a whole number from ${min} to ${max}${nullable ? ' or null' : ''}`)
  }
}

function bool (): ValueCheck {
  return v => typeof v === 'boolean' ? ok(v) : bad('must be true or false')
}

function url (): ValueCheck {
  return (v) => {
    if (v === '' || v === null) return ok(v ?? '')
    if (typeof v !== 'string') return bad('must be a URL')
    try {
      const parsed = new URL(v)
      return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? ok(v) : bad('must be an http(s) URL')
    } catch {
      return bad('must be a URL')
    }
  }
}

/** Writable fields of an applied control (the ones the dispatcher's messages set). */
export const appliedControlFields: Readonly<Record<string, ValueCheck>> = {
  status: choice(appliedControlStatuses),
  priority: choice(priorities, true),
  effort: choice(efforts, true),
  control_impact: choice(controlImpacts, true),
  category: choice(categories, true),
  csf_function: choice(csfFunctions, true),
  eta: dateValue(),
  start_date: dateValue(),
  expiry_date: dateValue(),
  progress_field: integer(0, 100),
  link: url(),
  observation: text(),
  name: text(),
  description: text(),
  ref_id: text()
}

/** Writable fields of a requirement assessment. */
export const requirementAssessmentFields: Readonly<Record<string, ValueCheck>> = {
  status: choice(requirementStatuses),
  result: choice(results),
  extended_result: choice(extendedResults, true),
  respondent_alignment: choice(respondentAlignments, true),
  observation: text(),
  score: integer(-1_000_000, 1_000_000, true),
  is_scored: bool(),
  documentation_score: integer(-1_000_000, 1_000_000, true)
}

/**
 * Checks update values against the resource's writable fields and enums, and normalises them
 * ("1" → 1 for integer choices). Throws VGL_DISPATCHER_VALUES_INVALID naming every bad field.
 */
export function parseValues (resource: 'applied-controls' | 'requirement-assessments', raw: unknown, where = 'values'): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new VigilError('VGL_DISPATCHER_VALUES_INVALID', `${where} must be an object of fields to update, got ${describe(raw)}`, { field: where })
  }
  const fields = resource === 'applied-controls' ? appliedControlFields : requirementAssessmentFields
  const out: Record<string, unknown> = {}
  const problems: string[] = []
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    const check = fields[key]
    if (check === undefined) {
      problems.push(`${where}.${key} is not a writable field of ${resource} (allowed: ${Object.keys(fields).join(', ')})`)
      continue
    }
    const result = check(value)
    if (result.ok) out[key] = result.value
    else problems.push(`${where}.${key} ${result.problem}, got ${describe(value)}`)
  }
  if (problems.length > 0) {
    throw new VigilError('VGL_DISPATCHER_VALUES_INVALID', problems.join('; '), { fields: problems.map(p => p.split(' ')[0]) })
  }
  if (Object.keys(out).length === 0) throw new VigilError('VGL_DISPATCHER_VALUES_INVALID', `${where} is empty: nothing to update`, { field: where })
  return out
}

export function isDate (value: string): boolean {
  const m = datePattern.exec(value)
  if (m === null) return false
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))
  return new Date(t).toISOString().slice(0, 10) === value
}

export function describe (value: unknown): string {
  if (value === undefined) return 'nothing'
  if (Array.isArray(value)) return 'a list'
  if (value === null) return 'null'
  if (Buffer.isBuffer(value)) return `${value.length} bytes`
  if (typeof value === 'object') return 'an object'
  const json = JSON.stringify(value)
  return json.length > 60 ? `${json.slice(0, 57)}...` : json
}
