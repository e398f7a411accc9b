#!/usr/bin/env node
// Vigil runs its TypeScript sources directly (Node 24 type stripping).
const [major] = process.versions.node.split('.').map(Number)
if (major < 24) {
  process.stderr.write(`error VGL_CLI_NODE_VERSION: Vigil needs Node.js 24 or later, this is ${process.version}.\n` +
    '  hint: run it through npm (npm run vigil -- <command>), which uses the Node 24 installed by npm ci, or install Node 24.\n')
  process.exit(1)
}
const { runCli } = await import('../src/cli/main.ts')
const code = await runCli(process.argv.slice(2))
if (code !== 0 || process.argv[2] !== 'serve') process.exitCode = code
