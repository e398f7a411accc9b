/**
 * The evolution table: each case is a history of schemas (oldest first) and a new schema, with the
 * verdict expected at every compatibility level. Non-transitive levels compare with the latest
 * version only; *_TRANSITIVE levels with every earlier version. Verdicts follow Avro's schema
 * resolution rules (reader = new schema for BACKWARD, old schema for FORWARD).
 *
 * Each case is checked twice: with the checker directly, and end to end through the registry
 * (register the history under NONE, set the level, register the new schema: 200 or 409 with a
 * message naming the field).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { checkLevel } from '../../src/schema/compatibility.ts'
import { parseSchema } from '../../src/schema/parse.ts'
import { createLogSchemaRegistry } from '../../src/schema/registry.ts'
import { isVigilError } from '../../src/errors.ts'
import { allowedCompatibilityLevels, type CompatibilityLevel } from '../../src/schema/types.ts'
import { MemoryLog } from './helpers/memory-log.ts'

type Json = Record<string, unknown> | string | unknown[]

const record = (fields: Json[], extra: Record<string, unknown> = {}, name = 'Event'): Json =>
  ({ type: 'record', name, namespace: 'io.vigil.test', fields, ...extra })
const f = (name: string, type: Json, extra: Record<string, unknown> = {}): Json => ({ name, type, ...extra })
const enumOf = (symbols: string[], extra: Record<string, unknown> = {}): Json => ({ type: 'enum', name: 'Status', symbols, ...extra })
const nested = (fields: Json[], extra: Record<string, unknown> = {}): Json => ({ type: 'record', name: 'Address', fields, ...extra })

/** B = BACKWARD, F = FORWARD; FULL = both. Transitive verdicts default to the non-transitive ones. */
interface Case {
  name: string
  history: Json[]
  next: Json
  B: boolean
  F: boolean
  BT?: boolean
  FT?: boolean
  /** A field the failure message must name (any of them, when several). */
  field?: string | string[]
}

const id = f('id', 'string')

