// What would `prisma migrate deploy` do against this database? Asked of Prisma's own schema engine
// (WebAssembly build) through Prisma's real driver adapters:
//   node deploy_check.mjs postgres postgresql://USER@HOST/DB path/to/migrations
//   node deploy_check.mjs libsql file:/path/app.db path/to/migrations [token]
// Prints the engine's migration-history diagnosis and the migrations it applied (none, if in sync).
import fs from 'node:fs'
import path from 'node:path'
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils'
import * as engineModule from './node_modules/@prisma/schema-engine-wasm/schema_engine_bg.js'

const wasm = fs.readFileSync('./node_modules/@prisma/schema-engine-wasm/schema_engine_bg.wasm')
const { instance } = await WebAssembly.instantiate(wasm, { './schema_engine_bg.js': engineModule })
engineModule.__wbg_set_wasm(instance.exports)
instance.exports.__wbindgen_start()

const [kind, url, dir, token] = process.argv.slice(2)
let factory
if (kind === 'postgres') {
  const { PrismaPg } = await import('@prisma/adapter-pg')
  factory = new PrismaPg({ connectionString: url })
} else {
  const { PrismaLibSql } = await import('@prisma/adapter-libsql')
  factory = new PrismaLibSql({ url, authToken: token })
}
const schema = `datasource db {\n  provider = "${kind === 'postgres' ? 'postgresql' : 'sqlite'}"\n}\n`
const lock = path.join(dir, 'migration_lock.toml')
const migrationsList = {
  baseDir: dir,
  lockfile: { path: 'migration_lock.toml', content: fs.existsSync(lock) ? fs.readFileSync(lock, 'utf8') : null },
  shadowDbInitScript: '',
  migrationDirectories: fs
    .readdirSync(dir)
    .filter((name) => fs.statSync(path.join(dir, name)).isDirectory())
    .sort()
    .map((name) => ({
      path: name,
      migrationFile: { path: 'migration.sql', content: { tag: 'ok', value: fs.readFileSync(path.join(dir, name, 'migration.sql'), 'utf8') } },
    })),
}
const filters = { externalTables: [], externalEnums: [] }
const engine = await engineModule.SchemaEngine.new(
  { datamodels: [['schema.prisma', schema]] },
  () => {},
  bindMigrationAwareSqlAdapterFactory(factory),
)
const diagnosis = await engine.diagnoseMigrationHistory({ migrationsList, optInToShadowDatabase: false, filters })
const applied = await engine.applyMigrations({ migrationsList, filters })
console.log(JSON.stringify({ diagnosis, applied }))
process.exit(0)
