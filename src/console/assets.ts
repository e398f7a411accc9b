/**
 * The console's static files, built by scripts/build-console.ts into console/dist. They hold no
 * data (every figure comes from the API with the signed-in token), so they are public. Read once
 * and kept in memory: the bundle is small and this keeps each request a map look-up.
 */
import { readFile, readdir } from 'node:fs/promises'
import { join, extname } from 'node:path'
import { fileURLToPath } from 'node:url'

export const consoleDistDir = fileURLToPath(new URL('../../console/dist/', import.meta.url))

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json'
}

export interface Asset {
  readonly body: Buffer
  readonly contentType: string
}

/** Every file of the built console by its path under /console/ (e.g. `app.js`); null when it was not built. */
export async function loadConsoleAssets (dir: string = consoleDistDir): Promise<Map<string, Asset> | null> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return null
  }
  if (!names.includes('index.html')) return null
  const assets = new Map<string, Asset>()
  for (const name of names) {
    const type = contentTypes[extname(name)]
    if (type === undefined) continue
    assets.set(name, { body: await readFile(join(dir, name)), contentType: type })
  }
  return assets
}
