'use strict'
// Column types and values as Prisma's postgres driver adapters report them (@prisma/adapter-pg
// is the reference): a Prisma ColumnType per type OID, and the two rare values whose pgwarden
// form differs from what Prisma expects (money without its currency sign, timetz without its
// offset). The native side writes the rest in Prisma's form already (the Prisma value style,
// src/convert/prisma.rs): timestamps as ISO text with +00:00, int8 as text, json and arrays of
// enums as text, so rows of the common types pass through untouched.

// Prisma's ColumnTypeEnum (driver-adapter-utils).
const T = {
  Int32: 0, Int64: 1, Float: 2, Double: 3, Numeric: 4, Boolean: 5, Character: 6, Text: 7, Date: 8, Time: 9,
  DateTime: 10, Json: 11, Enum: 12, Bytes: 13, Uuid: 15,
  Int32Array: 64, Int64Array: 65, FloatArray: 66, DoubleArray: 67, NumericArray: 68, BooleanArray: 69,
  CharacterArray: 70, TextArray: 71, DateArray: 72, TimeArray: 73, DateTimeArray: 74, JsonArray: 75,
  BytesArray: 77, UuidArray: 78
}

/** Built-in type OIDs → column type. */
const COLUMN_TYPES = new Map([
  [21, T.Int32], [23, T.Int32], [20, T.Int64], [26, T.Int64], [700, T.Float], [701, T.Double],
  [1700, T.Numeric], [790, T.Numeric], [16, T.Boolean], [1082, T.Date], [1083, T.Time], [1266, T.Time],
  [1114, T.DateTime], [1184, T.DateTime], [114, T.Json], [3802, T.Json], [2950, T.Uuid], [17, T.Bytes],
  ...[25, 1043, 1042, 19, 1560, 1562, 869, 650, 142].map((oid) => [oid, T.Text]),
  [1005, T.Int32Array], [1007, T.Int32Array], [1016, T.Int64Array], [1028, T.Int64Array],
  [1021, T.FloatArray], [1022, T.DoubleArray], [1231, T.NumericArray], [791, T.NumericArray],
  [1000, T.BooleanArray], [1002, T.CharacterArray],
  ...[1009, 1015, 1014, 1561, 1563, 1041, 651, 143].map((oid) => [oid, T.TextArray]),
  [1182, T.DateArray], [1183, T.TimeArray], [1115, T.DateTimeArray], [1185, T.DateTimeArray],
  [199, T.JsonArray], [3807, T.JsonArray], [1001, T.BytesArray], [2951, T.UuidArray]
])

/** OIDs from here on are types a database defined (enums, extensions): read as text. */
const FIRST_USER_OID = require('../native').firstUserOid()

/** Names of built-in types Prisma cannot read, for its "Unsupported column type" error. */
const TYPE_NAMES = new Map([
  [18, 'char'], [24, 'regproc'], [600, 'point'], [601, 'lseg'], [602, 'path'], [603, 'box'], [604, 'polygon'],
  [628, 'line'], [718, 'circle'], [829, 'macaddr'], [774, 'macaddr8'], [1186, 'interval'], [1187, '_interval'],
  [2205, 'regclass'], [2206, 'regtype'], [3614, 'tsvector'], [3615, 'tsquery'], [3904, 'int4range'],
  [3906, 'numrange'], [3908, 'tsrange'], [3910, 'tstzrange'], [3912, 'daterange'], [3926, 'int8range'],
  [2249, 'record'], [3220, 'pg_lsn'], [5038, 'pg_snapshot'], [2970, 'txid_snapshot'], [1270, '_timetz']
])

class UnsupportedType extends Error {
  constructor (oid) {
    super()
    this.type = TYPE_NAMES.get(oid) || 'Unknown'
    this.message = `Unsupported column type ${this.type}`
  }
}

/** The Prisma column type of a result column of type `oid`. */
function columnType (oid) {
  const t = COLUMN_TYPES.get(oid)
  if (t !== undefined) return t
  if (oid >= FIRST_USER_OID) return T.Text
  throw new UnsupportedType(oid)
}

const each = (f) => (v) => (Array.isArray(v) ? v.map((x) => (x === null ? x : each(f)(x))) : f(v))

/** Per OID, the conversion of a non-null value to Prisma's form (none: the value is final). */
const READERS = new Map([
  [790, (v) => v.slice(1)], [791, each((v) => v.slice(1))],
  [1266, (v) => v.replace(/[+-]\d{2}(:\d{2}){0,2}$/, '')]
])

/** The value conversion for columns of type `oid`, or null when values are final. */
const valueReader = (oid) => READERS.get(oid) || null

module.exports = { columnType, valueReader, UnsupportedType, ColumnType: T }
