// The cart lives in the browser (localStorage): it needs no account and no table.
export type CartLine = { id: number; name: string; priceCents: number; quantity: number };

const KEY = "shop-cart";

export function readCart(): CartLine[] {
  try {
    const lines: unknown = JSON.parse(localStorage.getItem(KEY) ?? "[]");
    return Array.isArray(lines) ? (lines as CartLine[]) : [];
  } catch {
    return [];
  }
}

export function writeCart(lines: CartLine[]): void {
  localStorage.setItem(KEY, JSON.stringify(lines));
}

export function addToCart(product: Omit<CartLine, "quantity">): void {
  const lines = readCart();
  const line = lines.find((l) => l.id === product.id);
  if (line) line.quantity += 1;
  else lines.push({ ...product, quantity: 1 });
  writeCart(lines);
}
