/**
 * Classifies @platformatic/kafka failures (GenericError trees: MultipleErrors → ResponseError →
 * ProtocolError with a Kafka `apiId`, NetworkError, TimeoutError …) into Vigil's log codes. The
 * original error is always kept as `cause`; messages name brokers, topics and partitions, never
 * credentials.
 */
import { VigilError, isVigilError, type ErrorCode } from '../../errors.ts'

export interface KafkaErrorContext {
  /** What Vigil was doing, e.g. `produce to orders`; starts the message. */
  action: string
  brokers: readonly string[]
  topic?: string
  partition?: number
  group?: string
}

interface Node {
  code?: unknown
  apiId?: unknown
  message?: unknown
  errors?: unknown
  cause?: unknown
  closed?: unknown
  serverErrorMessage?: unknown
}

/** Every error in the tree, depth first (the root included). */
export function errorChain (error: unknown): Node[] {
  const seen = new Set<unknown>()
  const out: Node[] = []
  const visit = (e: unknown, depth: number) => {
    if (typeof e !== 'object' || e === null || seen.has(e) || depth > 12) return
    seen.add(e)
    const node = e as Node
    out.push(node)
    if (Array.isArray(node.errors)) for (const child of node.errors) visit(child, depth + 1)
    visit(node.cause, depth + 1)
  }
  visit(error, 0)
  return out
}

/** Kafka protocol error names (`apiId`, e.g. `TOPIC_ALREADY_EXISTS`) found anywhere in the tree. */
export function kafkaErrorIds (error: unknown): Set<string> {
  return new Set(errorChain(error).map(n => n.apiId).filter((id): id is string => typeof id === 'string'))
}

