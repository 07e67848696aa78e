// @tursodatabase/api (Turso's Platform API client), unpatched, pointed at the sandbox by its
// documented `baseUrl` option. Input: ONECLICK_CLIENT_CONFIG = {"phase", "baseUrl", "org", "token",
// "database", "dbToken"}. Phase "manage" creates and inspects; phase "use" connects with
// @libsql/client to the hostname the API returned, rotates the tokens and deletes the database
// (between the two the test installs the new host name). Prints one JSON object.
"use strict";
const { createClient: createTurso } = require("@tursodatabase/api");
const { createClient: createLibsql } = require("@libsql/client");

const config = JSON.parse(process.env.ONECLICK_CLIENT_CONFIG);

async function attempt(step) {
  try {
    return { ok: await step() };
  } catch (error) {
    return {
      error: error.constructor.name,
      isTursoClientError: error.name === "TursoClientError", // the CommonJS build exports createClient only
      status: error.status ?? null,
      code: error.code ?? null,
      message: String(error.message),
    };
  }
}

async function manage(turso, out) {
  const db = config.database;
  out.locations = await attempt(async () => (await turso.locations.list()).map((l) => l.code).sort());
  out.groupsBefore = await attempt(async () => (await turso.groups.list()).map((g) => g.name).sort());
  out.groupCreate = await attempt(() => turso.groups.create("analytics", "aws-eu-west-1"));
  out.groupGet = await attempt(() => turso.groups.get("analytics"));
  out.groupToken = await attempt(async () => typeof (await turso.groups.createToken("analytics", { expiration: "1h", authorization: "read-only" })).jwt);
  out.groupRotate = await attempt(async () => (await turso.groups.rotateTokens("analytics")) ?? null);
  out.groupDelete = await attempt(async () => (await turso.groups.delete("analytics")).name);
  out.groupGone = await attempt(() => turso.groups.get("analytics"));
  out.badLocation = await attempt(() => turso.groups.create("far", "mars-1"));
  out.create = await attempt(() => turso.databases.create(db, { group: "default" }));
  out.duplicate = await attempt(() => turso.databases.create(db, { group: "default" }));
  out.list = await attempt(async () => (await turso.databases.list()).map((d) => d.name));
  out.get = await attempt(() => turso.databases.get(db));
  out.token = await attempt(() => turso.databases.createToken(db, { authorization: "full-access" }));
  out.missing = await attempt(() => turso.databases.get("no-such-db"));
  const intruder = createTurso({ org: config.org, token: "not-the-api-token", baseUrl: config.baseUrl });
  out.badApiToken = await attempt(() => intruder.databases.list());
}

async function use(turso, out) {
  const url = `libsql://${(await turso.databases.get(config.database)).hostname}`;
  const run = (sql) => {
    const client = createLibsql({ url, authToken: config.dbToken });
    return client.execute(sql).finally(() => client.close());
  };
  out.query = await attempt(async () => (await run("SELECT 40 + 2 AS answer")).rows[0].answer);
  out.rotate = await attempt(async () => (await turso.databases.rotateTokens(config.database)) ?? null);
  out.afterRotate = await attempt(() => run("SELECT 1"));
  out.delete = await attempt(() => turso.databases.delete(config.database));
  out.afterDelete = await attempt(() => turso.databases.get(config.database));
}

async function main() {
  const turso = createTurso({ org: config.org, token: config.token, baseUrl: config.baseUrl });
  const out = {};
  await (config.phase === "manage" ? manage(turso, out) : use(turso, out));
  process.stdout.write(JSON.stringify(out));
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error));
  process.exit(1);
});
