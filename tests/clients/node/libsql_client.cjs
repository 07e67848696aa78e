// @libsql/client (the official TypeScript driver) against a sandbox database, unpatched: it is
// pointed at the sandbox only by the URL the Turso API handed out and NODE_EXTRA_CA_CERTS.
// Input: ONECLICK_CLIENT_CONFIG = {"url", "token", "badToken", "goneUrl"}. Output: one JSON object
// on stdout with what each operation returned (or the error it raised), for the test to check.
"use strict";
const { createClient, LibsqlError } = require("@libsql/client");

const config = JSON.parse(process.env.ONECLICK_CLIENT_CONFIG);

function failure(error) {
  return {
    error: error.constructor.name,
    isLibsqlError: error instanceof LibsqlError,
    code: error.code ?? null,
    message: String(error.message),
  };
}

async function attempt(step) {
  try {
    return { ok: await step() };
  } catch (error) {
    return failure(error);
  }
}

function plain(value) {
  if (value instanceof ArrayBuffer) return { hex: Buffer.from(value).toString("hex") };
  if (typeof value === "bigint") return { bigint: value.toString() };
  return value;
}

function rows(result) {
  return result.rows.map((row) => Array.from(row, plain));
}

async function main() {
  const out = {};
  const table = `t_${process.pid}`;
  const db = createClient({ url: config.url, authToken: config.token });
  out.create = await attempt(async () => {
    await db.execute(`CREATE TABLE ${table} (id INTEGER PRIMARY KEY, n INTEGER, f REAL, s TEXT, b BLOB)`);
    return true;
  });
  out.insert = await attempt(async () => {
    const r = await db.execute({
      sql: `INSERT INTO ${table} (n, f, s, b) VALUES (?, ?, ?, ?)`,
      args: [9007199254740991, 2.5, "héllo", new Uint8Array([0, 1, 255])],
    });
    return { rowsAffected: r.rowsAffected, lastInsertRowid: String(r.lastInsertRowid) };
  });
  out.named = await attempt(async () => {
    await db.execute({ sql: `INSERT INTO ${table} (n, s) VALUES (:n, :s)`, args: { n: -7, s: null } });
    return rows(await db.execute(`SELECT n, s FROM ${table} WHERE n = -7`));
  });
  out.select = await attempt(async () => {
    const r = await db.execute(`SELECT id, n, f, s, b FROM ${table} ORDER BY id`);
    return { columns: r.columns, columnTypes: r.columnTypes, rows: rows(r) };
  });
  out.bigint = await attempt(async () => {
    const big = createClient({ url: config.url, authToken: config.token, intMode: "bigint" });
    try {
      return rows(await big.execute("SELECT 9223372036854775807"));
    } finally {
      big.close();
    }
  });
  out.batch = await attempt(async () => {
    const results = await db.batch(
      [
        { sql: `INSERT INTO ${table} (n) VALUES (?)`, args: [100] },
        { sql: `INSERT INTO ${table} (n) VALUES (?)`, args: [101] },
        `SELECT count(*) FROM ${table}`,
      ],
      "write",
    );
    return rows(results[2]);
  });
  out.failedBatch = await attempt(() =>
    db.batch([`INSERT INTO ${table} (n) VALUES (200)`, "INSERT INTO no_such_table VALUES (1)"], "write"),
  );
  out.afterFailedBatch = await attempt(async () =>
    rows(await db.execute(`SELECT count(*) FROM ${table} WHERE n = 200`)),
  );
  out.sequence = await attempt(async () => {
    await db.executeMultiple(`CREATE TABLE ${table}_s (x); INSERT INTO ${table}_s VALUES (1); INSERT INTO ${table}_s VALUES (2);`);
    return rows(await db.execute(`SELECT sum(x) FROM ${table}_s`));
  });
  out.transaction = await attempt(async () => {
    const tx = await db.transaction("write");
    await tx.execute({ sql: `INSERT INTO ${table} (n) VALUES (?)`, args: [300] });
    const inside = rows(await tx.execute(`SELECT count(*) FROM ${table} WHERE n = 300`));
    const other = createClient({ url: config.url, authToken: config.token });
    const outside = rows(await other.execute(`SELECT count(*) FROM ${table} WHERE n = 300`));
    other.close();
    await tx.commit();
    const after = rows(await db.execute(`SELECT count(*) FROM ${table} WHERE n = 300`));
    return { inside, outside, after };
  });
  out.rollback = await attempt(async () => {
    const tx = await db.transaction("write");
    await tx.execute(`INSERT INTO ${table} (n) VALUES (400)`);
    await tx.rollback();
    return rows(await db.execute(`SELECT count(*) FROM ${table} WHERE n = 400`));
  });
  out.badSql = await attempt(() => db.execute("SELEC nonsense"));
  out.constraint = await attempt(() => db.execute({ sql: `INSERT INTO ${table} (id) VALUES (?)`, args: [1] }));
  db.close();
  const intruder = createClient({ url: config.url, authToken: config.badToken });
  out.badToken = await attempt(() => intruder.execute("SELECT 1"));
  intruder.close();
  const gone = createClient({ url: config.goneUrl, authToken: config.token });
  out.gone = await attempt(() => gone.execute("SELECT 1"));
  gone.close();
  process.stdout.write(JSON.stringify(out));
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error));
  process.exit(1);
});
