/**
 * The table of attacks on signed commands, each refused by the agent's verifier with its
 * reason: a forged signature, an unknown key id, a command for another node, a replayed nonce
 * (also across an agent restart, the nonce store being on disk), an expired command, a command
 * outside the allow-list, bad arguments and a field tampered with after signing.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { CommandVerifier, type RefusalReason } from '../../src/fleet/command-verifier.ts'
import { NonceStore } from '../../src/fleet/nonce-store.ts'
import { keyIdOf, signCommand, type SignedCommand, type UnsignedCommand } from '../../src/fleet/signed-command.ts'
import { tempDir } from './helpers.ts'

const server = generateKeyPairSync('ed25519')
const attacker = generateKeyPairSync('ed25519')
const keyId = keyIdOf(server.publicKey)
const nodeId = randomUUID()
const allowList = {
  'restart-service': { args: { type: 'object', properties: { service: { type: 'string', pattern: '^[a-z-]+$' } }, required: ['service'], additionalProperties: false } }
}

function command (fields: Partial<UnsignedCommand> = {}): UnsignedCommand {
  const now = Date.now()
  return {
    node_id: nodeId,
    command: 'restart-service',
    args: { service: 'cloudflared' },
    nonce: randomBytes(16).toString('hex'),
    issued_at: new Date(now).toISOString(),
    expires_at: new Date(now + 300_000).toISOString(),
    key_id: keyId,
    ...fields
  }
}
const signed = (fields: Partial<UnsignedCommand> = {}): SignedCommand => signCommand(command(fields), server.privateKey)

test('the attack table: every attack is refused with its reason; a genuine command runs once', async (t) => {
  const dir = await tempDir(t)
  const nonceFile = join(dir, 'nonces')
  const verifier = (): CommandVerifier => new CommandVerifier({ nodeId, publicKeys: new Map([[keyId, server.publicKey]]), allowList, nonces: new NonceStore(nonceFile) })
  const agent = verifier()

  const genuine = signed()
  assert.deepEqual(agent.verify(genuine), { ok: true, command: genuine })

  const forged = { ...command(), signature: signCommand(command(), attacker.privateKey).signature }
  const attacks: Array<[name: string, input: unknown, reason: RefusalReason]> = [
    ['a forged signature (another key, the server\'s key id)', forged, 'bad_signature'],
    ['a signature of other bytes', { ...signed(), signature: randomBytes(64).toString('base64') }, 'bad_signature'],
    ['an unknown key id', signCommand(command({ key_id: keyIdOf(attacker.publicKey) }), attacker.privateKey), 'unknown_key'],
    ['a command for another node', signed({ node_id: randomUUID() }), 'wrong_node'],
    ['a replayed nonce', genuine, 'replayed_nonce'],
    ['an expired command', signed({ issued_at: new Date(Date.now() - 600_000).toISOString(), expires_at: new Date(Date.now() - 1000).toISOString() }), 'expired'],
    ['a command issued in the future', signed({ issued_at: new Date(Date.now() + 3600_000).toISOString(), expires_at: new Date(Date.now() + 7200_000).toISOString() }), 'not_yet_valid'],
    ['a command outside the allow-list', signed({ command: 'rm-rf' }), 'not_allowed'],
    ['bad arguments (wrong pattern)', signed({ args: { service: '; reboot' } }), 'bad_args'],
    ['bad arguments (extra argument)', signed({ args: { service: 'sshd', force: true } }), 'bad_args'],
    ['a tampered command after signing', { ...signed({ command: 'restart-service' }), args: { service: 'sshd' } }, 'bad_signature'],
    ['a tampered expiry after signing', { ...signed(), expires_at: new Date(Date.now() + 86400_000 * 365).toISOString() }, 'bad_signature'],
    ['a field added after signing', { ...signed(), sudo: true }, 'bad_signature'],
    ['no signature', { ...command() }, 'malformed'],
    ['a short nonce', signed({ nonce: 'abcd' }), 'malformed'],
    ['not an object', 'restart-service', 'malformed']
  ]
  for (const [name, input, reason] of attacks) {
    const verdict = agent.verify(input)
    assert.equal(verdict.ok, false, name)
    assert.equal(!verdict.ok && verdict.reason, reason, `${name}: ${JSON.stringify(verdict)}`)
  }

  // The refused forgeries burnt no nonce: the genuine command with a fresh nonce still runs.
  const fresh = signed()
  assert.equal(agent.verify(fresh).ok, true)

  // A restart (a new verifier on the same nonce file) does not reopen the replay.
  const restarted = verifier()
  for (const replay of [genuine, fresh]) {
    const verdict = restarted.verify(replay)
    assert.equal(!verdict.ok && verdict.reason, 'replayed_nonce')
  }
  assert.equal(restarted.verify(signed()).ok, true)
})
