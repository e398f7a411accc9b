/**
 * HTTPS for `vigil serve`: the certificate and key from server.tls, optionally client
 * certificates (mutual TLS) checked against server.tls.caFile. The files are watched and a
 * changed certificate is put in force without a restart (new connections use it); a change that
 * does not load keeps the previous one and is logged.
 */
import { readFileSync, watch, type FSWatcher } from 'node:fs'
import { basename, dirname } from 'node:path'
import { createSecureContext, type SecureContextOptions } from 'node:tls'
import type { Server as HttpsServer, ServerOptions } from 'node:https'
import type { VigilConfig } from '../config/schema.ts'
import { VigilError } from '../errors.ts'
import type { Logger } from '../logger.ts'

type TlsConfig = VigilConfig['server']['tls']

export function tlsEnabled (tls: TlsConfig): boolean {
  return tls.certFile !== '' || tls.keyFile !== ''
}

function readPem (file: string, key: string): Buffer {
  try {
    return readFileSync(file)
  } catch (cause) {
    throw new VigilError('VGL_ACCESS_TLS_INVALID', `${key} ${file} cannot be read: ${(cause as Error).message}`, { key, file, cause })
  }
}

/** The secure-context part of the options; throws VGL_ACCESS_TLS_INVALID naming the file. */
export function secureContextOptions (tls: TlsConfig): SecureContextOptions {
  if (tls.certFile === '' || tls.keyFile === '') {
    throw new VigilError('VGL_ACCESS_TLS_INVALID', 'server.tls needs both certFile and keyFile', { key: tls.certFile === '' ? 'server.tls.certFile' : 'server.tls.keyFile' })
  }
  if (tls.clientCertificates !== 'none' && tls.caFile === '') {
    throw new VigilError('VGL_ACCESS_TLS_INVALID', `server.tls.clientCertificates is ${tls.clientCertificates}: server.tls.caFile must name the CA that signs client certificates`, { key: 'server.tls.caFile' })
  }
  const options: SecureContextOptions = {
    cert: readPem(tls.certFile, 'server.tls.certFile'),
    key: readPem(tls.keyFile, 'server.tls.keyFile'),
    ...(tls.caFile === '' ? {} : { ca: readPem(tls.caFile, 'server.tls.caFile') })
  }
  try {
    createSecureContext(options)
  } catch (cause) {
    throw new VigilError('VGL_ACCESS_TLS_INVALID', `server.tls: the certificate, key or CA does not load: ${(cause as Error).message}`, { key: 'server.tls', cause })
  }
  return options
}

/** Options for Fastify's `https`. */
export function httpsOptions (tls: TlsConfig): ServerOptions {
  return {
    ...secureContextOptions(tls),
    requestCert: tls.clientCertificates !== 'none',
    // require-for-agents lets the handshake through and the gate refuses agent routes without a verified certificate.
    rejectUnauthorized: tls.clientCertificates === 'require',
    minVersion: 'TLSv1.2'
  }
}

/** Watches the certificate, key and CA files and reloads them into the server; returns the stop function. */
export function watchCertificates (server: HttpsServer, tls: TlsConfig, logger: Logger): () => void {
  const files = [tls.certFile, tls.keyFile, tls.caFile].filter(f => f !== '')
  const watchers: FSWatcher[] = []
  let timer: NodeJS.Timeout | undefined
  const reload = (): void => {
    try {
      server.setSecureContext(secureContextOptions(tls))
      logger.info({ certFile: tls.certFile }, 'TLS certificate reloaded')
    } catch (error) {
      logger.error({ code: (error as VigilError).code }, `TLS certificate not reloaded, the previous one stays: ${(error as Error).message}`)
    }
  }
  for (const dir of new Set(files.map(f => dirname(f)))) {
    const names = new Set(files.filter(f => dirname(f) === dir).map(f => basename(f)))
    const watcher = watch(dir, { persistent: false }, (_event, name) => {
      if (name !== null && !names.has(name)) return
      // A certificate and its key are replaced one after the other: load once both are there.
      clearTimeout(timer)
      timer = setTimeout(reload, 200)
    })
    watcher.on('error', () => {})
    watchers.push(watcher)
  }
  return () => {
    clearTimeout(timer)
    for (const w of watchers) w.close()
  }
}
