// GET, PATCH (signed in) and DELETE (signed in) of one product.
import { NextResponse } from "next/server";

import { Prisma } from "@/generated/prisma/client";
import { currentSession } from "@/lib/auth";
import { withDb } from "@/lib/db";
import { fieldErrors, productColumns, productId, updateProduct } from "@/lib/products";
import { failure, jsonBody, notFound, problem } from "@/lib/responses";

export const dynamic = "force-dynamic";

type Context = { params: Promise<{ id: string }> };

export async function GET(_request: Request, { params }: Context) {
  const id = productId((await params).id);
  if (id === null) return notFound("this product");
  const product = await withDb((db) => db.product.findUnique({ where: { id }, select: productColumns }));
  return product ? NextResponse.json(product) : notFound(`product ${id}`);
}

export async function PATCH(request: Request, { params }: Context) {
  if (!(await currentSession())) return problem(401, "unauthorized", "sign in to change products");
  const id = productId((await params).id);
  if (id === null) return notFound("this product");
  const body = await jsonBody(request);
  if (body === null) return problem(400, "invalid", "the body must be a JSON object", { body: "a JSON object" });
  const parsed = updateProduct.safeParse(body);
  if (!parsed.success) return problem(400, "invalid", "some fields are not valid", fieldErrors(parsed.error));
  const { attributes, ...rest } = parsed.data;
  const data: Prisma.ProductUncheckedUpdateInput = { ...rest };
  if (attributes !== undefined) data.attributes = attributes === null ? Prisma.DbNull : (attributes as Prisma.InputJsonObject);
  try {
    const product = await withDb((db) => db.product.update({ where: { id }, data, select: productColumns }));
    return NextResponse.json(product);
  } catch (error) {
    const kind = failure(error);
    if (kind === "not_found") return notFound(`product ${id}`);
    if (kind === "foreign_key") return problem(400, "invalid", "no such category", { categoryId: "no such category" });
    if (kind === "unique") return problem(409, "conflict", "a product with this sku exists", { sku: "already used" });
    throw error;
  }
}

export async function DELETE(_request: Request, { params }: Context) {
  if (!(await currentSession())) return problem(401, "unauthorized", "sign in to change products");
  const id = productId((await params).id);
  if (id === null) return notFound("this product");
  try {
    await withDb((db) => db.product.delete({ where: { id } }));
    return new NextResponse(null, { status: 204 });
  } catch (error) {
    if (failure(error) === "not_found") return notFound(`product ${id}`);
    if (failure(error) === "foreign_key") return problem(409, "conflict", `product ${id} is in orders; it cannot be deleted`);
    throw error;
  }
}
