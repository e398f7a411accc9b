/**
 * A fake of CISO Assistant's REST API, written from ../shared/specs/ciso-assistant-dispatcher.md:
 * a real HTTP server on 127.0.0.1 (port 0) with
 * - Knox token auth (`Authorization: Token <token>`; 401 otherwise);
 * - applied controls, requirement assessments and evidences with the backend's filter sets
 *   (django-filter: unknown filter names are silently ignored, as in the real backend);
 * - page-number pagination with **relative** `next` links (core/pagination.py);
 * - the models' enums, validated on PATCH (400 with DRF-style field errors);
 * - 400 on a PATCH of a requirement assessment whose audit is locked, and on a duplicate
 *   evidence name in a folder (case-insensitive);
 * - `POST /evidences/{id}/upload/` (FileUploadParser: the attachment of the latest revision is
 *   replaced; extension allowlist and size limit);
 * - fault switches: 5xx, 429 with Retry-After, timeouts (no answer) and connection resets, each
 *   for the next N matching requests. A faulted request has no effect on the state.
 * Every request is recorded, and every mutation is kept in order, so tests can check what was
 * applied, how often and in which order.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createTlsServer } from 'node:https'
import { randomUUID } from 'node:crypto'
import type { AddressInfo, Socket } from 'node:net'

export const enums = {
  appliedControlStatus: ['to_do', 'in_progress', 'on_hold', 'active', 'degraded', 'deprecated', '--'],
  priority: [1, 2, 3, 4],
  effort: ['XS', 'S', 'M', 'L', 'XL'],
  controlImpact: [1, 2, 3, 4, 5],
  category: ['policy', 'process', 'technical', 'physical', 'procedure'],
  csfFunction: ['govern', 'identify', 'protect', 'detect', 'respond', 'recover'],
  requirementStatus: ['to_do', 'in_progress', 'in_review', 'done'],
  result: ['not_assessed', 'partially_compliant', 'non_compliant', 'compliant', 'not_applicable'],
  extendedResult: ['major_nonconformity', 'minor_nonconformity', 'observation_sensitive_point', 'opportunity_for_improvement', 'good_practice'],
  respondentAlignment: ['yes', 'no', 'in_progress', 'not_applicable'],
  evidenceStatus: ['draft', 'missing', 'in_review', 'approved', 'rejected', 'expired']
} as const

/** core/validators.py allowlist (a subset is enough for tests). */
const allowedExtensions = new Set(['pdf', 'png', 'jpg', 'jpeg', 'gif', 'docx', 'xlsx', 'pptx', 'csv', 'json', 'txt', 'md', 'zip', 'xml', 'yaml', 'yml', 'log'])

export interface Folder { id: string, name: string, parent: string | null }

export interface AppliedControl {
  id: string
  name: string
  ref_id: string
  folder: string
  description: string
  status: string
  priority: number | null
  category: string | null
  csf_function: string | null
  effort: string | null
  control_impact: number | null
  eta: string | null
  start_date: string | null
  expiry_date: string | null
  progress_field: number
  link: string
  observation: string
  evidences: string[]
  owner: string[]
  filtering_labels: string[]
  custom_fields: Record<string, string>
}

export interface ComplianceAssessment { id: string, ref_id: string, name: string, folder: string, perimeter: { id: string, name: string }, is_locked: boolean }

export interface RequirementAssessment {
  id: string
  folder: string
  compliance_assessment: string
  requirement: { urn: string, ref_id: string, assessable: boolean }
  status: string
  result: string
  extended_result: string | null
  respondent_alignment: string | null
  observation: string
  score: number | null
  is_scored: boolean
  documentation_score: number | null
  evidences: string[]
  applied_controls: string[]
  created_at: string
  updated_at: string
}

export interface Evidence {
  id: string
  name: string
  folder: string
  status: string
  owner: string[]
  applied_controls: string[]
  requirement_assessments: string[]
  expiry_date: string | null
  revisions: Array<{ version: number, attachment: { name: string, bytes: Buffer } | null }>
}

export interface RecordedRequest {
  method: string
  path: string
  query: string
  status: number
  fault?: string
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}

