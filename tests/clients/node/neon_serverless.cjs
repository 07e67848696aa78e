// @neondatabase/serverless (pinned in tools/node), unpatched, against the sandbox's SQL-over-HTTP
// endpoint. Config (JSON in ONECLICK_CLIENT_CONFIG): url (a connection string the Neon API handed
// out), badUrl (the same with a wrong password), fetchEndpoint (the sandbox's /sql URL, given to
// the driver through its documented neonConfig.fetchEndpoint). Prints one JSON object: per step
// {ok: value} or {error: {name, message, code, position}}.
const { neon, neonConfig } = require("@neondatabase/serverless");

const config = JSON.parse(process.env.ONECLICK_CLIENT_CONFIG);
neonConfig.fetchEndpoint = () => config.fetchEndpoint;

async function main() {
  const sql = neon(config.url);
  const out = {};
  const step = async (name, run) => {
    try {
      out[name] = { ok: await run() };
    } catch (e) {
      out[name] = { error: { name: e.name, message: e.message, code: e.code, position: e.position } };
    }
  };
  await step("template", () => sql`SELECT ${41}::int + 1 AS n, ${"it's"} AS s, ${null}::text AS nothing`);
  await step("query", () => sql.query("SELECT $1::text || '!' AS shout", ["hey"]));
  await step("create", () =>
    sql`CREATE TABLE item (id serial PRIMARY KEY, name text NOT NULL, price numeric(8,2),
        tags text[], meta jsonb, made timestamptz DEFAULT '2026-01-02T03:04:05Z', big bigint)`,
  );
  await step("insert", async () => {
    const full = await sql.query(
      "INSERT INTO item (name, price, tags, meta, big) VALUES ($1, $2, $3, $4, $5), ($6, $7, $8, $9, $10) RETURNING id",
      ["lamp", 19.5, ["home", "light"], { watts: 40 }, "9007199254740993", "desk", 120, [], null, null],
      { fullResults: true },
    );
    const fields = full.fields.map((f) => ({ name: f.name, dataTypeID: f.dataTypeID }));
    return { command: full.command, rowCount: full.rowCount, rows: full.rows, fields };
  });
  await step("select", async () => {
    const rows = await sql`SELECT id, name, price, tags, meta, made, big FROM item ORDER BY id`;
    return rows.map((r) => ({ ...r, madeIsDate: r.made instanceof Date, made: r.made.toISOString() }));
  });
  await step("arrayMode", () => sql.query("SELECT 1 AS a, 'b' AS b", [], { arrayMode: true }));
  await step("transaction", () =>
    sql.transaction(
      (tx) => [tx`INSERT INTO item (name) VALUES ('chair')`, tx`SELECT count(*)::int AS n FROM item`],
      { isolationLevel: "Serializable" },
    ),
  );
  await step("failedTransaction", () =>
    sql.transaction([sql`INSERT INTO item (name) VALUES ('ghost')`, sql`INSERT INTO item (name) VALUES (NULL)`]),
  );
  await step("afterFailed", () => sql`SELECT count(*)::int AS n FROM item WHERE name = 'ghost'`);
  await step("readOnly", () => sql.transaction([sql`DELETE FROM item`], { readOnly: true }));
  await step("sqlError", () => sql`SELECT nope FROM item`);
  await step("wrongPassword", () => neon(config.badUrl)`SELECT 1`);
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e));
  process.exit(1);
});
