// Prisma's libSQL driver adapter (@prisma/adapter-libsql), unpatched, against a sandbox database: the
// adapter Prisma Client runs its queries through, given the URL the Turso API handed out and a token.
// Input: ONECLICK_CLIENT_CONFIG = {"url", "token"}. Prints one JSON object.
"use strict";
const { PrismaLibSql } = require("@prisma/adapter-libsql");

const config = JSON.parse(process.env.ONECLICK_CLIENT_CONFIG);
const text = { scalarType: "string", arity: "scalar" };
const int = { scalarType: "int", arity: "scalar" };
const float = { scalarType: "float", arity: "scalar" };

async function attempt(step) {
  try {
    return { ok: await step() };
  } catch (error) {
    return { error: error.name, kind: error.cause?.kind ?? null, message: String(error.message) };
  }
}

async function main() {
  const adapter = await new PrismaLibSql({ url: config.url, authToken: config.token }).connect();
  const out = {};
  out.script = await attempt(async () => {
    await adapter.executeScript(
      'CREATE TABLE "Product" (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, price REAL);' +
        'CREATE TABLE "Order" (id INTEGER PRIMARY KEY, product INTEGER NOT NULL REFERENCES "Product"(id));',
    );
    return true;
  });
  out.insert = await attempt(() =>
    adapter.executeRaw({
      sql: 'INSERT INTO "Product" (name, price) VALUES (?, ?), (?, ?)',
      args: ["pen", 1.5, "ink", 4],
      argTypes: [text, float, text, float],
    }),
  );
  out.query = await attempt(() =>
    adapter.queryRaw({ sql: 'SELECT id, name, price FROM "Product" WHERE price > ? ORDER BY id', args: [1], argTypes: [int] }),
  );
  out.commit = await attempt(async () => {
    const tx = await adapter.startTransaction();
    await tx.executeRaw({ sql: 'INSERT INTO "Order" (product) VALUES (?)', args: [1], argTypes: [int] });
    await tx.commit();
    return (await adapter.queryRaw({ sql: 'SELECT count(*) AS n FROM "Order"', args: [], argTypes: [] })).rows;
  });
  out.rollback = await attempt(async () => {
    const tx = await adapter.startTransaction();
    await tx.executeRaw({ sql: 'INSERT INTO "Order" (product) VALUES (?)', args: [2], argTypes: [int] });
    await tx.rollback();
    return (await adapter.queryRaw({ sql: 'SELECT count(*) AS n FROM "Order"', args: [], argTypes: [] })).rows;
  });
  out.unique = await attempt(() =>
    adapter.executeRaw({ sql: 'INSERT INTO "Product" (name) VALUES (?)', args: ["pen"], argTypes: [text] }),
  );
  out.missingTable = await attempt(() => adapter.queryRaw({ sql: "SELECT * FROM nowhere", args: [], argTypes: [] }));
  await adapter.dispose();
  process.stdout.write(JSON.stringify(out));
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error));
  process.exit(1);
});
