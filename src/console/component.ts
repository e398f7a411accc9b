/**
 * The web console in `vigil serve`: its static files at /console (and `/` redirects there), and
 * the read-only log API its Topics and groups page needs (log-routes.ts). Every other page reads
 * the APIs the other features already serve (/dlq, /v1/audit, the registry, /metrics).
 */
import type { FastifyInstance } from 'fastify'
import type { ServerComponent, ServerContext } from '../server.ts'
import type { Log } from '../log/types.ts'
import { VigilError } from '../errors.ts'
import { openSchemaRegistry, type SchemaServices, type Serde } from '../schema/index.ts'
import { loadConsoleAssets, type Asset } from './assets.ts'
import { logRoutes } from './log-routes.ts'

export interface ConsoleComponentOptions {
  /** Where the built console is (default console/dist); tests point it elsewhere. */
  distDir?: string
}

export function createConsoleComponent (context: ServerContext, options: ConsoleComponentOptions = {}): ServerComponent {
  const { config } = context
  let log: Log | undefined
  let schema: Promise<SchemaServices> | undefined
  const serde = async (): Promise<Serde> => {
    if (log === undefined) throw new Error('the log is not connected')
    // The registry component registers the built-in schemas; this one only reads.
    schema ??= openSchemaRegistry(config, log, { registerBuiltin: false })
    return (await schema).serde
  }

  const plugin = async (app: FastifyInstance): Promise<void> => {
    const assets = await loadConsoleAssets(options.distDir)
    const send = (name: string): Asset => {
      if (assets === null) throw new VigilError('VGL_CONSOLE_NOT_BUILT', 'the console was not built (console/dist/index.html is missing)')
      const asset = assets.get(name)
      if (asset === undefined) throw new VigilError('VGL_HTTP_NOT_FOUND', `no console file ${name}`)
      return asset
    }
    const hidden = { hide: true }
    // Names are not hashed, so every file is revalidated (no-cache): an upgraded server is never
    // paired with yesterday's bundle.

    app.get('/', { config: { access: 'public' }, schema: hidden }, async (_request, reply) => reply.redirect('/console/'))
    app.get('/console', { config: { access: 'public' }, schema: hidden }, async (_request, reply) => reply.redirect('/console/'))
    app.get('/console/', { config: { access: 'public' }, schema: hidden }, async (_request, reply) => {
      const asset = send('index.html')
      return reply.type(asset.contentType).header('cache-control', 'no-cache').send(asset.body)
    })
    app.get<{ Params: { file: string } }>('/console/:file', { config: { access: 'public' }, schema: hidden }, async (request, reply) => {
      const asset = send(request.params.file)
      return reply.type(asset.contentType).header('cache-control', 'no-cache').send(asset.body)
    })

    app.get('/v1/console/config', {
      config: { access: 'viewer' },
      schema: { tags: ['console'], summary: 'What the console needs to know of this server: where its own schema registry is mounted (null when external).' }
    }, async () => ({ registryPrefix: config.schemaRegistry.url === '' ? config.schemaRegistry.pathPrefix : null }))

    await logRoutes(app, { log: () => log, serde })
  }

  return {
    name: 'console',
    routes: { plugin: plugin as never },
    async start (connected: Log) {
      log = connected
    },
    async stop () {
      log = undefined
      const opened = schema
      schema = undefined
      if (opened !== undefined) await (await opened).close()
    }
  }
}
