// A database round trip through Prisma, for oneclick's health check after a deploy.
import { NextResponse } from "next/server";

import { databaseKind, withDb } from "@/lib/db";

export const dynamic = "force-dynamic";

export async function GET() {
  let database = "unconfigured";
  const started = Date.now();
  try {
    database = databaseKind();
    await withDb((db) => db.$queryRaw`SELECT 1`);
    return NextResponse.json({ status: "ok", database, latencyMs: Date.now() - started });
  } catch (error) {
    // The cause goes to the log only: driver messages may name hosts or users.
    console.error("health check failed:", error);
    return NextResponse.json({ status: "error", database, error: "the database did not answer" }, { status: 503 });
  }
}
