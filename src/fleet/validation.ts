/**
 * The fleet routes' validators: strict for bodies (no type coercion, so `"cloudflare_ok": "yes"`
 * or `"true"` is refused naming the field, never silently turned into a boolean), coercing for
 * query strings (which are all text). Compiled once per route by Fastify.
 */
import { Ajv, type ErrorObject } from 'ajv'
import addFormatsModule from 'ajv-formats'
import type { FastifySchemaCompiler } from 'fastify'

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv

const strict = addFormats(new Ajv({ allErrors: false, coerceTypes: false, removeAdditional: false, useDefaults: true, strict: false }))
const coercing = addFormats(new Ajv({ allErrors: false, coerceTypes: true, removeAdditional: false, useDefaults: true, strict: false }))

export const fleetValidatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? strict : coercing).compile(schema as object) as never

/** The field an Ajv error is about, as a dotted path (`summary.critical`, `load_avg.1`). */
export function fieldOf (error: ErrorObject): string {
  const path = error.instancePath.split('/').filter(s => s !== '').join('.')
  const params = error.params as { missingProperty?: string, additionalProperty?: string }
  const named = params.missingProperty ?? params.additionalProperty
  if (named !== undefined) return path === '' ? named : `${path}.${named}`
  return path
}