export interface Mutation {
  seq: number
  kind: 'patch' | 'create' | 'upload'
  resource: 'applied-controls' | 'requirement-assessments' | 'evidences'
  id: string
  body: unknown
}

export type FaultKind = 'status' | 'timeout' | 'reset'

export interface Fault {
  kind: FaultKind
  /** For kind 'status' (default 503). */
  status?: number
  /** Retry-After header value, e.g. '1' or an HTTP date. */
  retryAfter?: string
  /** How many matching requests fail (default 1; Infinity for "until cleared"). */
  times?: number
  /** Which requests: default all. */
  match?: (request: { method: string, path: string }) => boolean
}

export interface FakeCisoOptions {
  token?: string
  /** PAGE_SIZE (default 5000, like PAGINATE_BY). */
  pageSize?: number
  /** Added to every answer (ms), to model a real backend. */
  latencyMs?: number
  /** ATTACHMENT_MAX_SIZE_MB in bytes (default 50 MiB). */
  maxAttachmentBytes?: number
  /** Serve HTTPS with this key and certificate (PEM). */
  tls?: { key: string, cert: string }
}

export class FakeCisoAssistant {
  readonly token: string
  pageSize: number
  latencyMs: number
  readonly maxAttachmentBytes: number
  readonly root: Folder
  readonly folders = new Map<string, Folder>()
  readonly appliedControls = new Map<string, AppliedControl>()
  readonly complianceAssessments = new Map<string, ComplianceAssessment>()
  readonly requirementAssessments = new Map<string, RequirementAssessment>()
  readonly evidences = new Map<string, Evidence>()
  readonly requests: RecordedRequest[] = []
  readonly mutations: Mutation[] = []
  /** Keep request bodies in `requests` (off for benchmarks). */
  recordBodies = true
  /** When set, `next` links are absolute on this origin (a proxy rewriting them), else relative as the backend sends them. */
  nextOrigin: string | undefined
  #faults: Array<Fault & { left: number }> = []
  #server: Server | undefined
  #sockets = new Set<Socket>()
  #hanging = new Set<ServerResponse>()
  #url = ''
  readonly #tls: FakeCisoOptions['tls']

  constructor (options: FakeCisoOptions = {}) {
    this.#tls = options.tls
    this.token = options.token ?? `pat-${randomUUID()}`
    this.pageSize = options.pageSize ?? 5000
    this.latencyMs = options.latencyMs ?? 0
    this.maxAttachmentBytes = options.maxAttachmentBytes ?? 50 * 1024 * 1024
    this.root = { id: randomUUID(), name: 'Global', parent: null }
    this.folders.set(this.root.id, this.root)
  }

