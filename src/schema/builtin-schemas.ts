/**
 * Vigil's own schemas: the `schemas/` folder at the project root, one readable `.avsc` file per
 * record (event envelope, CISO Assistant events, DORA AgentEvent, audit record, fleet records).
 * At start they are registered under their full record name (RecordNameStrategy), so producers
 * and consumers of any topic can use them; registering an unchanged file again is a no-op.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { VigilError, isVigilError } from '../errors.ts'
import { parseSchema } from './parse.ts'
import type { SchemaRegistryApi } from './types.ts'

export const builtinSchemasDir = fileURLToPath(new URL('../../schemas/', import.meta.url))

export interface SchemaFile {
  /** Path relative to the folder, e.g. `fleet/heartbeat.avsc`. */
  file: string
  /** Full record name, used as the subject. */
  subject: string
  schema: string
}

/** Reads every `.avsc` file under `dir` (sorted by path); throws VGL_SCHEMA_INVALID naming the file. */
export function loadSchemaFolder (dir: string = builtinSchemasDir): SchemaFile[] {
  const files: string[] = []
  const walk = (at: string): void => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.isFile() && entry.name.endsWith('.avsc')) files.push(path)
    }
  }
  walk(dir)
  return files.sort().map(path => {
    const file = relative(dir, path)
    const schema = readFileSync(path, 'utf8')
    let name: string | undefined
    try {
      name = parseSchema({ schema }).name
    } catch (error) {
      throw new VigilError('VGL_SCHEMA_INVALID', `${file}: ${isVigilError(error) ? error.message : String(error)}`, { file, cause: error })
    }
    if (name === undefined) throw new VigilError('VGL_SCHEMA_INVALID', `${file}: the top-level schema must be a named record`, { file })
    return { file, subject: name, schema }
  })
}

export type RegisteredFile =
  | { file: string, subject: string, id: number }
  | { file: string, subject: string, error: VigilError }

/** Registers each file under its record name; a failure (incompatible, read-only …) is reported, not thrown. */
export async function registerSchemaFolder (registry: Pick<SchemaRegistryApi, 'register'>, dir: string = builtinSchemasDir): Promise<RegisteredFile[]> {
  const out: RegisteredFile[] = []
  for (const { file, subject, schema } of loadSchemaFolder(dir)) {
    try {
      const { id } = await registry.register(subject, { schema })
      out.push({ file, subject, id })
    } catch (error) {
      if (!isVigilError(error)) throw error
      out.push({ file, subject, error })
    }
  }
  return out
}
