/**
 * Generates the reference pages from their single sources: docs/config.md from the config
 * schema, docs/errors.md from the error catalog. `npm run docs:gen` writes them;
 * test/docs.test.ts fails when the committed pages differ from what this generates.
 */
import { configLeaves } from './config/load.ts'
import { errorCatalog } from './error-catalog.ts'

export function renderConfigDoc (): string {
  const rows = configLeaves().map(leaf => {
    const s = leaf.schema as { type?: string, default?: unknown, description?: string, anyOf?: Array<{ const?: unknown }>, minimum?: number, maximum?: number, secret?: boolean }
    const type = s.anyOf !== undefined ? s.anyOf.map(o => JSON.stringify(o.const)).join(' \\| ') : (s.type ?? 'string')
    const range = [s.minimum === undefined ? '' : `≥ ${s.minimum}`, s.maximum === undefined ? '' : `≤ ${s.maximum}`].filter(Boolean).join(', ')
    const def = s.default === undefined ? '—' : `\`${JSON.stringify(s.default)}\``
    return `| \`${leaf.path}\` | \`${leaf.env}\` | ${type}${range === '' ? '' : ` (${range})`} | ${def} | ${(s.description ?? '').replaceAll('|', '\\|')}${s.secret === true ? ' Secret: never logged.' : ''} |`
  })
  return `# Configuration reference

Generated from \`src/config/schema.ts\` by \`npm run docs:gen\`; do not edit by hand.

Vigil reads its configuration from, in increasing precedence: the defaults below, a JSON file
(\`--config <file>\` or \`VIGIL_CONFIG\`), \`VIGIL_*\` environment variables, and command-line
flags (\`--log\`, \`--port\`). Unknown keys, unknown \`VIGIL_*\` variables and values of the wrong
type are refused at start with an error naming the key (\`VGL_CONFIG_INVALID\`).
Environment values are parsed by the key's type: numbers, \`true\`/\`false\`, and JSON text for
lists and objects. \`VIGIL_CONFIG\` (the file) is the only other \`VIGIL_*\` name allowed.

| key | environment | type | default | description |
|---|---|---|---|---|
${rows.join('\n')}
`
}

export function renderErrorsDoc (): string {
  const rows = Object.entries(errorCatalog).sort(([a], [b]) => a.localeCompare(b)).map(([code, spec]) => {
    const s = spec as { summary: string, hint: string, status?: number, retryable?: boolean }
    return `| \`${code}\` | ${s.status ?? 500} | ${s.retryable === true ? 'yes' : 'no'} | ${s.summary} | ${s.hint} |`
  })
  return `# Error reference

Generated from the error catalog (\`src/error-catalog.ts\`) by \`npm run docs:gen\`; do not edit by hand.

Every error Vigil reports carries a stable code from this table. Codes are never reused. The
CLI prints \`error <CODE>: <message>\` followed by the context and a hint; the HTTP API answers
\`{"statusCode", "code", "message", "hint", …context}\` with the status below. Retryable errors may
succeed if the same operation is tried again later.

| code | HTTP status | retryable | when | what to do |
|---|---|---|---|---|
${rows.join('\n')}
`
}