  /** e.g. http://127.0.0.1:39211/api */
  get url (): string { return this.#url }

  async start (): Promise<this> {
    const handler = (req: IncomingMessage, res: ServerResponse) => { this.#handle(req, res) }
    const server: Server = this.#tls === undefined ? createServer(handler) : createTlsServer(this.#tls, handler)
    server.keepAliveTimeout = 5000
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket)
      socket.on('close', () => this.#sockets.delete(socket))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    this.#server = server
    this.#url = `${this.#tls === undefined ? 'http' : 'https'}://127.0.0.1:${(server.address() as AddressInfo).port}/api`
    return this
  }

  async close (): Promise<void> {
    const server = this.#server
    if (server === undefined) return
    this.#server = undefined
    for (const res of this.#hanging) res.destroy()
    for (const socket of this.#sockets) socket.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  // ---- fixtures -------------------------------------------------------------------------------

  addFolder (name: string, parent: string = this.root.id): Folder {
    const folder = { id: randomUUID(), name, parent }
    this.folders.set(folder.id, folder)
    return folder
  }

  addAppliedControl (fields: Partial<AppliedControl> & { name: string }): AppliedControl {
    const control: AppliedControl = {
      id: randomUUID(),
      ref_id: '',
      folder: this.root.id,
      description: '',
      status: '--',
      priority: null,
      category: null,
      csf_function: null,
      effort: null,
      control_impact: null,
      eta: null,
      start_date: null,
      expiry_date: null,
      progress_field: 0,
      link: '',
      observation: '',
      evidences: [],
      owner: [],
      filtering_labels: [],
      custom_fields: {},
      ...fields
    }
    this.appliedControls.set(control.id, control)
    return control
  }

  addComplianceAssessment (fields: Partial<ComplianceAssessment> & { ref_id: string }): ComplianceAssessment {
    const assessment: ComplianceAssessment = {
      id: randomUUID(),
      name: fields.ref_id,
      folder: this.root.id,
      perimeter: { id: randomUUID(), name: 'Main perimeter' },
      is_locked: false,
      ...fields
    }
    this.complianceAssessments.set(assessment.id, assessment)
    return assessment
  }

  /** Adds a requirement assessment of `assessment` for the requirement `urn` (ref id = its last segment). */
  addRequirementAssessment (assessment: ComplianceAssessment, urn: string, fields: Partial<RequirementAssessment> = {}): RequirementAssessment {
    const now = new Date().toISOString()
    const ra: RequirementAssessment = {
      id: randomUUID(),
      folder: assessment.folder,
      compliance_assessment: assessment.id,
      requirement: { urn, ref_id: urn.split(':').pop() ?? urn, assessable: true },
      status: 'to_do',
      result: 'not_assessed',
      extended_result: null,
      respondent_alignment: null,
      observation: '',
      score: null,
      is_scored: false,
      documentation_score: null,
      evidences: [],
      applied_controls: [],
      created_at: now,
      updated_at: now,
      ...fields
    }
    this.requirementAssessments.set(ra.id, ra)
    return ra
  }

  addEvidence (fields: Partial<Evidence> & { name: string }): Evidence {
    const evidence: Evidence = { id: randomUUID(), folder: this.root.id, status: 'draft', owner: [], applied_controls: [], requirement_assessments: [], expiry_date: null, revisions: [], ...fields }
    this.evidences.set(evidence.id, evidence)
    return evidence
  }

  /** The mutations applied to one object, in order. */
  mutationsOf (id: string): Mutation[] {
    return this.mutations.filter(m => m.id === id)
  }

  // ---- faults ---------------------------------------------------------------------------------

  inject (fault: Fault): void {
    this.#faults.push({ ...fault, left: fault.times ?? 1 })
  }

  clearFaults (): void {
    this.#faults = []
  }

  /** Requests that a fault answered. */
  get faulted (): number {
    return this.requests.filter(r => r.fault !== undefined).length
  }

  // ---- HTTP -----------------------------------------------------------------------------------

  #handle (req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size <= this.maxAttachmentBytes + 1024 * 1024) chunks.push(chunk)
    })
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      const run = () => this.#route(req, res, body, size)
      if (this.latencyMs > 0) setTimeout(run, this.latencyMs)
      else run()
    })
  }

  #route (req: IncomingMessage, res: ServerResponse, body: Buffer, size: number): void {
    const url = new URL(req.url ?? '/', 'http://fake')
    const method = req.method ?? 'GET'
    const record: RecordedRequest = { method, path: url.pathname, query: url.search, status: 0, headers: req.headers, body: this.recordBodies ? body : Buffer.alloc(0) }
    this.requests.push(record)
    const send = (status: number, payload?: unknown, headers: Record<string, string> = {}) => {
      record.status = status
      const text = payload === undefined ? '' : JSON.stringify(payload)
      res.writeHead(status, { ...(payload === undefined ? {} : { 'content-type': 'application/json' }), 'content-length': String(Buffer.byteLength(text)), ...headers })
      res.end(text)
    }

