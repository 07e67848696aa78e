import type { Metadata } from "next";
import Link from "next/link";
import type { ReactNode } from "react";

import "./globals.css";

const appName = process.env.NEXT_PUBLIC_APP_NAME ?? "Shop";

export const metadata: Metadata = { title: appName, description: "An example shop deployed by oneclick" };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <header>
          <strong>
            <Link href="/">{appName}</Link>
          </strong>
          <Link href="/">Products</Link>
          <Link href="/cart">Cart</Link>
          <a href="/api/auth/signin">Sign in</a>
        </header>
        <main>{children}</main>
      </body>
    </html>
  );
}
