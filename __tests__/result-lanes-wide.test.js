'use strict'
// A result's text column past 4 GiB in one result cannot be built here, so this feeds
// lib/result.js the parts the native side sends (src/convert/lanes.rs) for the same rows with
// 32-bit end offsets and with 64-bit ones ("wide", as past 4 GiB), and checks both decode alike.
// The 32-bit layout is checked against the server in types-results.test.js.

const { buildRows } = require('../lib/result')

const fields = [{ name: 'id' }, { name: 't' }]
const texts = ['a', '', 'é😀', null, 'xyz']
const text = Buffer.from(texts.filter((t) => t !== null).join(''))

/** The result as the native side would send it: row 0 in the JSON part, rows 1… in lanes. */
function payload (wide) {
  const ends = []
  let end = 0
  for (const t of texts.slice(1)) ends.push((end += t === null ? 0 : Buffer.byteLength(t)))
  const endBytes = wide ? Buffer.from(new Float64Array(ends).buffer) : Buffer.from(new Uint32Array(ends).buffer)
  const ids = Buffer.from(new Int32Array([2, 3, 4, 5]).buffer)
  const nulls = Buffer.from(texts.slice(1).map((t) => (t === null ? 1 : 0)))
  const lanes = [[0, 'i', 0, -1], [1, 's', 1, 2, 0, wide ? 1 : 0, 3]]
  const partTexts = [JSON.stringify([[1], ['a']]), ids, endBytes, text.subarray(1), nulls]
  return { n: 5, parts: 5, lanesFrom: 1, lanes, laneParts: 4, partTexts }
}

test('a text lane with 64-bit end offsets (past 4 GiB) decodes as one with 32-bit offsets', () => {
  const expected = texts.map((t, i) => ({ id: i + 1, t }))
  expect(buildRows(payload(false), fields, null, false)).toEqual(expected)
  expect(buildRows(payload(true), fields, null, false)).toEqual(expected)
  expect(buildRows(payload(true), fields, null, true)).toEqual(expected.map((r) => [r.id, r.t]))
})
