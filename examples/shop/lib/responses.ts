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

// Prisma's codes, PostgreSQL's SQLSTATEs (passed through when an adapter cannot classify an error)
// and SQLite's messages: over HTTP libSQL sends no extended SQLite code (a TODO in @libsql/client),
// so Prisma's adapter reports a unique or foreign-key violation there as a generic database error.
const UNIQUE = { codes: ["P2002", "23505"], message: "UNIQUE constraint failed" };
const FOREIGN_KEY = { codes: ["P2003", "23503"], message: "FOREIGN KEY constraint failed" };

/** What a failed write ran into, if it is something the caller caused. */
export function failure(error: unknown): Failure | undefined {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  const is = (kind: { codes: string[]; message: string }) =>
    kind.codes.includes(String(code)) || (typeof message === "string" && message.includes(kind.message));
  if (is(UNIQUE)) return "unique";
  if (is(FOREIGN_KEY)) return "foreign_key";
  if (code === "P2025") return "not_found";
  return undefined;
}