const cases: Case[] = [
  // ---- fields added and removed ----
  { name: 'field added with a default', history: [record([id])], next: record([id, f('note', 'string', { default: '' })]), B: true, F: true },
  { name: 'field added without a default', history: [record([id])], next: record([id, f('note', 'string')]), B: false, F: true, field: 'note' },
  { name: 'optional (nullable, default null) field added', history: [record([id])], next: record([id, f('note', ['null', 'string'], { default: null })]), B: true, F: true },
  { name: 'field with a default removed', history: [record([id, f('note', 'string', { default: '' })])], next: record([id]), B: true, F: true },
  { name: 'field without a default removed', history: [record([id, f('note', 'string')])], next: record([id]), B: true, F: false, field: 'note' },
  { name: 'default added to an existing field', history: [record([id, f('note', 'string')])], next: record([id, f('note', 'string', { default: '' })]), B: true, F: true },
  // ---- renames ----
  { name: 'field renamed with an alias', history: [record([id, f('mail', 'string')])], next: record([id, f('email', 'string', { aliases: ['mail'] })]), B: true, F: false, field: 'mail' },
  { name: 'field renamed with an alias, both with defaults', history: [record([id, f('mail', 'string', { default: '' })])], next: record([id, f('email', 'string', { aliases: ['mail'], default: '' })]), B: true, F: true },
  { name: 'field renamed without an alias', history: [record([id, f('mail', 'string')])], next: record([id, f('email', 'string')]), B: false, F: false, field: ['email', 'mail'] },
  { name: 'record renamed with an alias', history: [record([id], {}, 'Event')], next: record([id], { aliases: ['io.vigil.test.Event'] }, 'Happening'), B: true, F: false },
  { name: 'record renamed without an alias', history: [record([id], {}, 'Event')], next: record([id], {}, 'Happening'), B: false, F: false },
  // ---- promotions ----
  { name: 'int promoted to long', history: [record([f('n', 'int')])], next: record([f('n', 'long')]), B: true, F: false, field: 'n' },
  { name: 'long promoted to float', history: [record([f('n', 'long')])], next: record([f('n', 'float')]), B: true, F: false, field: 'n' },
  { name: 'float promoted to double', history: [record([f('n', 'float')])], next: record([f('n', 'double')]), B: true, F: false, field: 'n' },
  { name: 'int promoted to double', history: [record([f('n', 'int')])], next: record([f('n', 'double')]), B: true, F: false, field: 'n' },
  { name: 'long narrowed to int', history: [record([f('n', 'long')])], next: record([f('n', 'int')]), B: false, F: true, field: 'n' },
  { name: 'double narrowed to float', history: [record([f('n', 'double')])], next: record([f('n', 'float')]), B: false, F: true, field: 'n' },
  { name: 'string to bytes', history: [record([f('blob', 'string')])], next: record([f('blob', 'bytes')]), B: true, F: true },
  { name: 'bytes to string', history: [record([f('blob', 'bytes')])], next: record([f('blob', 'string')]), B: true, F: true },
  { name: 'int to string (no promotion)', history: [record([f('n', 'int')])], next: record([f('n', 'string')]), B: false, F: false, field: 'n' },
  { name: 'logical type added on the same long', history: [record([f('at', 'long')])], next: record([f('at', { type: 'long', logicalType: 'timestamp-millis' })]), B: true, F: true },
  // ---- enums ----
  { name: 'enum symbol added, no default', history: [record([f('s', enumOf(['A', 'B']))])], next: record([f('s', enumOf(['A', 'B', 'C']))]), B: true, F: false, field: 's' },
  { name: 'enum symbol added, enums with a default', history: [record([f('s', enumOf(['A', 'B', 'UNKNOWN'], { default: 'UNKNOWN' }))])], next: record([f('s', enumOf(['A', 'B', 'C', 'UNKNOWN'], { default: 'UNKNOWN' }))]), B: true, F: true },
  { name: 'enum symbol removed, no default', history: [record([f('s', enumOf(['A', 'B', 'C']))])], next: record([f('s', enumOf(['A', 'B']))]), B: false, F: true, field: 's' },
  { name: 'enum symbol removed, new enum with a default', history: [record([f('s', enumOf(['A', 'B', 'C']))])], next: record([f('s', enumOf(['A', 'B'], { default: 'A' }))]), B: true, F: true },
  { name: 'enum renamed without an alias', history: [record([f('s', enumOf(['A']))])], next: record([f('s', { type: 'enum', name: 'State', symbols: ['A'] })]), B: false, F: false, field: 's' },
  // ---- unions ----
  { name: 'union branch added', history: [record([f('v', ['null', 'string'], { default: null })])], next: record([f('v', ['null', 'string', 'int'], { default: null })]), B: true, F: false, field: 'v' },
  { name: 'union branch removed', history: [record([f('v', ['null', 'string', 'int'], { default: null })])], next: record([f('v', ['null', 'string'], { default: null })]), B: false, F: true, field: 'v' },
  { name: 'field made nullable (type → union)', history: [record([f('v', 'string')])], next: record([f('v', ['null', 'string'], { default: null })]), B: true, F: false, field: 'v' },
  { name: 'nullable field made required (union → type)', history: [record([f('v', ['null', 'string'], { default: null })])], next: record([f('v', 'string')]), B: false, F: true, field: 'v' },
  { name: 'union branch promoted (int → long inside the union)', history: [record([f('v', ['null', 'int'], { default: null })])], next: record([f('v', ['null', 'long'], { default: null })]), B: true, F: false, field: 'v' },
  // ---- nested records ----
  { name: 'nested record: field added with a default', history: [record([f('addr', nested([f('city', 'string')]))])], next: record([f('addr', nested([f('city', 'string'), f('zip', 'string', { default: '' })]))]), B: true, F: true },
  { name: 'nested record: field added without a default', history: [record([f('addr', nested([f('city', 'string')]))])], next: record([f('addr', nested([f('city', 'string'), f('zip', 'string')]))]), B: false, F: true, field: 'addr.zip' },
  { name: 'nested record: field retyped int → string', history: [record([f('addr', nested([f('number', 'int')]))])], next: record([f('addr', nested([f('number', 'string')]))]), B: false, F: false, field: 'addr.number' },
  { name: 'nested record: field removed without a default', history: [record([f('addr', nested([f('city', 'string'), f('zip', 'string')]))])], next: record([f('addr', nested([f('city', 'string')]))]), B: true, F: false, field: 'addr.zip' },
  { name: 'nested record renamed with an alias', history: [record([f('addr', nested([f('city', 'string')]))])], next: record([f('addr', { type: 'record', name: 'Location', aliases: ['io.vigil.test.Address'], fields: [f('city', 'string')] })]), B: true, F: false, field: 'addr' },
  // ---- arrays and maps ----
  { name: 'array items promoted int → long', history: [record([f('xs', { type: 'array', items: 'int' })])], next: record([f('xs', { type: 'array', items: 'long' })]), B: true, F: false, field: 'xs[]' },
  { name: 'array items retyped string → int', history: [record([f('xs', { type: 'array', items: 'string' })])], next: record([f('xs', { type: 'array', items: 'int' })]), B: false, F: false, field: 'xs[]' },
  { name: 'array of records: item field added without a default', history: [record([f('xs', { type: 'array', items: nested([f('city', 'string')]) })])], next: record([f('xs', { type: 'array', items: nested([f('city', 'string'), f('zip', 'string')]) })]), B: false, F: true, field: 'xs[].zip' },
  { name: 'map values promoted int → long', history: [record([f('m', { type: 'map', values: 'int' })])], next: record([f('m', { type: 'map', values: 'long' })]), B: true, F: false, field: 'm{}' },
  { name: 'map values retyped string → int', history: [record([f('m', { type: 'map', values: 'string' })])], next: record([f('m', { type: 'map', values: 'int' })]), B: false, F: false, field: 'm{}' },
  { name: 'array changed to map', history: [record([f('c', { type: 'array', items: 'string' })])], next: record([f('c', { type: 'map', values: 'string' })]), B: false, F: false, field: 'c' },
  { name: 'fixed size changed', history: [record([f('h', { type: 'fixed', name: 'Hash', size: 16 })])], next: record([f('h', { type: 'fixed', name: 'Hash', size: 32 })]), B: false, F: false, field: 'h' },
  { name: 'recursive record gains a field with a default', history: [record([f('next', ['null', 'Event'], { default: null })])], next: record([f('next', ['null', 'Event'], { default: null }), f('label', 'string', { default: '' })]), B: true, F: true },
  // ---- transitive levels: the latest passes, an earlier version does not ----
  {
    name: 'transitive backward: field without a default exists only in the latest',
    history: [record([id]), record([id, f('note', 'string', { default: '' })])],
    next: record([id, f('note', 'string')]),
    B: true,
    F: true,
    BT: false,
    FT: true,
    field: 'note'
  },
  {
    name: 'transitive forward: removed field had a default only in the latest',
    history: [record([id, f('note', 'string')]), record([id, f('note', 'string', { default: '' })])],
    next: record([id]),
    B: true,
    F: true,
    BT: true,
    FT: false,
    field: 'note'
  },
  {
    name: 'transitive backward: enum symbol dropped that an early version wrote',
    history: [record([f('s', enumOf(['A', 'B', 'C']))]), record([f('s', enumOf(['A', 'B']))], { doc: 'v2 under NONE' })],
    next: record([f('s', enumOf(['A', 'B']))], { doc: 'v3' }),
    B: true,
    F: true,
    BT: false,
    FT: true,
    field: 's'
  },
  {
    name: 'transitive: promotion chain int → long → float',
    history: [record([f('n', 'int')]), record([f('n', 'long')])],
    next: record([f('n', 'float')]),
    B: true,
    F: false,
    BT: true,
    FT: false,
    field: 'n'
  }
]

