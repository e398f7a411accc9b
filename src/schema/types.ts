/**
 * Shared vocabulary of the schema area: schema types, compatibility levels, modes, and the
 * `SchemaRegistryApi` contract that Vigil's own registry and the client for external registries
 * both implement (so the serde, the CLI and produce-side validation do not care which one runs).
 */

export const allowedSchemaTypes = ['AVRO', 'JSON'] as const
export type SchemaType = typeof allowedSchemaTypes[number]

export const allowedCompatibilityLevels = [
  'BACKWARD', 'BACKWARD_TRANSITIVE', 'FORWARD', 'FORWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE', 'NONE'
] as const
export type CompatibilityLevel = typeof allowedCompatibilityLevels[number]

export const allowedRegistryModes = ['READWRITE', 'READONLY', 'READONLY_OVERRIDE', 'IMPORT'] as const
export type RegistryMode = typeof allowedRegistryModes[number]

export function isCompatibilityLevel (value: unknown): value is CompatibilityLevel {
  return typeof value === 'string' && (allowedCompatibilityLevels as readonly string[]).includes(value)
}

export function isRegistryMode (value: unknown): value is RegistryMode {
  return typeof value === 'string' && (allowedRegistryModes as readonly string[]).includes(value)
}

/** A schema reference (Confluent). Vigil's registry refuses them; they pass through to external registries. */
export interface SchemaReference {
  name: string
  subject: string
  version: number
}

/** What a client sends to register, look up or check a schema. */
export interface SchemaInput {
  schema: string
  /** Default AVRO. */
  schemaType?: SchemaType
  references?: SchemaReference[]
}

/** A schema under a subject, as GET /subjects/{s}/versions/{v} returns it. */
export interface SubjectVersion {
  subject: string
  version: number
  id: number
  schema: string
  schemaType: SchemaType
}

export interface SchemaById {
  schema: string
  schemaType: SchemaType
}

export interface CompatibilityResult {
  isCompatible: boolean
  /** One line per problem, naming the field (only when asked for verbose results). */
  messages: string[]
}

/** Version selector: a number, or 'latest'. */
export type VersionSelector = number | 'latest'

export interface DeletedOption {
  /** Include soft-deleted subjects / versions. */
  deleted?: boolean
}

/**
 * The registry operations, with Confluent semantics. Implementations throw VigilError with the
 * VGL_SCHEMA_* code that matches the Confluent error (see error-codes.ts).
 */
export interface SchemaRegistryApi {
  listSubjects (options?: DeletedOption & { prefix?: string }): Promise<string[]>
  /** The version of `subject` that holds exactly this schema (40401 / 40403 when none). */
  lookup (subject: string, input: SchemaInput, options?: DeletedOption): Promise<SubjectVersion>
  /** Registers (idempotently) and returns the schema id. */
  register (subject: string, input: SchemaInput & { id?: number, version?: number }, options?: { normalize?: boolean }): Promise<{ id: number }>
  listVersions (subject: string, options?: DeletedOption): Promise<number[]>
  getVersion (subject: string, version: VersionSelector, options?: DeletedOption): Promise<SubjectVersion>
  getSchemaById (id: number): Promise<SchemaById>
  getVersionsById (id: number, options?: DeletedOption): Promise<Array<{ subject: string, version: number }>>
  deleteSubject (subject: string, options?: { permanent?: boolean }): Promise<number[]>
  deleteVersion (subject: string, version: VersionSelector, options?: { permanent?: boolean }): Promise<number>
  /** `subject` null = global. With defaultToGlobal, falls back to the global level. */
  getConfig (subject: string | null, options?: { defaultToGlobal?: boolean }): Promise<CompatibilityLevel>
  setConfig (subject: string | null, level: CompatibilityLevel): Promise<CompatibilityLevel>
  /** Removes the subject's (or resets the global) level; returns the level that was set. */
  deleteConfig (subject: string | null): Promise<CompatibilityLevel>
  /** Checks against one version, or with 'all' against the versions the level names (latest only unless transitive). */
  checkCompatibility (subject: string, version: VersionSelector | 'all', input: SchemaInput): Promise<CompatibilityResult>
  getMode (subject: string | null, options?: { defaultToGlobal?: boolean }): Promise<RegistryMode>
  setMode (subject: string | null, mode: RegistryMode, options?: { force?: boolean }): Promise<RegistryMode>
  deleteMode (subject: string): Promise<RegistryMode>
  schemaTypes (): Promise<SchemaType[]>
  close (): Promise<void>
}
