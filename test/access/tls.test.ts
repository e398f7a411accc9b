/**
 * HTTPS and mutual TLS against real clients (Node's fetch through undici, and curl): the server
 * is verified with a private CA, a wrong CA and an expired certificate are refused, agent routes
 * need a client certificate (require-for-agents) or every connection does (require), a renewed
 * certificate is used without a restart, and the audit client posts over HTTPS with its CA.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'node:tls'
import { Agent } from 'undici'
import { createAuditClient } from '../../src/audit/client.ts'
import { agentNode, nodeRoute, startAccessServer, waitFor } from './helpers.ts'

const dir = mkdtempSync(join(tmpdir(), 'vigil-tls-'))
const pem = (name: string): string => join(dir, name)

function openssl (...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
}

/** A CA, and a certificate signed by it for 127.0.0.1 (days < 0: already expired). */
function makeCa (name: string): void {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`)
}
function makeCert (name: string, ca: string, days: number, usage: 'server' | 'client'): void {
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`)
  writeFileSync(pem(`${name}.ext`), usage === 'server' ? 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' : 'extendedKeyUsage=clientAuth\n')
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', String(days), '-extfile', `${name}.ext`)
}

after(() => rmSync(dir, { recursive: true, force: true }))

before(() => {
  makeCa('ca')
  makeCa('other-ca')
  makeCert('server', 'ca', 2, 'server')
  makeCert('server-renewed', 'ca', 2, 'server')
  makeCert('server-expired', 'ca', -1, 'server')
  makeCert('agent', 'ca', 2, 'client')
  makeCert('agent-expired', 'ca', -1, 'client')
  makeCert('intruder', 'other-ca', 2, 'client')
})

function curl (...args: string[]): Promise<{ code: number, out: string }> {
  return new Promise(resolve => {
    execFile('curl', ['-sS', '--max-time', '10', ...args], (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : (error as { code?: number }).code ?? -1, out: stdout + stderr })
    })
  })
}

function tlsServer (clientCertificates: 'none' | 'require-for-agents' | 'require', cert = 'server'): Record<string, unknown> {
  copyFileSync(pem(`${cert}.pem`), pem(`live-${cert}.pem`))
  copyFileSync(pem(`${cert}.key`), pem(`live-${cert}.key`))
  return { tls: { certFile: pem(`live-${cert}.pem`), keyFile: pem(`live-${cert}.key`), caFile: clientCertificates === 'none' ? '' : pem('ca.pem'), clientCertificates } }
}

const trusting = (extra: { cert?: Buffer, key?: Buffer } = {}): Agent => new Agent({ connect: { ca: readFileSync(pem('ca.pem')), ...extra } })

