// A Prisma client for one request. Workers forbid sharing I/O objects between requests: a client
// kept at module scope (the usual Next.js singleton) hangs once two requests use it at the same time,
// so every request makes its own client and adapter (about 10 ms) and closes it when done.
import { PrismaLibSql } from "@prisma/adapter-libsql/web";
import { PrismaNeonHttp } from "@prisma/adapter-neon";
import { neonConfig } from "@neondatabase/serverless";

import { PrismaClient } from "@/generated/prisma/client";

export type Database = PrismaClient;

/** Which database the deployment was given: Turso (libSQL) or PostgreSQL (Neon, your own). */
export function databaseKind(): "turso" | "postgresql" {
  if (process.env.TURSO_DATABASE_URL) return "turso";
  if (process.env.DATABASE_URL) return "postgresql";
  throw new Error("no database configured: set TURSO_DATABASE_URL (Turso) or DATABASE_URL (PostgreSQL)");
}

function adapter() {
  if (databaseKind() === "turso") {
    return new PrismaLibSql({
      url: process.env.TURSO_DATABASE_URL as string,
      authToken: process.env.TURSO_AUTH_TOKEN,
    });
  }
  // Neon's SQL over HTTP: one fetch per query, nothing to keep open between requests. Its endpoint
  // follows from the connection string's host (https://api.<host>/sql); NEON_HTTP_ENDPOINT names
  // another one, e.g. a local stand-in for Neon.
  if (process.env.NEON_HTTP_ENDPOINT) neonConfig.fetchEndpoint = process.env.NEON_HTTP_ENDPOINT;
  return new PrismaNeonHttp(process.env.DATABASE_URL as string, {});
}

/** Runs `work` with a fresh client and always disconnects it. */
export async function withDb<T>(work: (db: Database) => Promise<T>): Promise<T> {
  const db = new PrismaClient({ adapter: adapter() });
  try {
    return await work(db);
  } finally {
    await db.$disconnect();
  }
}
