// The product list, read from the database on every request.
import { withDb } from "@/lib/db";

import { AddToCart } from "./add-to-cart";
import { money } from "./format";

export const dynamic = "force-dynamic";

export default async function Home() {
  const products = await withDb((db) =>
    db.product.findMany({
      select: { id: true, name: true, priceCents: true, inStock: true, category: { select: { name: true } } },
      orderBy: { name: "asc" },
    }),
  );
  return (
    <>
      <h1>Products</h1>
      <p className="muted">{products.length} products</p>
      <ul className="grid">
        {products.map((p) => (
          <li key={p.id} className="card">
            <h3>{p.name}</h3>
            <p className="muted">{p.category?.name ?? "Uncategorised"}</p>
            <p className="price">{money(p.priceCents)}</p>
            {p.inStock ? (
              <AddToCart product={{ id: p.id, name: p.name, priceCents: p.priceCents }} />
            ) : (
              <span className="muted">Out of stock</span>
            )}
          </li>
        ))}
      </ul>
    </>
  );
}
