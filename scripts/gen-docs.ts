// Writes docs/config.md and docs/errors.md from their single sources.
import { writeFileSync } from 'node:fs'
import { renderConfigDoc, renderErrorsDoc } from '../src/docs.ts'

writeFileSync(new URL('../docs/config.md', import.meta.url), renderConfigDoc())
writeFileSync(new URL('../docs/errors.md', import.meta.url), renderErrorsDoc())
console.log('wrote docs/config.md and docs/errors.md')
