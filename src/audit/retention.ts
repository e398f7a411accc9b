/**
 * Local retention, as CAIPE runs it (at start and every hour): files whose name time (the newest
 * record's ts) is older than now minus retentionDays are deleted, then empty day directories.
 * Vigil first records each deleted file's manifest in a ledger (`_vigil/expired/<topic>/…`), so
 * that `verify` can tell records removed by retention from records removed by someone else.
 */
import { readdir, rmdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { LocalStore } from './local-store.ts'

export async function runLocalRetention (store: LocalStore, topic: string, retentionDays: number, nowMs: number): Promise<number> {
  const cutoff = nowMs - retentionDays * 86_400_000
  let deleted = 0
  for (const file of await store.listAllFiles()) {
    if (file.nameTimeMs >= cutoff) continue
    const manifest = await store.readManifest(file)
    if (manifest !== null) {
      await store.writeDoc(`expired/${topic}/${manifest.partition}/${file.name.replaceAll('/', '_')}.json`, { ...manifest, file: file.name, expired_at: new Date(nowMs).toISOString() })
    }
    await store.deleteFile(file.name)
    deleted++
  }
  if (deleted > 0) await removeEmptyDirs(store.root)
  return deleted
}

async function removeEmptyDirs (root: string): Promise<void> {
  const visit = async (dir: string, depth: number): Promise<boolean> => {
    let entries
    try {
      entries = await readdir(dir, { withFileTypes: true })
    } catch {
      return false
    }
    let empty = true
    for (const entry of entries) {
      if (entry.isDirectory() && depth < 3 && /^\d+$/.test(entry.name)) {
        if (!await visit(join(dir, entry.name), depth + 1)) empty = false
      } else {
        empty = false
      }
    }
    if (empty && depth > 0) {
      await rmdir(dir).catch(() => {})
      return true
    }
    return false
  }
  await visit(root, 0)
}
