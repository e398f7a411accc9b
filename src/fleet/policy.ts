/**
 * The per-profile command policy (fleet.policy): which commands each os_profile may be sent and
 * the JSON Schema of each command's arguments; "*" applies to profiles not named. The schemas
 * are compiled once at start, so a bad one stops the server naming it.
 */
import { Ajv, type ValidateFunction } from 'ajv'
import { VigilError } from '../errors.ts'

export type PolicyConfig = Readonly<Record<string, { commands: Record<string, { args: Record<string, unknown> }> }>>

export type PolicyCheck = { ok: true } | { ok: false, field: 'command' | 'args', message: string }

export class CommandPolicy {
  readonly config: PolicyConfig
  readonly #validators = new Map<string, Map<string, ValidateFunction>>()

  constructor (config: PolicyConfig) {
    this.config = config
    const ajv = new Ajv({ allErrors: false, strict: false })
    for (const [profile, { commands }] of Object.entries(config)) {
      const byName = new Map<string, ValidateFunction>()
      for (const [name, { args }] of Object.entries(commands)) {
        try {
          byName.set(name, ajv.compile(args))
        } catch (cause) {
          throw new VigilError('VGL_CONFIG_INVALID', `fleet.policy.${profile}.commands.${name}.args is not a valid JSON Schema: ${(cause as Error).message}`, { key: `fleet.policy.${profile}.commands.${name}.args`, cause })
        }
      }
      this.#validators.set(profile, byName)
    }
  }

  check (profile: string, command: string, args: unknown): PolicyCheck {
    const commands = this.#validators.get(profile) ?? this.#validators.get('*')
    const validate = commands?.get(command)
    if (validate === undefined) return { ok: false, field: 'command', message: `command ${command} is not allowed for os_profile ${profile}` }
    if (!validate(args)) {
      const e = validate.errors?.[0]
      return { ok: false, field: 'args', message: `args${e?.instancePath.replaceAll('/', '.') ?? ''} ${e?.message ?? 'invalid'} (command ${command}, os_profile ${profile})` }
    }
    return { ok: true }
  }
}
