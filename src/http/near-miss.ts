/** Edits (insert, delete, replace, swap two neighbours) to turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      rows[i]![j] = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) rows[i]![j] = Math.min(rows[i]![j]!, rows[i - 2]![j - 2]! + 1);
    }
  }
  return rows[a.length]![b.length]!;
}

/** The field of `body` that looks like a misspelling of `name` (`inputs`, `modle`, `document`), if one does. */
export function nearMiss(name: string, body: Record<string, unknown>): string | undefined {
  const limit = name.length <= 4 ? 1 : 2;
  return Object.keys(body).find((key) => key !== name && editDistance(key.toLowerCase(), name) <= limit);
}
