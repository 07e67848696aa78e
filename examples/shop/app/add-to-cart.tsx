"use client";

import { useState } from "react";

import { addToCart, type CartLine } from "./cart/storage";

export function AddToCart({ product }: { product: Omit<CartLine, "quantity"> }) {
  const [added, setAdded] = useState(false);
  return (
    <button
      onClick={() => {
        addToCart(product);
        setAdded(true);
      }}
    >
      {added ? "Added ✓" : "Add to cart"}
    </button>
  );
}
