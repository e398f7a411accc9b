/**
 * Builds the web console (console/src) into console/dist with esbuild: one minified ES module
 * (app.js), one stylesheet (app.css: the console's own plus uPlot's) and index.html. Run by
 * `npm ci` (the prepare script) and by `npm run build:console`. The output depends only on the
 * sources and the locked dependency versions (no timestamps, no absolute paths), so two builds
 * are byte-identical; test/console/build.test.ts checks that.
 */
import { mkdir, readFile, rm, writeFile, copyFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { build } from 'esbuild'

const root = fileURLToPath(new URL('../', import.meta.url))

export async function buildConsole (outDir: string = join(root, 'console/dist')): Promise<void> {
  await rm(outDir, { recursive: true, force: true })
  await mkdir(outDir, { recursive: true })
  await build({
    absWorkingDir: root,
    entryPoints: ['console/src/main.tsx'],
    outfile: join(outDir, 'app.js'),
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning'
  })
  const css = [
    await readFile(join(root, 'node_modules/uplot/dist/uPlot.min.css'), 'utf8'),
    await readFile(join(root, 'console/src/style.css'), 'utf8')
  ].join('\n')
  await writeFile(join(outDir, 'app.css'), css)
  await copyFile(join(root, 'console/index.html'), join(outDir, 'index.html'))
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildConsole(process.argv[2])
  console.log('console built into console/dist')
}
