/**
 * The catalog of every error code, gathered from one table per area so that each area owns its
 * codes. Codes follow VGL_<AREA>_<CONDITION> and are never reused once released.
 */
import { configErrors } from './config/error-codes.ts'
import { logErrors } from './log/error-codes.ts'
import { cliErrors } from './cli/error-codes.ts'
import { httpErrors } from './http/error-codes.ts'
import { schemaErrors } from './schema/error-codes.ts'
import { auditErrors } from './audit/error-codes.ts'
import { pipelineErrors } from './pipeline/error-codes.ts'
import { dispatcherErrors } from './dispatcher/error-codes.ts'
import { accessErrors } from './access/error-codes.ts'
import { fleetErrors } from './fleet/error-codes.ts'
import { opsErrors } from './ops/error-codes.ts'
import { consoleErrors } from './console/error-codes.ts'

export interface ErrorSpec {
  /** One line: when this error happens. */
  readonly summary: string
  /** What the user should do about it. */
  readonly hint: string
  /** HTTP status when it reaches an HTTP client (default 500). */
  readonly status?: number
  /** Whether retrying the same operation later may succeed. */
  readonly retryable?: boolean
}

export const errorCatalog = {
  ...configErrors,
  ...logErrors,
  ...cliErrors,
  ...httpErrors,
  ...schemaErrors,
  ...pipelineErrors,
  ...dispatcherErrors,
  ...auditErrors,
  ...accessErrors,
  ...fleetErrors,
  ...opsErrors,
  ...consoleErrors
} as const satisfies Record<string, ErrorSpec>

export type ErrorCode = keyof typeof errorCatalog
