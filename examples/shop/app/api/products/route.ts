// GET: every product (?limit=, ?offset=); POST: a new one (signed in).
import { NextResponse } from "next/server";

import { Prisma } from "@/generated/prisma/client";
import { currentSession } from "@/lib/auth";
import { withDb } from "@/lib/db";
import { createProduct, fieldErrors, productColumns } from "@/lib/products";
import { failure, jsonBody, problem } from "@/lib/responses";

export const dynamic = "force-dynamic";

function bounded(raw: string | null, fallback: number, max: number): number | null {
  if (raw === null) return fallback;
  return /^[0-9]{1,6}$/.test(raw) && Number(raw) <= max ? Number(raw) : null;
}

export async function GET(request: Request) {
  const query = new URL(request.url).searchParams;
  const limit = bounded(query.get("limit"), 100, 500);
  const offset = bounded(query.get("offset"), 0, 1_000_000);
  if (limit === null || offset === null) {
    return problem(400, "invalid", "limit is 0..500 and offset 0..1000000", {
      ...(limit === null ? { limit: "a whole number from 0 to 500" } : {}),
      ...(offset === null ? { offset: "a whole number from 0 to 1000000" } : {}),
    });
  }
  const [products, total] = await withDb((db) =>
    Promise.all([
      db.product.findMany({ select: productColumns, orderBy: { id: "asc" }, take: limit, skip: offset }),
      db.product.count(),
    ]),
  );
  return NextResponse.json({ products, total });
}

export async function POST(request: Request) {
  if (!(await currentSession())) return problem(401, "unauthorized", "sign in to change products");
  const body = await jsonBody(request);
  if (body === null) return problem(400, "invalid", "the body must be a JSON object", { body: "a JSON object" });
  const parsed = createProduct.safeParse(body);
  if (!parsed.success) return problem(400, "invalid", "some fields are not valid", fieldErrors(parsed.error));
  const { attributes, ...rest } = parsed.data;
  try {
    const product = await withDb((db) =>
      db.product.create({
        data: { ...rest, attributes: attributes === null ? Prisma.DbNull : attributes as Prisma.InputJsonObject },
        select: productColumns,
      }),
    );
    return NextResponse.json(product, { status: 201, headers: { Location: `/api/products/${product.id}` } });
  } catch (error) {
    if (failure(error) === "unique") return problem(409, "conflict", "a product with this sku exists", { sku: "already used" });
    if (failure(error) === "foreign_key") return problem(400, "invalid", "no such category", { categoryId: "no such category" });
    throw error;
  }
}
