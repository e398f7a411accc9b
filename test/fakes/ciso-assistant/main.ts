/**
 * The fake CISO Assistant API as a process of its own (for benchmarks, so that the "backend"
 * does not share the connector's event loop, and for trying `vigil dispatcher` by hand):
 *
 *   node test/fakes/ciso-assistant/main.ts [--latency-ms 5] [--controls 400] [--port 0]
 *
 * Prints one JSON line {"url","token","controls"} once listening, and exits when stdin closes
 * (so it dies with the process that started it) or on SIGTERM.
 */
import { parseArgs } from 'node:util'
import { FakeCisoAssistant } from './server.ts'

const { values } = parseArgs({
  options: {
    'latency-ms': { type: 'string', default: '0' },
    controls: { type: 'string', default: '0' },
    token: { type: 'string' }
  }
})

const fake = new FakeCisoAssistant({ latencyMs: Number(values['latency-ms']), ...(values.token === undefined ? {} : { token: values.token }) })
fake.recordBodies = false
const controls = Number(values.controls)
for (let k = 0; k < controls; k++) fake.addAppliedControl({ name: `control ${k}`, ref_id: `AC-${k}` })
await fake.start()
// Requests and mutations are not needed by a process nobody inspects: keep memory flat.
setInterval(() => {
  fake.requests.length = 0
  fake.mutations.length = 0
}, 1000).unref()
process.stdout.write(JSON.stringify({ url: fake.url, token: fake.token, controls }) + '\n')
const stop = () => { fake.close().then(() => process.exit(0), () => process.exit(1)) }
process.stdin.on('end', stop)
process.stdin.on('close', stop)
process.stdin.resume()
process.once('SIGTERM', stop)
