// What the product routes accept and answer: validation with field messages, and the JSON shape.
import { z } from "zod";

const jsonObject = z.record(z.string(), z.unknown(), { error: "a JSON object or null" });

// "required" for a missing field, else the type wanted (zod's default names both types).
const typed = (wanted: string) => ({
  error: (issue: { input?: unknown }) => (issue.input === undefined ? "required" : `must be ${wanted}`),
});

const fields = {
  sku: z
    .string(typed("text"))
    .trim()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, "1 to 64 letters, digits, '-' or '_'"),
  name: z.string(typed("text")).trim().min(1, "must not be empty").max(200, "at most 200 characters"),
  priceCents: z.number(typed("a number")).int("a whole number of cents").min(0, "must not be negative").max(2_147_483_647, "too large"),
  inStock: z.boolean(typed("true or false")),
  categoryId: z.number(typed("a category id or null")).int().positive("must be a category id").nullable(),
  attributes: jsonObject.nullable(),
};

export const createProduct = z.strictObject({
  ...fields,
  inStock: fields.inStock.optional(),
  categoryId: fields.categoryId.optional(),
  attributes: fields.attributes.optional(),
});

export const updateProduct = z
  .strictObject(fields)
  .partial()
  .refine((value) => Object.keys(value).length > 0, { message: "give at least one field to change" });

/** Field name → message, for a 400 answer. */
export function fieldErrors(error: z.ZodError): Record<string, string> {
  const out: Record<string, string> = {};
  for (const issue of error.issues) {
    const keys = issue.code === "unrecognized_keys" ? issue.keys : [issue.path.join(".") || "body"];
    for (const key of keys) out[key] ??= issue.code === "unrecognized_keys" ? "unknown field" : issue.message;
  }
  return out;
}

/** The columns a product answer carries (the thumbnail bytes are left out). */
export const productColumns = {
  id: true,
  sku: true,
  name: true,
  priceCents: true,
  inStock: true,
  attributes: true,
  categoryId: true,
  createdAt: true,
  updatedAt: true,
} as const;

/** A product id from the URL, or null when it is not a positive integer. */
export function productId(raw: string): number | null {
  return /^[1-9][0-9]{0,9}$/.test(raw) && Number(raw) <= 2_147_483_647 ? Number(raw) : null;
}
