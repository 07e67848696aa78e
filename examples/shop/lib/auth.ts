// NextAuth (v4) with one demo credentials provider: a name and the shop's admin password
// (SHOP_ADMIN_PASSWORD). No email, no database tables: the session is a signed JWT cookie, keyed by
// NEXTAUTH_SECRET, which oneclick generates once per app.
import type { NextAuthOptions, Session } from "next-auth";
import { getServerSession } from "next-auth";
import CredentialsProvider from "next-auth/providers/credentials";

/** Built per request: the env vars come from the request's bindings on Workers. */
export function authOptions(): NextAuthOptions {
  return {
    secret: process.env.NEXTAUTH_SECRET,
    session: { strategy: "jwt" },
    providers: [
      CredentialsProvider({
        name: "Shop admin",
        credentials: {
          name: { label: "Name", type: "text" },
          password: { label: "Password", type: "password" },
        },
        async authorize(credentials) {
          const expected = process.env.SHOP_ADMIN_PASSWORD;
          const name = credentials?.name?.trim();
          // With no password configured nobody can sign in: the write routes stay closed.
          if (!expected || !name || !(await sameText(credentials?.password ?? "", expected))) return null;
          return { id: name, name };
        },
      }),
    ],
  };
}

/** Compares through SHA-256 digests so the time taken says nothing about the password. */
async function sameText(given: string, expected: string): Promise<boolean> {
  const digest = async (text: string) =>
    new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  const [a, b] = await Promise.all([digest(given), digest(expected)]);
  return a.every((byte, i) => byte === b[i]);
}

export function currentSession(): Promise<Session | null> {
  return getServerSession(authOptions());
}
