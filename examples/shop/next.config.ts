import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  // libSQL's web client loads these two through conditional exports that Next's file tracing
  // misses; without them the Worker bundle fails to resolve them at run time.
  outputFileTracingIncludes: {
    "/*": ["./node_modules/@libsql/isomorphic-ws/**/*", "./node_modules/@libsql/isomorphic-fetch/**/*"],
  },
};

export default nextConfig;
