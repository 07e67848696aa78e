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

/** Prisma's error code (P2002 unique, P2003 foreign key, P2025 not found), if it is one. */
export function prismaCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("P") ? code : undefined;
}