    const fault = this.#faults.find(f => f.left > 0 && (f.match?.({ method, path: url.pathname }) ?? true))
    if (fault !== undefined) {
      fault.left--
      record.fault = fault.kind
      if (fault.kind === 'reset') {
        req.socket.destroy()
        return
      }
      if (fault.kind === 'timeout') {
        record.status = -1
        this.#hanging.add(res)
        res.on('close', () => this.#hanging.delete(res))
        return
      }
      const status = fault.status ?? 503
      send(status, { detail: `injected ${status}` }, fault.retryAfter === undefined ? {} : { 'retry-after': fault.retryAfter })
      return
    }

    const auth = req.headers.authorization
    if (auth === undefined) { send(401, { detail: 'Authentication credentials were not provided.' }); return }
    if (auth !== `Token ${this.token}`) { send(401, { detail: 'Invalid token.' }); return }

    const parts = url.pathname.replace(/^\/api\//, '').split('/').filter(p => p !== '')
    const [resource, id, action] = parts
    try {
      if (!url.pathname.startsWith('/api/')) { send(404, { detail: 'Not found.' }); return }
      if (resource === 'applied-controls' || resource === 'requirement-assessments' || resource === 'evidences') {
        if (id === undefined) {
          if (method === 'GET') { send(200, this.#list(resource, url)); return }
          if (method === 'POST' && resource === 'evidences') { this.#createEvidence(req, body, send); return }
          send(405, { detail: `Method "${method}" not allowed.` })
          return
        }
        if (action === 'upload' && resource === 'evidences' && method === 'POST') { this.#upload(id, req, body, size, send); return }
        if (action !== undefined) { send(404, { detail: 'Not found.' }); return }
        if (method === 'GET') {
          const object = this.#detail(resource, id)
          if (object === undefined) send(404, { detail: 'No object matches the given query.' })
          else send(200, object)
          return
        }
        if (method === 'PATCH') { this.#patch(resource, id, req, body, send); return }
        send(405, { detail: `Method "${method}" not allowed.` })
        return
      }
      send(404, { detail: 'Not found.' })
    } catch (error) {
      send(500, { detail: `fake server error: ${(error as Error).message}` })
    }
  }

  #objects (resource: string): Array<AppliedControl | RequirementAssessment | Evidence> {
    if (resource === 'applied-controls') return [...this.appliedControls.values()]
    if (resource === 'requirement-assessments') return [...this.requirementAssessments.values()]
    return [...this.evidences.values()]
  }

  #list (resource: string, url: URL): unknown {
    const params = url.searchParams
    let objects = this.#objects(resource)
    const filters = resource === 'applied-controls' ? appliedControlFilters(this) : resource === 'requirement-assessments' ? requirementAssessmentFilters(this) : evidenceFilters()
    for (const name of new Set(params.keys())) {
      const filter = filters[name] ?? (name.startsWith('cf.') && resource === 'applied-controls'
        ? (o: AppliedControl, values: string[]) => o.custom_fields[name.slice(3)] === values.at(-1)
        : undefined)
      // django-filter ignores names it does not know: the match silently widens.
      if (filter === undefined) continue
      const values = params.getAll(name)
      objects = objects.filter(o => (filter as (o: unknown, v: string[]) => boolean)(o, values))
    }
    const page = Math.max(1, Number(params.get('page') ?? '1') || 1)
    const start = (page - 1) * this.pageSize
    const results = objects.slice(start, start + this.pageSize).map(o => this.#render(resource, o))
    const link = (n: number) => {
      const next = new URLSearchParams(params)
      next.set('page', String(n))
      return `${this.nextOrigin ?? ''}${url.pathname}?${next.toString()}`
    }
    return {
      count: objects.length,
      next: start + this.pageSize < objects.length ? link(page + 1) : null,
      previous: page > 1 ? link(page - 1) : null,
      results
    }
  }

  #render (resource: string, object: AppliedControl | RequirementAssessment | Evidence): unknown {
    if (resource === 'applied-controls') {
      const o = object as AppliedControl
      return { ...o, evidences: o.evidences.map(id => ({ id, str: this.evidences.get(id)?.name ?? id })), folder: { id: o.folder, str: this.folders.get(o.folder)?.name } }
    }
    if (resource === 'evidences') {
      const { revisions, ...rest } = object as Evidence
      const latest = revisions.at(-1)
      return { ...rest, attachment: latest?.attachment?.name ?? null, version: latest?.version ?? 0 }
    }
    return object
  }

  #detail (resource: string, id: string): unknown {
    const object = this.#objects(resource).find(o => o.id === id)
    return object === undefined ? undefined : this.#render(resource, object)
  }

  #patch (resource: string, id: string, req: IncomingMessage, body: Buffer, send: (status: number, payload?: unknown) => void): void {
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) { send(415, { detail: `Unsupported media type "${req.headers['content-type'] ?? ''}" in request.` }); return }
    let values: Record<string, unknown>
    try {
      values = JSON.parse(body.toString('utf8')) as Record<string, unknown>
    } catch {
      send(400, { detail: 'JSON parse error' })
      return
    }
    if (resource === 'applied-controls') {
      const control = this.appliedControls.get(id)
      if (control === undefined) { send(404, { detail: 'No AppliedControl matches the given query.' }); return }
      const errors = validateAppliedControl(values, this)
      if (Object.keys(errors).length > 0) { send(400, errors); return }
      for (const [key, value] of Object.entries(values)) {
        if (!(key in control) || key === 'id') continue // DRF ignores unknown and read-only fields
        ;(control as unknown as Record<string, unknown>)[key] = key === 'priority' || key === 'control_impact' || key === 'progress_field' ? (value === null ? null : Number(value)) : value
      }
      if (values.status === 'active') control.progress_field = 100
      for (const evidenceId of control.evidences) {
        const evidence = this.evidences.get(evidenceId)
        if (evidence !== undefined && !evidence.applied_controls.includes(id)) evidence.applied_controls.push(id)
      }
      this.#mutate('patch', resource, id, values)
      send(200, this.#render(resource, control))
      return
    }
    if (resource === 'requirement-assessments') {
      const ra = this.requirementAssessments.get(id)
      if (ra === undefined) { send(404, { detail: 'No RequirementAssessment matches the given query.' }); return }
      if (this.complianceAssessments.get(ra.compliance_assessment)?.is_locked === true) {
        send(400, { error: 'Cannot modify the requirement when the audit is locked' })
        return
      }
      const errors = validateRequirementAssessment(values)
      if (Object.keys(errors).length > 0) { send(400, errors); return }
      for (const [key, value] of Object.entries(values)) {
        if (!(key in ra) || key === 'id' || key === 'requirement' || key === 'compliance_assessment') continue
        ;(ra as unknown as Record<string, unknown>)[key] = value
      }
      ra.updated_at = new Date().toISOString()
      this.#mutate('patch', resource, id, values)
      send(200, ra)
      return
    }
    const evidence = this.evidences.get(id)
    if (evidence === undefined) { send(404, { detail: 'No Evidence matches the given query.' }); return }
    for (const [key, value] of Object.entries(values)) if (key in evidence && key !== 'id' && key !== 'revisions') (evidence as unknown as Record<string, unknown>)[key] = value
    this.#mutate('patch', resource, id, values)
    send(200, this.#render(resource, evidence))
  }

  #createEvidence (req: IncomingMessage, body: Buffer, send: (status: number, payload?: unknown) => void): void {
    const type = req.headers['content-type'] ?? ''
    let fields: Record<string, string>
    if (type.startsWith('application/x-www-form-urlencoded')) fields = Object.fromEntries(new URLSearchParams(body.toString('utf8')))
    else if (type.startsWith('application/json')) fields = JSON.parse(body.toString('utf8')) as Record<string, string>
    else { send(415, { detail: `Unsupported media type "${type}" in request.` }); return }
    const name = (fields.name ?? '').trim()
    if (name === '') { send(400, { name: ['This field is required.'] }); return }
    const folder = fields.folder ?? this.root.id
    if (!this.folders.has(folder)) { send(400, { folder: [`Invalid pk "${folder}" - object does not exist.`] }); return }
    const duplicate = [...this.evidences.values()].some(e => e.folder === folder && e.name.toLowerCase() === name.toLowerCase())
    if (duplicate) { send(400, { name: ['An object with this name already exists in this folder.'] }); return }
    const evidence = this.addEvidence({ name, folder })
    this.#mutate('create', 'evidences', evidence.id, fields)
    send(201, this.#render('evidences', evidence))
  }

  #upload (id: string, req: IncomingMessage, body: Buffer, size: number, send: (status: number, payload?: unknown) => void): void {
    const evidence = this.evidences.get(id)
    if (evidence === undefined) { send(404, { detail: 'No Evidence matches the given query.' }); return }
    const filename = filenameOf(req.headers['content-disposition'])
    if (filename === undefined) { send(400, { detail: 'Missing filename. Request should include a Content-Disposition header with a filename parameter.' }); return }
    const extension = filename.includes('.') ? (filename.split('.').pop() as string).toLowerCase() : ''
    if (!allowedExtensions.has(extension)) { send(400, { file: [`File extension "${extension}" is not allowed.`] }); return }
    if (size > this.maxAttachmentBytes) { send(400, { file: ['File too large.'] }); return }
    // UploadAttachmentView: replace the attachment of the latest revision (create version 1 if none).
    const latest = evidence.revisions.at(-1)
    if (latest === undefined) evidence.revisions.push({ version: 1, attachment: { name: filename, bytes: body } })
    else latest.attachment = { name: filename, bytes: body }
    this.#mutate('upload', 'evidences', id, { filename, bytes: body.length })
    send(200)
  }

  #mutate (kind: Mutation['kind'], resource: string, id: string, body: unknown): void {
    this.mutations.push({ seq: this.mutations.length + 1, kind, resource: resource as Mutation['resource'], id, body })
  }
}

/**
 * DRF's FileUploadParser.get_filename over Django's parse_header_parameters: `filename*`
 * (RFC 2231/5987, `charset'lang'percent-encoded`) is decoded and stored under `filename`; the
 * last of the two wins. A plain `filename` is taken as it is (not percent-decoded).
 */
export function filenameOf (header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  const params = new Map<string, string>()
  for (const part of header.split(';').slice(1)) {
    const eq = part.indexOf('=')
    if (eq === -1) continue
    let name = part.slice(0, eq).trim().toLowerCase()
    let value = part.slice(eq + 1).trim()
    let encoded = false
    if (name.endsWith('*')) {
      name = name.slice(0, -1)
      encoded = (value.match(/'/g) ?? []).length === 2
    }
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1)
    if (encoded) {
      const raw = value.split("'")[2] as string
      try { value = decodeURIComponent(raw) } catch { value = raw }
    }
    params.set(name, value)
  }
  return params.get('filename')
}

type Filter<T> = (o: T, values: string[]) => boolean

const last = (values: string[]) => values.at(-1) ?? ''
const exact = <T>(field: (o: T) => unknown): Filter<T> => (o, values) => String(field(o) ?? '') === last(values)
const anyOf = <T>(field: (o: T) => string[]): Filter<T> => (o, values) => values.some(v => field(o).includes(v))
const bool = (text: string) => /^(true|1)$/i.test(text)

function dateFilters<T> (name: string, field: (o: T) => string | null): Record<string, Filter<T>> {
  const value = (o: T) => field(o) ?? ''
  return {
    [name]: (o, v) => value(o).slice(0, 10) === last(v),
    [`${name}__lte`]: (o, v) => value(o) !== '' && value(o).slice(0, 10) <= last(v),
    [`${name}__gte`]: (o, v) => value(o) !== '' && value(o).slice(0, 10) >= last(v),
    [`${name}__lt`]: (o, v) => value(o) !== '' && value(o) < last(v),
    [`${name}__gt`]: (o, v) => value(o) !== '' && value(o) > last(v),
    [`${name}__month`]: (o, v) => value(o) !== '' && Number(value(o).slice(5, 7)) === Number(last(v)),
    [`${name}__year`]: (o, v) => value(o) !== '' && Number(value(o).slice(0, 4)) === Number(last(v))
  }
}

function appliedControlFilters (fake: FakeCisoAssistant): Record<string, Filter<AppliedControl>> {
  return {
    ref_id: exact(o => o.ref_id),
    name: exact(o => o.name),
    folder: exact(o => o.folder),
    status: exact(o => o.status),
    priority: exact(o => o.priority),
    category: exact(o => o.category),
    csf_function: exact(o => o.csf_function),
    effort: exact(o => o.effort),
    control_impact: exact(o => o.control_impact),
    ...dateFilters<AppliedControl>('eta', o => o.eta),
    evidences: anyOf(o => o.evidences),
    owner: anyOf(o => o.owner),
    filtering_labels: anyOf(o => o.filtering_labels),
    compliance_assessments: (o, values) => [...fake.requirementAssessments.values()].some(ra => values.includes(ra.compliance_assessment) && ra.applied_controls.includes(o.id)),
    id: (o, values) => last(values).split(',').map(s => s.trim()).includes(o.id),
    search: (o, values) => [o.name, o.description, o.ref_id].some(s => s.toLowerCase().includes(last(values).toLowerCase()))
  }
}

function requirementAssessmentFilters (fake: FakeCisoAssistant): Record<string, Filter<RequirementAssessment>> {
  const assessment = (o: RequirementAssessment) => fake.complianceAssessments.get(o.compliance_assessment)
  return {
    folder: exact(o => o.folder),
    folder__name: exact(o => fake.folders.get(o.folder)?.name),
    evidences: anyOf(o => o.evidences),
    compliance_assessment: exact(o => o.compliance_assessment),
    applied_controls: anyOf(o => o.applied_controls),
    security_exceptions: () => false,
    requirement__urn: exact(o => o.requirement.urn),
    result: exact(o => o.result),
    extended_result: exact(o => o.extended_result),
    compliance_assessment__ref_id: exact(o => assessment(o)?.ref_id),
    compliance_assessment__perimeter: exact(o => assessment(o)?.perimeter.id),
    compliance_assessment__perimeter__name: exact(o => assessment(o)?.perimeter.name),
    compliance_assessment__assets__ref_id: () => false,
    requirement__assessable: (o, v) => o.requirement.assessable === bool(last(v)),
    created_at__gte: (o, v) => o.created_at >= last(v),
    created_at__lt: (o, v) => o.created_at < last(v),
    updated_at__gte: (o, v) => o.updated_at >= last(v),
    updated_at__lt: (o, v) => o.updated_at < last(v),
    search: (o, v) => o.requirement.ref_id.toLowerCase().includes(last(v).toLowerCase())
  }
}

function evidenceFilters (): Record<string, Filter<Evidence>> {
  return {
    folder: exact(o => o.folder),
    name: exact(o => o.name),
    status: exact(o => o.status),
    owner: anyOf(o => o.owner),
    applied_controls: anyOf(o => o.applied_controls),
    requirement_assessments: anyOf(o => o.requirement_assessments),
    expiry_date: exact(o => o.expiry_date),
    filtering_labels: () => false
  }
}

const datePattern = /^\d{4}-\d{2}-\d{2}$/

function validateAppliedControl (values: Record<string, unknown>, fake: FakeCisoAssistant): Record<string, string[]> {
  const errors: Record<string, string[]> = {}
  const choice = (field: string, allowed: readonly unknown[]) => {
    if (!(field in values) || values[field] === null) return
    const v = values[field]
    const ok = allowed.some(a => String(a) === String(v))
    if (!ok) errors[field] = [`"${String(v)}" is not a valid choice.`]
  }
  choice('status', enums.appliedControlStatus)
  choice('priority', enums.priority)
  choice('effort', enums.effort)
  choice('control_impact', enums.controlImpact)
  choice('category', enums.category)
  choice('csf_function', enums.csfFunction)
  for (const field of ['eta', 'start_date', 'expiry_date']) {
    const v = values[field]
    if (v !== undefined && v !== null && !(typeof v === 'string' && datePattern.test(v))) errors[field] = ['Date has wrong format. Use one of these formats instead: YYYY-MM-DD.']
  }
  if ('progress_field' in values) {
    const n = Number(values.progress_field)
    if (!Number.isInteger(n) || n < 0 || n > 100) errors.progress_field = ['Ensure this value is between 0 and 100.']
  }
  if ('evidences' in values) {
    const ids = values.evidences
    if (!Array.isArray(ids) || ids.some(id => !fake.evidences.has(String(id)))) errors.evidences = ['Invalid pk - object does not exist.']
  }
  return errors
}

function validateRequirementAssessment (values: Record<string, unknown>): Record<string, string[]> {
  const errors: Record<string, string[]> = {}
  const choice = (field: string, allowed: readonly string[]) => {
    if (!(field in values) || values[field] === null) return
    if (!allowed.includes(String(values[field]))) errors[field] = [`"${String(values[field])}" is not a valid choice.`]
  }
  choice('status', enums.requirementStatus)
  choice('result', enums.result)
  choice('extended_result', enums.extendedResult)
  choice('respondent_alignment', enums.respondentAlignment)
  return errors
}

export async function startFakeCisoAssistant (options: FakeCisoOptions = {}): Promise<FakeCisoAssistant> {
  return await new FakeCisoAssistant(options).start()
}
