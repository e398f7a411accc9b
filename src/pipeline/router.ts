/**
 * Routing: a record's decoded value (or a header) gives a route name, and the route name picks a
 * typed handler. A handler may validate the value into its own type first; a validation failure
 * is permanent (VGL_PIPELINE_VALIDATION_FAILED) and the record is dead-lettered.
 */
import type { LogRecord } from '../log/types.ts'
import type { Logger } from '../logger.ts'
import { VigilError, isVigilError } from '../errors.ts'
import { headerText } from './dead-letter.ts'

export interface HandlerContext {
  readonly pipeline: string
  readonly record: LogRecord
  /** The route the record took (e.g. its event_type). */
  readonly route: string
  /** 1 for the first attempt. */
  readonly attempt: number
  /** Aborted when the attempt times out, or the record's partition is revoked, or the pipeline stops past its deadline. */
  readonly signal: AbortSignal
  readonly logger: Logger
}

/** Returns nothing (or a promise of nothing) on success; throws to fail. Sync handlers avoid a promise per record. */
export type HandlerFunction<T> = (value: T, context: HandlerContext) => void | Promise<void>

export interface HandlerSpec<T = unknown> {
  /** Turns the decoded value into the handler's type; throw to refuse it (permanent). */
  validate?: (value: unknown, record: LogRecord) => T
  handle: HandlerFunction<T>
}

export type Handler<T = unknown> = HandlerFunction<T> | HandlerSpec<T>

/** A handler of any value type, for maps of handlers with different types. */
export type AnyHandler = Handler<any>

/** A typed handler: `defineHandler(parseMyEvent, async (event) => { … })`. */
export function defineHandler<T> (validate: (value: unknown, record: LogRecord) => T, handle: HandlerFunction<T>): HandlerSpec<T> {
  return { validate, handle }
}

/**
 * Where the route name comes from:
 * - `{ field: 'event_type' }` (the default): a dotted path into the decoded value;
 * - `{ header: 'type' }`: a record header;
 * - a function of the decoded value and the record.
 */
export type RouteSpec =
  | { field: string }
  | { header: string }
  | ((value: unknown, record: LogRecord) => string | undefined)

/** The route name used when the route field or header is missing. */
export const missingRoute = '(none)'
/** Handler key that takes every route without a handler of its own. */
export const fallbackRoute = '*'

export interface CompiledRouter {
  routeOf (value: unknown, record: LogRecord): string
  /** The handler spec for a route, or throws VGL_PIPELINE_NO_ROUTE. */
  handlerFor (route: string, record: LogRecord): { name: string, spec: HandlerSpec<unknown> }
  readonly routes: string[]
}

export function compileRouter (route: RouteSpec, handlers: Record<string, AnyHandler>): CompiledRouter {
  const specs = new Map<string, HandlerSpec<unknown>>()
  for (const [name, handler] of Object.entries(handlers)) {
    specs.set(name, (typeof handler === 'function' ? { handle: handler } : handler) as HandlerSpec<unknown>)
  }
  if (specs.size === 0) throw new VigilError('VGL_PIPELINE_DEFINITION_INVALID', 'a pipeline needs at least one handler')
  const fallback = specs.get(fallbackRoute)
  const routeOf = compileRouteOf(route)
  return {
    routes: [...specs.keys()],
    routeOf,
    handlerFor (name: string, record: LogRecord) {
      const spec = specs.get(name)
      if (spec !== undefined) return { name, spec }
      if (fallback !== undefined) return { name: fallbackRoute, spec: fallback }
      throw new VigilError('VGL_PIPELINE_NO_ROUTE', `no handler for route ${JSON.stringify(name)} (known: ${[...specs.keys()].join(', ')})`, {
        route: name, topic: record.topic, partition: record.partition, offset: record.offset
      })
    }
  }
}

function compileRouteOf (route: RouteSpec): (value: unknown, record: LogRecord) => string {
  if (typeof route === 'function') {
    return (value, record) => {
      const name = route(value, record)
      return typeof name === 'string' && name !== '' ? name : missingRoute
    }
  }
  if ('header' in route) {
    const header = route.header
    return (_value, record) => headerText(record.headers, header) ?? missingRoute
  }
  const path = route.field.split('.')
  if (path.length === 1) {
    const field = path[0] as string
    return (value) => {
      const v = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[field] : undefined
      return typeof v === 'string' && v !== '' ? v : missingRoute
    }
  }
  return (value) => {
    let v: unknown = value
    for (const part of path) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[part] : undefined
    return typeof v === 'string' && v !== '' ? v : missingRoute
  }
}

/** Runs a handler's validate step, turning any failure into VGL_PIPELINE_VALIDATION_FAILED (coded errors pass through). */
export function validateFor<T> (spec: HandlerSpec<T>, value: unknown, record: LogRecord): T {
  if (spec.validate === undefined) return value as T
  try {
    return spec.validate(value, record)
  } catch (error) {
    if (isVigilError(error)) throw error
    throw new VigilError('VGL_PIPELINE_VALIDATION_FAILED', `invalid record: ${(error as Error).message}`, { cause: error })
  }
}
