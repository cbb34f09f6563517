// After `vite build`: a .gz sibling for every .js, .css, .html and .svg (the edge serves it to a
// client that accepts gzip), and a size report (raw and gzip) on stdout.
import { gzipSync, constants } from 'node:zlib';
import { readdirSync, readFileSync, statSync, writeFileSync, unlinkSync } from 'node:fs';
import { join, relative } from 'node:path';

const out = process.env.OUTCALL_CONSOLE_OUT || new URL('../dist', import.meta.url).pathname;
const exts = /\.(js|css|html|svg)$/;
let raw = 0;
let gz = 0;
const lines = [];
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.gz')) unlinkSync(p); // stale from an earlier build
  }
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory() || !exts.test(name)) continue;
    const data = readFileSync(p);
    const z = gzipSync(data, { level: constants.Z_BEST_COMPRESSION });
    writeFileSync(p + '.gz', z);
    raw += data.length;
    gz += z.length;
    lines.push(`  ${relative(out, p).padEnd(40)} ${String(data.length).padStart(8)} B  gzip ${String(z.length).padStart(7)} B`);
  }
}
walk(out);
console.log(lines.join('\n'));
console.log(`console bundle: ${raw} B raw, ${gz} B gzip (${(raw / 1024).toFixed(1)} KiB / ${(gz / 1024).toFixed(1)} KiB) in ${out}`);
