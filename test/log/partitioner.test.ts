import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { murmur2 as platformaticMurmur2 } from '@platformatic/kafka'
import { murmur2, partitionForKey } from '../../src/log/partitioner.ts'

test('murmur2 matches the vectors of Kafka\'s Java client (UtilsTest)', () => {
  assert.equal(murmur2(Buffer.from('21')), -973932308)
  assert.equal(murmur2(Buffer.from('foobar')), -790332482)
  assert.equal(murmur2(Buffer.from('a-little-bit-long-string')), -985981536)
  assert.equal(murmur2(Buffer.from('a-little-bit-longer-string')), -1486304829)
  assert.equal(murmur2(Buffer.from('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8')), -58897971)
  assert.equal(murmur2(Buffer.from('abc')), 479470107)
})

test('murmur2 agrees with @platformatic/kafka\'s on random keys of every length', () => {
  for (let i = 0; i < 5000; i++) {
    const key = randomBytes(i % 67)
    assert.equal(murmur2(key), platformaticMurmur2(key, false), key.toString('hex'))
  }
})

test('partitionForKey masks the sign bit like the Java client\'s toPositive', () => {
  // murmur2("21") is negative: toPositive gives 1173551340, and 1173551340 % 12 = 0.
  assert.equal(partitionForKey(Buffer.from('21'), 12), 0)
  assert.equal(partitionForKey(Buffer.from('foobar'), 12), 6)
  assert.equal(partitionForKey(Buffer.from(''), 7), (murmur2(Buffer.alloc(0)) & 0x7fffffff) % 7)
})