const notFound = ['UNKNOWN_TOPIC_OR_PARTITION', 'UNKNOWN_TOPIC_ID']
const tooLarge = ['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']
const authFailed = ['SASL_AUTHENTICATION_FAILED', 'ILLEGAL_SASL_STATE', 'UNSUPPORTED_SASL_MECHANISM']
const notAuthorized = ['TOPIC_AUTHORIZATION_FAILED', 'GROUP_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED', 'DELEGATION_TOKEN_AUTHORIZATION_FAILED']
const notAssigned = ['ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'REBALANCE_IN_PROGRESS', 'FENCED_INSTANCE_ID', 'STALE_MEMBER_EPOCH', 'FENCED_MEMBER_EPOCH']
const invalidTopic = ['INVALID_TOPIC_EXCEPTION', 'INVALID_PARTITIONS', 'INVALID_REPLICATION_FACTOR', 'INVALID_REPLICA_ASSIGNMENT', 'INVALID_CONFIG', 'POLICY_VIOLATION']
const unavailable = ['NOT_ENOUGH_REPLICAS', 'NOT_ENOUGH_REPLICAS_AFTER_APPEND', 'LEADER_NOT_AVAILABLE', 'NOT_LEADER_OR_FOLLOWER',
  'COORDINATOR_NOT_AVAILABLE', 'COORDINATOR_LOAD_IN_PROGRESS', 'NOT_COORDINATOR', 'REQUEST_TIMED_OUT', 'BROKER_NOT_AVAILABLE',
  'KAFKA_STORAGE_ERROR', 'NETWORK_EXCEPTION', 'NOT_CONTROLLER', 'THROTTLING_QUOTA_EXCEEDED']
/** Node TLS failures that mean the handshake (certificates) was refused. */
const tlsCodes = /^(ERR_TLS_|ERR_SSL_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|CERT_)/

/** Turns any failure of the Kafka client into a VigilError (VigilErrors pass through unchanged). */
export function toLogError (error: unknown, context: KafkaErrorContext): VigilError {
  if (isVigilError(error)) return error
  const chain = errorChain(error)
  const ids = kafkaErrorIds(error)
  const has = (list: readonly string[]) => list.find(id => ids.has(id))
  const where = [
    context.topic === undefined ? '' : ` topic=${context.topic}`,
    context.partition === undefined ? '' : ` partition=${context.partition}`,
    context.group === undefined ? '' : ` group=${context.group}`
  ].join('')
  const extra: Record<string, unknown> = {}
  if (context.topic !== undefined) extra.topic = context.topic
  if (context.partition !== undefined) extra.partition = context.partition
  if (context.group !== undefined) extra.group = context.group
  const fail = (code: ErrorCode, reason: string, more: Record<string, unknown> = {}) =>
    new VigilError(code, `${context.action}: ${reason}`, { ...extra, ...more, cause: error })

  let id: string | undefined
  if (chain.some(n => n.closed === true)) return fail('VGL_LOG_CLOSED', 'the Kafka client is closed')
  if (ids.has('TOPIC_ALREADY_EXISTS')) return fail('VGL_LOG_TOPIC_EXISTS', `topic ${context.topic ?? ''} already exists`.trimEnd())
  if ((id = has(tooLarge)) !== undefined) return fail('VGL_LOG_RECORD_TOO_LARGE', `the broker refused the records as too large (${id})`)
  if ((id = has(authFailed)) !== undefined || chain.some(n => n.code === 'PLT_KFK_AUTHENTICATION')) {
    return fail('VGL_LOG_AUTH_FAILED', `the brokers (${context.brokers.join(',')}) refused the SASL credentials (${id ?? serverMessage(chain) ?? 'authentication failed'})`)
  }
  const tls = chain.find(n => typeof n.code === 'string' && tlsCodes.test(n.code))
  if (tls !== undefined) {
    return fail('VGL_LOG_AUTH_FAILED', `TLS handshake with ${context.brokers.join(',')} failed: ${String(tls.message)} (${String(tls.code)})`)
  }
  if ((id = has(notAuthorized)) !== undefined) return fail('VGL_LOG_NOT_AUTHORIZED', `the brokers refused the operation${where} (${id})`)
  if (has(notFound) !== undefined || chain.some(n => n.code === 'PLT_KFK_USER' && typeof n.message === 'string' && /^Unknown topic/.test(n.message))) {
    return fail('VGL_LOG_TOPIC_NOT_FOUND', `topic ${context.topic ?? '(unknown)'} does not exist${context.partition === undefined ? '' : ` (or has no partition ${context.partition})`}`)
  }
  if (ids.has('GROUP_ID_NOT_FOUND')) return fail('VGL_LOG_GROUP_NOT_FOUND', `group ${context.group ?? ''} does not exist`)
  if ((id = has(notAssigned)) !== undefined) return fail('VGL_LOG_NOT_ASSIGNED', `this member no longer owns the partitions${where}: the group rebalanced (${id})`)
  if ((id = has(invalidTopic)) !== undefined) {
    return fail('VGL_LOG_TOPIC_INVALID', `the brokers refused the topic settings${where} (${id}${detail(chain)})`)
  }
  if ((id = has(unavailable)) !== undefined) {
    return fail('VGL_LOG_UNREACHABLE', `the Kafka cluster (${context.brokers.join(',')}) is unavailable${where} (${id})`, { brokers: context.brokers })
  }
  if (chain.some(n => n.code === 'PLT_KFK_NETWORK' || n.code === 'PLT_KFK_TIMEOUT' || isSocketError(n.code))) {
    return fail('VGL_LOG_UNREACHABLE', `cannot reach the Kafka brokers ${context.brokers.join(',')} (${networkReason(chain)})`, { brokers: context.brokers })
  }
  const message = error instanceof Error ? error.message : String(error)
  return fail('VGL_LOG_BACKEND_ERROR', `${message}${ids.size > 0 ? ` (${[...ids].join(', ')})` : ''}`)
}

function isSocketError (code: unknown): boolean {
  return typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN)$/.test(code)
}

function networkReason (chain: Node[]): string {
  const socket = chain.find(n => isSocketError(n.code))
  if (socket !== undefined) return String(socket.code)
  if (chain.some(n => n.code === 'PLT_KFK_TIMEOUT')) return 'timed out'
  const network = chain.filter(n => n.code === 'PLT_KFK_NETWORK').pop()
  return typeof network?.message === 'string' ? network.message : 'connection failed'
}

function serverMessage (chain: Node[]): string | undefined {
  const found = chain.find(n => typeof n.serverErrorMessage === 'string' && n.serverErrorMessage !== '')
  return found === undefined ? undefined : String(found.serverErrorMessage)
}

function detail (chain: Node[]): string {
  const message = serverMessage(chain)
  return message === undefined ? '' : `: ${message}`
}

/** A VGL_LOG_UNREACHABLE for an operation that did not finish in time. */
export function timeoutError (context: KafkaErrorContext, ms: number): VigilError {
  return new VigilError('VGL_LOG_UNREACHABLE', `${context.action}: no answer from the Kafka brokers ${context.brokers.join(',')} within ${ms} ms`, {
    brokers: context.brokers,
    ...(context.topic === undefined ? {} : { topic: context.topic }),
    ...(context.partition === undefined ? {} : { partition: context.partition })
  })
}

/** Settles with `promise`, or rejects with `onTimeout()` after `ms` (the operation itself is not cancelled). */
export async function withDeadline<T> (promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms)
  })
  try {
    return await Promise.race([promise, deadline])
  } finally {
    clearTimeout(timer)
    // The loser must not become an unhandled rejection.
    promise.catch(() => {})
  }
}
