// Runs the graphql-http server audits against a running learngraph and prints each result.
// Usage: node audit.mjs http://127.0.0.1:PORT/graphql
// Exits 1 when a MUST or a SHOULD audit fails (MAY audits are reported, not required).
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs URL');
  process.exit(2);
}
const counts = { MUST: [0, 0], SHOULD: [0, 0], MAY: [0, 0] };
let failed = 0;
for (const audit of serverAudits({ url })) {
  const result = await audit.fn();
  const level = audit.name.split(' ')[0];
  const ok = result.status === 'ok';
  counts[level][1] += 1;
  if (ok) counts[level][0] += 1;
  if (!ok) {
    console.log(`${result.status.toUpperCase()} ${audit.name}: ${result.reason}`);
    if (level !== 'MAY') failed += 1;
  }
}
for (const [level, [ok, all]] of Object.entries(counts)) console.log(`${level}: ${ok}/${all}`);
process.exit(failed ? 1 : 0);