function expected (c: Case, level: CompatibilityLevel): boolean {
  const BT = c.BT ?? c.B
  const FT = c.FT ?? c.F
  switch (level) {
    case 'NONE': return true
    case 'BACKWARD': return c.B
    case 'FORWARD': return c.F
    case 'FULL': return c.B && c.F
    case 'BACKWARD_TRANSITIVE': return BT
    case 'FORWARD_TRANSITIVE': return FT
    case 'FULL_TRANSITIVE': return BT && FT
  }
}

const parse = (schema: Json) => parseSchema({ schema: JSON.stringify(schema) })

test(`evolution table: ${cases.length} cases × ${allowedCompatibilityLevels.length} levels (checker)`, async (t) => {
  assert.ok(cases.length >= 30)
  for (const c of cases) {
    await t.test(c.name, () => {
      const history = c.history.map((schema, i) => ({ version: i + 1, schema: parse(schema) }))
      const next = parse(c.next)
      for (const level of allowedCompatibilityLevels) {
        const result = checkLevel(level, next, history)
        assert.equal(result.compatible, expected(c, level), `${level}: expected ${expected(c, level) ? 'compatible' : 'incompatible'}; messages: ${result.messages.join(' | ')}`)
        if (!result.compatible && c.field !== undefined) {
          const names = [c.field].flat()
          assert.ok(result.problems.some(p => names.some(name => p.field === name || p.message.includes(`'${name}'`))),
            `${level}: a problem should name field ${names.join(' or ')}: ${result.messages.join(' | ')}`)
        }
      }
    })
  }
})

test('evolution table through the registry: 200 when compatible, 409 naming the field when not', async () => {
  const log = new MemoryLog()
  const registry = await createLogSchemaRegistry({ log: log.asLog(), maxStalenessMs: 0 })
  let n = 0
  for (const c of cases) {
    for (const level of allowedCompatibilityLevels) {
      const subject = `case-${n++}`
      await registry.setConfig(subject, 'NONE')
      for (const schema of c.history) await registry.register(subject, { schema: JSON.stringify(schema) })
      await registry.setConfig(subject, level)
      const want = expected(c, level)
      try {
        await registry.register(subject, { schema: JSON.stringify(c.next) })
        assert.ok(want, `${c.name} at ${level}: registered, but should have been refused`)
      } catch (error) {
        assert.ok(isVigilError(error, 'VGL_SCHEMA_INCOMPATIBLE'), `${c.name} at ${level}: ${String(error)}`)
        assert.ok(!want, `${c.name} at ${level}: refused, but should be compatible: ${error.message}`)
        assert.match(error.message, /incompatible with an earlier schema/)
        if (c.field !== undefined) {
          const names = [c.field].flat()
          assert.ok(names.some(name => error.message.includes(name)), `${c.name} at ${level}: the message should name ${names.join(' or ')}: ${error.message}`)
        }
      }
    }
  }
  await registry.close()
})
