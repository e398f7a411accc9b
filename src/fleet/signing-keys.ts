/**
 * The server's command signing keys: from config (PEM text) or key files of mode 0600, the first
 * one created when missing. The first key signs; all are published (GET /api/fleet/public-keys,
 * `vigil fleet public-key`) so agents can pin the next key before it signs. Private keys are
 * never logged nor exported.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { VigilError } from '../errors.ts'
import { keyIdOf } from './signed-command.ts'

export interface SigningKey {
  keyId: string
  privateKey: KeyObject
  publicKey: KeyObject
  publicKeyPem: string
}

export interface SigningKeys {
  /** The key that signs new commands. */
  active: SigningKey
  all: SigningKey[]
}

export function loadSigningKeys (config: { privateKeys: readonly string[], keyFiles: readonly string[] }): SigningKeys {
  const keys: SigningKey[] = config.privateKeys.length > 0
    ? config.privateKeys.map((pem, i) => parseKey(pem, `fleet.signing.privateKeys[${i}]`))
    : config.keyFiles.map((file, i) => parseKey(readKeyFile(file, i === 0), file))
  if (keys.length === 0) throw new VigilError('VGL_FLEET_SIGNING_KEY_INVALID', 'no command signing key: fleet.signing.privateKeys and fleet.signing.keyFiles are both empty', { key: 'fleet.signing.keyFiles' })
  return { active: keys[0]!, all: keys }
}

function readKeyFile (file: string, createWhenMissing: boolean): string {
  if (!existsSync(file)) {
    if (!createWhenMissing) throw new VigilError('VGL_FLEET_SIGNING_KEY_INVALID', `command signing key file ${file} does not exist`, { file })
    const { privateKey } = generateKeyPairSync('ed25519')
    mkdirSync(dirname(file), { recursive: true })
    writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' })
  }
  const mode = statSync(file).mode & 0o777
  if ((mode & 0o077) !== 0) {
    throw new VigilError('VGL_FLEET_SIGNING_KEY_INVALID', `command signing key file ${file} has mode ${mode.toString(8)}: group or others can read it`, { file, hint: `chmod 600 ${file}` })
  }
  return readFileSync(file, 'utf8')
}

function parseKey (pem: string, where: string): SigningKey {
  let privateKey: KeyObject
  try {
    privateKey = createPrivateKey(pem)
  } catch (cause) {
    throw new VigilError('VGL_FLEET_SIGNING_KEY_INVALID', `the command signing key (${where}) is not a PEM private key`, { cause, file: where })
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new VigilError('VGL_FLEET_SIGNING_KEY_INVALID', `the command signing key (${where}) is ${privateKey.asymmetricKeyType ?? 'unknown'}, not ed25519`, { file: where })
  }
  const publicKey = createPublicKey(privateKey)
  return { keyId: keyIdOf(publicKey), privateKey, publicKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() }
}
