// u64 header fields (statistics) as two u32 halves of an Int32Array: plain
// stores for display, exact below 2^53, no BigInt.

export function storeU64(words: Int32Array, index: number, value: number): void {
  words[index] = value % 0x1_0000_0000 | 0;
  words[index + 1] = Math.floor(value / 0x1_0000_0000) | 0;
}

export function loadU64(words: Int32Array, index: number): number {
  return (words[index]! >>> 0) + (words[index + 1]! >>> 0) * 0x1_0000_0000;
}
