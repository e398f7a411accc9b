/**
 * What the embedded log's SQLite page size costs in write volume: the records table of the log's
 * own schema, filled as the audit service fills it (commits of 500 records, three partitions in
 * turn, synchronous = FULL, no automatic checkpoint), for each page size and record size. Prints
 * the WAL written per byte of record values (a commit writes whole pages, so a partly filled page
 * is written again by every commit that adds to it), records/s, and the time of the checkpoint
 * that then copies the pages into the database file.
 *
 *   npm run bench:pages                     450 B and 1 KiB records, 200,000 of each
 *   npm run bench:pages -- --records 50000 --sizes 450,4096
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { parseArgs } from 'node:util'
import { schemaSql } from '../src/log/embedded/schema.ts'

const { values: args } = parseArgs({ options: { records: { type: 'string', default: '200000' }, sizes: { type: 'string', default: '450,1024' } } })
const total = Number(args.records)
const perCommit = 500
const partitions = 3

for (const size of args.sizes.split(',').map(Number)) {
  for (const pageSize of [16_384, 32_768, 65_536]) {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-pages-'))
    const path = join(dir, 'log.db')
    const db = new DatabaseSync(path)
    db.exec(`PRAGMA page_size = ${pageSize}; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 0`)
    db.exec(schemaSql)
    const insert = db.prepare('INSERT INTO records (tp, off, ts, key, value, headers) VALUES (?, ?, ?, NULL, ?, NULL)')
    const value = Buffer.alloc(size, 97)
    const next = new Array(partitions).fill(0) as number[]
    const started = performance.now()
    for (let commit = 0; commit * perCommit < total; commit++) {
      const tp = commit % partitions
      db.exec('BEGIN IMMEDIATE')
      for (let i = 0; i < perCommit; i++) insert.run(tp, next[tp]!++, Date.now(), value)
      db.exec('COMMIT')
    }
    const seconds = (performance.now() - started) / 1000
    const walBytes = statSync(`${path}-wal`).size
    const checkpointStarted = performance.now()
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)')
    const checkpointMs = performance.now() - checkpointStarted
    db.close()
    rmSync(dir, { recursive: true, force: true })
    console.log(`pages   ${pageSize / 1024} KiB, ${size} B records × ${total.toLocaleString('en-US')} in commits of ${perCommit}: WAL ${(walBytes / (size * total)).toFixed(2)} bytes per value byte, ${Math.round(total / seconds).toLocaleString('en-US')} records/s, checkpoint of ${(walBytes / 1e6).toFixed(0)} MB ${checkpointMs.toFixed(0)} ms`)
  }
}
