/**
 * Serde benchmark: the event envelope (schemas/vigil/event-envelope.avsc) encoded and decoded
 * through Vigil's serde (Confluent framing, schema cache by id, logical types, coded errors)
 * against bare avsc (Type.toBuffer / Type.fromBuffer, no framing) in the same run.
 *
 *   npm run bench:serde            # or: node bench/serde.bench.ts [--records 200000] [--rounds 7]
 *
 * Targets: encode ≥ 400k rec/s, decode ≥ 800k rec/s, each within 20% of bare avsc.
 * Prints one table and exits 1 when a target is missed.
 */
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { parseArgs } from 'node:util'
import avro from 'avsc'
import { createSerde } from '../src/schema/serde.ts'
import type { SerdeRegistry } from '../src/schema/serde.ts'

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '7' },
    batch: { type: 'string', default: '1000' }
  }
})
const records = Number(args.records)
const rounds = Number(args.rounds)
const batchSize = Number(args.batch)

const schemaText = readFileSync(new URL('../schemas/vigil/event-envelope.avsc', import.meta.url), 'utf8')
const schemaId = 1
const subject = 'observation-value'

const registry: SerdeRegistry = {
  async getSchemaById () { return { schema: schemaText, schemaType: 'AVRO' } },
  async getVersion () { return { subject, version: 1, id: schemaId, schema: schemaText, schemaType: 'AVRO' } }
}

const eventTypes = ['update_applied_control_status', 'update_requirement_assessment_status', 'attach_evidence_to_applied_control']
const now = Date.now()
const values = Array.from({ length: records }, (_, i) => ({
  event_id: randomUUID(),
  event_type: eventTypes[i % 3] as string,
  version: 1,
  occurred_at: now + i,
  source: 'ciso-assistant-connector',
  payload: `{"selector":{"ref_id":"AC-${i}"},"values":{"status":"active"}}`
}))

const bare = avro.Type.forSchema(JSON.parse(schemaText))
const serde = createSerde({ registry, resolveSubjects: false })
const encoder = await serde.encoderFor(subject)

const bareBuffers = values.map(v => bare.toBuffer(v))
const framed = values.map(v => encoder.encode(v))
const batches: Buffer[][] = []
for (let i = 0; i < framed.length; i += batchSize) batches.push(framed.slice(i, i + batchSize))

// Sanity: what Vigil encodes is bare avsc's body behind the 5-byte header, and decodes back.
if (!framed[0]?.subarray(5).equals(bareBuffers[0] as Buffer)) throw new Error('serde body differs from bare avsc')
const check = await serde.decode(framed[0] as Buffer)
if ((check.value as { event_id: string }).event_id !== values[0]?.event_id) throw new Error('round trip failed')

let sink = 0
const bareBatches: Buffer[][] = []
const valueBatches: Array<typeof values> = []
for (let i = 0; i < records; i += batchSize) {
  bareBatches.push(bareBuffers.slice(i, i + batchSize))
  valueBatches.push(values.slice(i, i + batchSize))
}

// Each pair (bare, serde) runs batch by batch, alternating which goes first, so both sides see
// the same machine load (CI machines are shared); times are summed per side and round.
type Side = 'bare' | 'serde'
async function pairRound (run: (side: Side, i: number) => void | Promise<void>): Promise<Record<Side, number>> {
  const elapsed: Record<Side, bigint> = { bare: 0n, serde: 0n }
  for (let i = 0; i < batches.length; i++) {
    const order: Side[] = i % 2 === 0 ? ['bare', 'serde'] : ['serde', 'bare']
    for (const side of order) {
      const start = process.hrtime.bigint()
      await run(side, i)
      elapsed[side] += process.hrtime.bigint() - start
    }
  }
  return { bare: records / (Number(elapsed.bare) / 1e9), serde: records / (Number(elapsed.serde) / 1e9) }
}

const encodeBatch = (side: Side, i: number): void => {
  const batch = valueBatches[i] as typeof values
  if (side === 'bare') for (const v of batch) sink += bare.toBuffer(v).length
  else for (const v of batch) sink += encoder.encode(v).length
}
const decodeBatch = async (side: Side, i: number): Promise<void> => {
  if (side === 'bare') {
    for (const b of bareBatches[i] as Buffer[]) sink += (bare.fromBuffer(b) as { version: number }).version
  } else {
    sink += (await serde.decodeMany(batches[i] as Buffer[])).length
  }
}

const runs: Record<'bareEncode' | 'serdeEncode' | 'bareDecode' | 'serdeDecode', number[]> = { bareEncode: [], serdeEncode: [], bareDecode: [], serdeDecode: [] }
await pairRound(encodeBatch) // warm-up
await pairRound(decodeBatch)
for (let round = 0; round < rounds; round++) {
  const e = await pairRound(encodeBatch)
  runs.bareEncode.push(e.bare)
  runs.serdeEncode.push(e.serde)
  const d = await pairRound(decodeBatch)
  runs.bareDecode.push(d.bare)
  runs.serdeDecode.push(d.serde)
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}
const m = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v)])) as Record<keyof typeof runs, number>
const encodeRatio = m.serdeEncode / m.bareEncode
const decodeRatio = m.serdeDecode / m.bareDecode
const fmt = (n: number): string => `${Math.round(n / 1000).toLocaleString('en-US')}k`

const results = [
  { what: 'encode', serde: m.serdeEncode, bare: m.bareEncode, ratio: encodeRatio, target: 400_000 },
  { what: 'decode', serde: m.serdeDecode, bare: m.bareDecode, ratio: decodeRatio, target: 800_000 }
]
console.log(`serde benchmark: event envelope, ${records.toLocaleString('en-US')} records, median of ${rounds} rounds, bare and serde interleaved in batches of ${batchSize}`)
console.log(`node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, avsc ${avroVersion()}, record ${(framed[0] as Buffer).length} bytes framed`)
console.log('')
console.log('| operation | Vigil serde (rec/s) | bare avsc (rec/s) | serde / bare | target | verdict |')
console.log('|---|---|---|---|---|---|')
let failed = false
for (const r of results) {
  const ok = r.serde >= r.target && r.ratio >= 0.8
  if (!ok) failed = true
  console.log(`| ${r.what} | ${fmt(r.serde)} | ${fmt(r.bare)} | ${(r.ratio * 100).toFixed(0)}% | ≥ ${fmt(r.target)}, ≥ 80% | ${ok ? 'pass' : 'FAIL'} |`)
}
if (sink === 0) console.log('')
process.exitCode = failed ? 1 : 0

function avroVersion (): string {
  try {
    return (JSON.parse(readFileSync(new URL('../node_modules/avsc/package.json', import.meta.url), 'utf8')) as { version: string }).version
  } catch {
    return '?'
  }
}
