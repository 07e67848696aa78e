// JSON answers shared by the API routes, so every error has the same shape:
// {"error": {"code", "message", "fields"?}}.
import { NextResponse } from "next/server";

export function problem(status: number, code: string, message: string, fields?: Record<string, string>) {
  return NextResponse.json({ error: { code, message, ...(fields ? { fields } : {}) } }, { status });
}

export const notFound = (what: string) => problem(404, "not_found", `${what} does not exist`);

/** The request's JSON body, or null when it is not a JSON object. */
export async function jsonBody(request: Request): Promise<Record<string, unknown> | null> {
  try {
    const body: unknown = await request.json();
    return body !== null && typeof body === "object" && !Array.isArray(body) ? (body as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export type Failure = "unique" | "foreign_key" | "not_found";

/** What a failed write ran into, from Prisma's error code or, for libSQL, the database's message:
 * over HTTP libSQL sends no extended SQLite code (a TODO in @libsql/client), so Prisma's adapter
 * reports a unique or foreign-key violation as a generic database error. */
export function failure(error: unknown): Failure | undefined {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (code === "P2002" || (typeof message === "string" && message.includes("UNIQUE constraint failed"))) return "unique";
  if (code === "P2003" || (typeof message === "string" && message.includes("FOREIGN KEY constraint failed"))) {
    return "foreign_key";
  }
  if (code === "P2025") return "not_found";
  return undefined;
}