test('HTTPS: fetch and curl verify the server with the CA; a wrong CA and an expired certificate are refused', async (t) => {
  const s = await startAccessServer(t, { server: tlsServer('none') })
  assert.match(s.url, /^https:\/\//)
  const ok = await s.call('GET', '/v1/audit/status', { token: s.tokens.viewer, dispatcher: trusting() })
  assert.equal(ok.status, 200)
  await assert.rejects(fetch(`${s.url}/healthz`), 'the system CAs do not know a private CA')
  await assert.rejects(fetch(`${s.url}/healthz`, { dispatcher: new Agent({ connect: { ca: readFileSync(pem('other-ca.pem')) } }) } as RequestInit))
  assert.equal((await curl('--cacert', pem('ca.pem'), `${s.url}/healthz`)).code, 0)
  assert.equal((await curl('--cacert', pem('other-ca.pem'), `${s.url}/healthz`)).code, 60, 'curl: peer certificate cannot be authenticated')
  const plain = await curl(`${s.url.replace('https', 'http')}/healthz`)
  assert.notEqual(plain.code, 0, 'plain HTTP on the TLS port gets nothing')

  const expired = await startAccessServer(t, { server: tlsServer('none', 'server-expired') })
  const refused = await curl('--cacert', pem('ca.pem'), `${expired.url}/healthz`)
  assert.equal(refused.code, 60)
  assert.match(refused.out, /expired/i)
  await assert.rejects(fetch(`${expired.url}/healthz`, { dispatcher: trusting() } as RequestInit), (error: Error) => /expired/i.test(String((error.cause as Error | undefined)?.message ?? error.message)))
})

test('mTLS for agents: an agent route needs a client certificate from the CA; other routes do not', async (t) => {
  const s = await startAccessServer(t, { server: tlsServer('require-for-agents'), components: [nodeRoute] })
  const agentHeaders = ['-H', `authorization: Bearer ${s.tokens.agent}`, '-H', 'content-type: application/json', '-d', JSON.stringify({ node_id: agentNode })]
  const without = await curl('--cacert', pem('ca.pem'), ...agentHeaders, `${s.url}/test/agent/ping`)
  assert.match(without.out, /VGL_ACCESS_CLIENT_CERTIFICATE_REQUIRED/)
  const withCert = await curl('--cacert', pem('ca.pem'), '--cert', pem('agent.pem'), '--key', pem('agent.key'), ...agentHeaders, `${s.url}/test/agent/ping`)
  assert.equal(withCert.code, 0)
  assert.deepEqual(JSON.parse(withCert.out), { status: 'ok' })
  const intruder = await curl('--cacert', pem('ca.pem'), '--cert', pem('intruder.pem'), '--key', pem('intruder.key'), ...agentHeaders, `${s.url}/test/agent/ping`)
  assert.match(intruder.out, /VGL_ACCESS_CLIENT_CERTIFICATE_REQUIRED/, 'a certificate from another CA is not verified')
  const expired = await curl('--cacert', pem('ca.pem'), '--cert', pem('agent-expired.pem'), '--key', pem('agent-expired.key'), ...agentHeaders, `${s.url}/test/agent/ping`)
  assert.match(expired.out, /VGL_ACCESS_CLIENT_CERTIFICATE_REQUIRED/, 'an expired client certificate is not verified')

  const fetched = await s.call('POST', '/test/agent/ping', { token: s.tokens.agent, body: { node_id: agentNode }, dispatcher: trusting({ cert: readFileSync(pem('agent.pem')), key: readFileSync(pem('agent.key')) }) })
  assert.equal(fetched.status, 200)
  assert.equal((await s.call('GET', '/v1/audit/status', { token: s.tokens.viewer, dispatcher: trusting() })).status, 200, 'a viewer needs no certificate')
})

test('mTLS required: the handshake fails without a client certificate', async (t) => {
  const s = await startAccessServer(t, { server: tlsServer('require') })
  const without = await curl('--cacert', pem('ca.pem'), `${s.url}/healthz`)
  assert.notEqual(without.code, 0)
  const intruder = await curl('--cacert', pem('ca.pem'), '--cert', pem('intruder.pem'), '--key', pem('intruder.key'), `${s.url}/healthz`)
  assert.notEqual(intruder.code, 0)
  const withCert = await curl('--cacert', pem('ca.pem'), '--cert', pem('agent.pem'), '--key', pem('agent.key'), `${s.url}/healthz`)
  assert.equal(withCert.code, 0, withCert.out)
})

function servedCertificateSerial (url: string): Promise<string> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), ca: readFileSync(pem('ca.pem')) }, () => {
      resolve(socket.getPeerCertificate().serialNumber)
      socket.end()
    })
    socket.on('error', reject)
  })
}

test('a renewed certificate is served without a restart; a broken one keeps the previous', async (t) => {
  const config = tlsServer('none')
  const s = await startAccessServer(t, { server: config })
  const live = config.tls as { certFile: string, keyFile: string }
  const first = await servedCertificateSerial(s.url)
  writeFileSync(live.certFile, 'not a certificate')
  await new Promise(resolve => setTimeout(resolve, 600))
  assert.equal(await servedCertificateSerial(s.url), first, 'a broken file keeps the previous certificate')
  assert.ok(s.logs.some(line => line.includes('TLS certificate not reloaded')))
  copyFileSync(pem('server-renewed.key'), live.keyFile)
  copyFileSync(pem('server-renewed.pem'), live.certFile)
  const renewed = await waitFor(async () => { const serial = await servedCertificateSerial(s.url); return serial !== first ? serial : undefined }, 10_000, 'the renewed certificate')
  assert.notEqual(renewed, first)
})

test('the audit client posts over HTTPS, verifying the server with its CA', async (t) => {
  const s = await startAccessServer(t, { server: tlsServer('none') })
  const client = createAuditClient({ url: s.url, ca: readFileSync(pem('ca.pem')), headers: { authorization: `Bearer ${s.tokens.producer}` }, warn: () => {} })
  client.record({ type: 'auth', action: 'login', outcome: 'allow' })
  await client.close()
  assert.equal(client.stats.sent, 1)
  const untrusting = createAuditClient({ url: s.url, headers: { authorization: `Bearer ${s.tokens.producer}` }, warn: () => {} })
  untrusting.record({ type: 'auth' })
  await untrusting.close()
  assert.equal(untrusting.stats.sent, 0)
  assert.equal(untrusting.stats.failedRequests, 1)
})
