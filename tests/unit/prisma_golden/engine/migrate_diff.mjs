// `prisma migrate diff --from-empty --to-schema SCHEMA --script` with Prisma's own schema engine (its
// WebAssembly build, which needs no download), for the golden files next door:
//   node migrate_diff.mjs path/to/schema.prisma sqlite|postgres > out.sql
// Run from a directory where `npm install @prisma/schema-engine-wasm` was done. The stand-in driver
// adapter only names the provider: a diff from empty never reaches a database.
import fs from 'node:fs'
import * as engineModule from './node_modules/@prisma/schema-engine-wasm/schema_engine_bg.js'

const wasm = fs.readFileSync('./node_modules/@prisma/schema-engine-wasm/schema_engine_bg.wasm')
const { instance } = await WebAssembly.instantiate(wasm, { './schema_engine_bg.js': engineModule })
engineModule.__wbg_set_wasm(instance.exports)
instance.exports.__wbindgen_start()

const [schemaPath, provider] = process.argv.slice(2)
let schema = fs.readFileSync(schemaPath, 'utf8').replace(/^\s*url\s*=.*$/m, '') // Prisma 7: no url here
if (provider === 'postgres') schema = schema.replace('provider = "sqlite"', 'provider = "postgresql"')

const ok = (value) => ({ ok: true, value })
const unused = () => { throw new Error('a diff from empty needs no database') }
const connection = {
  provider,
  adapterName: 'stand-in',
  // PostgreSQL: the engine asks for the server version first.
  queryRaw: async () => ok({ columnNames: ['exists', 'version', 'numeric_version'], columnTypes: [5, 7, 0], rows: [[true, 'PostgreSQL 16', 160000]] }),
  executeRaw: async () => ok(0),
  executeScript: async () => ok(undefined),
  startTransaction: unused,
  dispose: async () => {},
  getConnectionInfo: () => ok({ schemaName: provider === 'postgres' ? 'public' : 'main', maxBindValues: 999, supportsRelationJoins: false }),
}
const adapter = { provider, adapterName: 'stand-in', connect: async () => ok(connection), connectToShadowDb: unused }
const engine = await engineModule.SchemaEngine.new({ datamodels: [['schema.prisma', schema]] }, () => {}, adapter)
const result = await engine.diff({
  from: { tag: 'empty' },
  to: { tag: 'schemaDatamodel', files: [{ path: 'schema.prisma', content: schema }] },
  script: true,
  exitCode: null,
  filters: { externalTables: [], externalEnums: [] },
})
process.stdout.write(result.stdout)
