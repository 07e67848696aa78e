"use client";

import { useEffect, useState } from "react";

import { money } from "../format";
import { type CartLine, readCart, writeCart } from "./storage";

export default function CartPage() {
  const [lines, setLines] = useState<CartLine[] | null>(null);
  useEffect(() => setLines(readCart()), []);

  if (lines === null) return <p className="muted">Loading…</p>;
  if (lines.length === 0) return <p>Your cart is empty.</p>;

  const remove = (id: number) => {
    const next = lines.filter((l) => l.id !== id);
    writeCart(next);
    setLines(next);
  };
  const total = lines.reduce((sum, l) => sum + l.priceCents * l.quantity, 0);
  return (
    <>
      <h1>Cart</h1>
      <table>
        <tbody>
          {lines.map((l) => (
            <tr key={l.id}>
              <td>{l.name}</td>
              <td>× {l.quantity}</td>
              <td className="price">{money(l.priceCents * l.quantity)}</td>
              <td>
                <button onClick={() => remove(l.id)}>Remove</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="price">Total {money(total)}</p>
    </>
  );
}
